"""Errors that stepprop reports to a user (never as a traceback)."""

from __future__ import annotations


class StepPropError(Exception):
    """Something the user can fix: a bad config, a bad name, a bad file."""


class ConfigError(StepPropError):
    """A config problem, located at ``path:line:column`` (1-based)."""

    def __init__(self, message: str, path: str = "<config>", line: int | None = None, column: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class TrainingDiverged(StepPropError):
    """A value became infinite or NaN while training."""

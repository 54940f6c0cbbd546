"""stepprop: a step-by-step backpropagation calculator.

Write a small network in YAML; stepprop prints every forward value, every
chain-rule term and every weight update of a training step, in the notation
of Matt Mazur's "A Step by Step Backpropagation Example", trains it, and
grades a student's numbers.

From Python::

    import stepprop

    net = stepprop.load()            # the post's network; or a file, or a bundled name ("xor")
    step = net.step()                # one step: step.values, .terms, .gradients, .updated
    step.values["out_o1"]            # 0.7513650695523157
    result = net.train(10_000)       # result.error, .outputs, .values, .network
    stepprop.check(net, {"out_h1": "0.5933"})   # Grades
    stepprop.check_class(net, "class.csv")       # ClassGrades: a row per student
    stepprop.check_quiz("quiz", "submissions.csv").write()   # each against their variant
    stepprop.verify(net).ok          # True
    stepprop.make_quiz(count=30, seed=2027).write("quiz")   # a variant per student

Every result has ``to_dict()`` (what ``--format json`` prints) and shows
itself in Jupyter and in rich.  A config problem raises
:class:`ConfigError`, which carries ``path``, ``line`` and ``column``; every
error stepprop reports is a :class:`StepPropError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ClassGrades",
    "ConfigError",
    "Expression",
    "Grades",
    "Network",
    "Step",
    "StepPropError",
    "TrainResult",
    "TrainingDiverged",
    "Verification",
    "answers_template",
    "check",
    "check_class",
    "check_quiz",
    "load",
    "make_quiz",
    "verify",
]

if TYPE_CHECKING:
    from .api import (
        ClassGrades,
        Expression,
        Grades,
        Network,
        Step,
        TrainResult,
        Verification,
        answers_template,
        check,
        check_class,
        check_quiz,
        load,
        make_quiz,
        verify,
    )
    from .errors import ConfigError, StepPropError, TrainingDiverged


def __getattr__(name: str) -> Any:
    # imported on first use, so that `stepprop --help` does not pay for the library
    if name in ("ConfigError", "StepPropError", "TrainingDiverged"):
        from . import errors

        return getattr(errors, name)
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'stepprop' has no attribute {name!r}")

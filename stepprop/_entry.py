"""The ``stepprop`` command's entry point: signals and the standard streams,
set up before anything heavier is imported.

SIGTERM is taken as Ctrl-C, and Ctrl-C at any moment (even while the modules
load) ends with the message "interrupted" and exit status 130, never a
traceback. A closed standard output, or one that cannot take what was
written (a full disk), is an error with exit status 1, said on stderr.
"""

from __future__ import annotations

import gc
import os
import signal
import sys

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _say(message: str, bare: bool = False) -> None:
    """A line on stderr, where one can be written."""
    try:
        if sys.stderr is not None:
            sys.stderr.write(f"{message}\n" if bare else f"stepprop: {message}\n")
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _flushed() -> str | None:
    """Flush standard output: None, or why it failed (then nothing is left
    for the interpreter to fail on at exit)."""
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
        return None
    except BrokenPipeError:
        reason = ""  # the reader went away (| head): nothing to say
    except (OSError, ValueError) as exc:
        reason = f"cannot write to standard output: {getattr(exc, 'strerror', None) or exc}"
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return reason


def main() -> None:
    # a worked example of a classroom-sized batch allocates millions of small objects
    # and frees few: the collector's default pace spends a third of the time on them
    gc.set_threshold(100_000, 50, 100)
    try:
        signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread (embedded): leave signals alone
        pass
    code: str | int | None = 0
    try:
        if sys.stdout is None:
            _say("standard output is closed; nothing can be written (use -o FILE to write a file)")
            sys.exit(EXIT_ERROR)
        import click

        from .cli import main as cli

        try:
            # not standalone: click would turn a Ctrl-C that comes while it parses
            # (before a command's own handler) into "Aborted!" and exit status 1
            returned = cli.main(prog_name="stepprop", standalone_mode=False)
            code = returned if isinstance(returned, int) else 0
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except click.Abort as exc:
            if isinstance(exc.__cause__, KeyboardInterrupt):
                raise exc.__cause__ from None
            _say("Aborted!", bare=True)  # a prompt given no answer (end of input)
            code = EXIT_ERROR
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        _say("interrupted", bare=True)
        code = EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (| head): nothing to say
        code = EXIT_ERROR
    except OSError as exc:  # click's own output (--help, --version) into a full disk
        _say(f"cannot write to standard output: {exc.strerror or exc}")
        code = EXIT_ERROR
    failed = _flushed()
    if failed is not None:
        if failed:
            _say(failed)
        if code in (0, None):
            code = EXIT_ERROR
    # the work is done and written: the interpreter's last collection would walk every
    # object the run made (the collector is paced for a large batch, above) to free
    # memory the process is about to give back; a tenth of a short run's time
    gc.freeze()
    sys.exit(code)

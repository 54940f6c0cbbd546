"""The command line: parse options, call the library, render, map errors.

Each command is a thin adapter.  Library errors (StepPropError) become a
one-line message on stderr and exit status 1; click's usage errors exit 2;
an interrupted training run exits 130.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from . import __version__
from .config import BIAS_MODES, DELTAS, MAX_CHECK_EPOCHS, MAX_STEPS, NOTATIONS
from .ops import LAYER_ACTIVATIONS, LOSSES

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130

# a parameter's name, the post's (w5) or Nielsen's (w^3_11, w^{2}_{1,12}, b^2); a list of them
_PARAM = r"[wbWB](?:\d+|\^\{?\d+\}?(?:_\{?\d+(?:,\d+)?\}?)?)"
_PARAM_NAMES = rf"^{_PARAM}(,{_PARAM})*,?$"


class _OnlyCommand(click.Command):
    """Lets ``--only`` take several names after it: ``--only w5 b2 w1``
    (as well as ``--only w5,b2`` or ``--only w5 --only b2``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        out: list[str] = []
        k = 0
        while k < len(args):
            arg = args[k]
            out.append(arg)
            k += 1
            if arg == "--only" or arg.startswith("--only="):
                if arg == "--only" and k < len(args):
                    out.append(args[k])
                    k += 1
                while k < len(args) and re.match(_PARAM_NAMES, args[k]):
                    out += ["--only", args[k]]
                    k += 1
            elif arg == "--":
                out += args[k:]
                break
        return super().parse_args(ctx, out)


def _fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the library's errors into click's (message, exit 1), never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .errors import StepPropError

        try:
            return command(*args, **kwargs)
        except StepPropError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:  # the reader went away (| head): nothing more to say
            sys.stderr.close()
            sys.exit(EXIT_ERROR)
        except OSError as exc:
            raise click.ClickException(f"cannot write the output: {exc.strerror or exc}") from None
        except RecursionError:
            raise click.ClickException("the input is nested too deeply to process") from None
        except MemoryError:
            raise click.ClickException("out of memory: the network or the run is too large") from None
        except Exception as exc:  # a bug in stepprop: say so plainly, keep the details on request
            import os
            import traceback

            if os.environ.get("STEPPROP_DEBUG"):
                traceback.print_exc()
            raise click.ClickException(
                f"internal error ({type(exc).__name__}: {exc}). This is a bug in stepprop; "
                "please report it with the config. Set STEPPROP_DEBUG=1 to see the traceback."
            ) from None

    return wrapper


def _load(config: str | None) -> Any:
    """A config by path; a bundled example by name; the post's network by default."""
    from .api import load

    return load(config)


def _load_network(config: str | None) -> Any:
    """The same, for a command that needs a network (an expression is an error that says so)."""
    from .api import load_network

    return load_network(config)


def _is_expression(loaded: Any) -> bool:
    from .api import Expression

    return isinstance(loaded, Expression)


def _given(parameter: str) -> bool:
    """Was this option given on the command line (not left at its default)?"""
    source = click.get_current_context().get_parameter_source(parameter)
    return source is not None and source is not click.core.ParameterSource.DEFAULT


def _network_options(given: dict[str, Any]) -> None:
    """A usage error for the network's options given with an expression."""
    used = [option for option, value in given.items() if value]
    if used:
        raise click.UsageError(f"{', '.join(used)}: for a network, not an expression")


class _Output:
    """Where and how a command's result goes: one place picks the writer.

    text goes to the terminal through rich, or as plain text when piped or
    written with -o; json, markdown, latex and html are written as they are.
    Files are written atomically and an existing file is replaced only with
    --force or the user's yes."""

    def __init__(self, fmt: str, digits: int, output: str | None = None, force: bool = False, fragment: bool = False):
        if output == "-":
            output = None  # the usual spelling of standard output
        self.fmt = fmt
        self.digits = digits
        self.output = output
        self.force = force
        self.fragment = fragment
        if output is not None:
            _may_write(output, force)

    def _write(self, text: str | Iterator[str]) -> None:
        """Text, or its pieces written as they come, to stdout or atomically to -o."""
        if self.output is None:
            if isinstance(text, str):
                click.echo(text, nl=not text.endswith("\n"))
            else:
                # straight to the stream: click.echo would scan every piece for colour
                # codes, and a page of a classroom batch is a hundred megabytes
                out = sys.stdout
                for piece in text:
                    out.write(piece)
                out.flush()
            return
        from .files import write_atomic

        write_atomic(self.output, text)
        click.echo(f"wrote {self.output}", err=True)

    def json(self, data: dict) -> None:
        try:
            text = json.dumps(data, indent=2, allow_nan=False)
        except ValueError:
            raise click.ClickException("a result is not a finite number; nothing was written") from None
        self._write(text + "\n")

    def show(self, result: Any, document: Callable[[], Any] | None = None) -> None:
        """A result of the library: its JSON, or its document (``document()``,
        or the result's own) in the chosen format; rich on a terminal."""
        if self.fmt == "json":
            self.json(result.to_dict())
            return
        if self.fmt == "csv":
            self._write(result.to_csv())
            return
        doc = document() if document is not None else result.document()
        if self.fmt == "text" and self.output is None and sys.stdout.isatty():
            from rich.console import Console

            from .views.rich_view import RichDocument

            Console(highlight=False).print(RichDocument(doc, self.digits))
            return
        from .api import render_chunks

        self._write(render_chunks(doc, self.fmt, self.digits, self.fragment, result._picture))


# the most epoch errors --every reports (each is a line, and kept until the end)
MAX_REPORTED = 1_000_000
FORMATS = ["text", "json", "markdown", "latex", "html"]
FORMAT_HELP = {
    "text": "text: for reading (rich on a terminal, plain when piped)",
    "json": "json: for programs",
    "markdown": "markdown, latex, html: worked examples for handouts",
    "latex": "",
    "html": "",
    "svg": "svg: the picture (the default when piped or written with -o)",
    "csv": "csv: a spreadsheet of a class's grades",
}
EXTENSIONS = {
    ".png": "an image",
    ".pdf": "an image",
    ".jpg": "an image",
    ".jpeg": "an image",
    ".gif": "an image",
    ".txt": "text",
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".tex": "latex",
    ".html": "html",
    ".htm": "html",
    ".svg": "svg",
    ".csv": "csv",
}


def _format(fmt: str, output: str | None, allowed: list[str]) -> str:
    """--format as given; if it was left at its default, what -o FILE's extension
    says (an extension it cannot write is a usage error, never a surprise)."""
    import os

    from .files import is_special

    source = click.get_current_context().get_parameter_source("fmt")
    if output is None or output == "-" or is_special(output):
        return fmt
    suffix = os.path.splitext(output)[1].lower()
    guess = EXTENSIONS.get(suffix)
    chosen = source is not click.core.ParameterSource.DEFAULT
    if guess in allowed and not chosen:
        return guess
    if guess in allowed or (chosen and guess != "an image") or (not suffix and not chosen):
        return fmt  # --format as given, under any name; no extension: the default format
    names = ", ".join(ext for ext, kind in EXTENSIONS.items() if kind in allowed)
    kind = "PDF" if suffix == ".pdf" else f"{suffix[1:].upper()} images" if guess == "an image" else f"{suffix} files"
    writes = f"-o {output}: this command does not write {kind}; it writes {', '.join(allowed)} ({names})"
    if guess == "an image" and "latex" in allowed:
        writes += "; for a PDF, write LaTeX (-o step.tex) and compile it, or HTML (-o step.html) and print it"
    elif guess == "an image" and "svg" in allowed:
        stem = os.path.splitext(os.path.basename(output))[0]
        writes += f"; write SVG (-o {stem}.svg) and convert it (a browser or rsvg-convert)"
    elif guess != "an image":
        writes += f"; give --format to write one of them under the name {output}"
    raise click.UsageError(writes)


def _batch(cfg: Any, batch: int) -> int:
    """--batch N (1-based) as an index, or a usage error."""
    from .words import count

    n = len(cfg.batches())
    if not 1 <= batch <= n:
        raise click.UsageError(f"--batch {batch}: this config has {count(n, 'batch', 'batches')}")
    return batch - 1


def _file_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-o FILE and --force."""
    command = click.option("--force", is_flag=True, help="Replace an existing output file without asking.")(command)
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False),
        default=None,
        metavar="FILE",
        help="Write to FILE instead of standard output ('-' is standard output).",
    )(command)


def _output_options(formats: list[str], files: bool = True, digits: int = 9) -> Callable[..., Any]:
    """The output flags every command shares: --format, --digits, -o, --force."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        if files:
            command = _file_options(command)
        command = click.option(
            "--digits",
            type=click.IntRange(1, 17),
            default=digits,
            show_default=True,
            help="Significant digits of printed numbers (JSON always has every digit).",
        )(command)
        command = click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default=formats[0],
            show_default=True,
            help="; ".join(FORMAT_HELP[f] for f in formats if FORMAT_HELP[f]) + ".",
        )(command)
        return command

    return decorate


def _complete(answers: bool) -> Callable[[click.Context, click.Parameter, str], list[Any]]:
    """Shell completion of a CONFIG (or ANSWERS) argument: the bundled names that
    match with the files and folders that do; the shell's own file completion
    when no bundled name matches."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
        import glob
        import os

        from click.shell_completion import CompletionItem

        from .config import bundled_answer_names, bundled_names

        names = bundled_names() + (bundled_answer_names() if answers else [])
        found = [n for n in names if n.startswith(incomplete)]
        if not found:
            return [CompletionItem(incomplete, type="file")]
        paths = sorted(p + ("/" if os.path.isdir(p) else "") for p in glob.glob(glob.escape(incomplete) + "*"))
        return [CompletionItem(n) for n in dict.fromkeys(found + paths)]

    return complete


_CONFIG = click.argument("config", required=False, metavar="[CONFIG]", shell_complete=_complete(False))
_BATCH = click.option(
    "--batch",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Which batch to take the step on (with several samples), from the config's parameters, as if it came first.",
)
_FRAGMENT = click.option(
    "--fragment",
    is_flag=True,
    help="With --format latex: only the body, no preamble (it needs amsmath, graphicx and longtable).",
)


class _OpChoice(click.Choice):
    """An activation or loss by name; another common name for one (logistic,
    mse) is refused with the name stepprop knows it by, as in a config."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from .ops import ALIASES

        known = ALIASES.get(str(value).strip().lower().replace("-", "_"))
        if value not in self.choices and known in self.choices:
            self.fail(f"'{value}' is not a name stepprop uses; did you mean '{known}'?", param, ctx)
        return super().convert(value, param, ctx)


class _Count(click.IntRange):
    """A whole number as people write large ones: 10000, 10_000, 1e4 or 1E6."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d*)?[eE]\+?\d+\s*", value):
            number = float(value)
            if number.is_integer() and number < 1e18:
                value = str(int(number))
        return super().convert(value, param, ctx)


class _Rounding(click.ParamType):
    """--round 4 (decimals) or --round 3sf (significant figures)."""

    name = "N|Nsf"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from .rounding import parse

        try:
            return parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _round_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--round",
        "round_to",
        type=_Rounding(),
        default=None,
        metavar="N|Nsf",
        help="Hand-calculation mode: round every intermediate result, half up, to N decimals "
        "(--round 4) or N significant figures (--round 3sf) before it is used.",
    )(command)


HELP = f"""stepprop {__version__}: a step-by-step backpropagation calculator.

Write a small network in YAML (weights, biases, inputs, targets, learning
rate) and stepprop prints every number of a training step in the notation of
Matt Mazur's "A Step by Step Backpropagation Example". With no CONFIG, every
command uses the post's own network.

\b
Examples:
  stepprop explain                       the post's step, every number
  stepprop explain mine.yaml --only w5   one weight's derivation
  stepprop train --epochs 10000          train the post's network
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="stepprop")
def main() -> None:
    pass


@main.command(cls=_OnlyCommand)
@_CONFIG
@_output_options(FORMATS)
@_FRAGMENT
@click.option(
    "--only", multiple=True, metavar="NAMES", help="Show only these parameters' derivations: --only w5 b2 (or w5,b2)."
)
@_BATCH
@click.option(
    "--samples",
    metavar="all|NUMBERS",
    help="Whose derivations to show step by step: all, or sample numbers (3, 1,5 or 2-6). "
    "By default every sample of a batch of up to 10, else the first; the others' gradients "
    "take one line each (the delta rule).",
)
@click.option(
    "--inputs", is_flag=True, help="Also derive the gradients with respect to the inputs (dE_total/di1, ...)."
)
@click.option(
    "--changes", is_flag=True, help="Also show each parameter's change before its update (Δw5 = -eta * dE/dw5)."
)
@click.option(
    "--compact",
    is_flag=True,
    help="A handout: one weight's derivation per layer (the first, or --only's), the rest in tables.",
)
@click.option("--no-forward", is_flag=True, help="Leave out the forward pass and the error.")
@click.option(
    "--view",
    type=click.Choice(["scalar", "matrix"]),
    default="scalar",
    show_default=True,
    help="scalar: every neuron and weight, as the post; matrix: z = W a + b, deltas and gradients as matrices.",
)
@click.option(
    "--steps",
    "step_count",
    type=click.IntRange(1, MAX_STEPS),
    default=1,
    show_default=True,
    help="Show this many consecutive updates (online: one per sample), each from the parameters and the "
    "optimiser's state (momentum, Adam's moments) the one before left.",
)
@_round_option
@click.option(
    "--names", "list_names", is_flag=True, help="List every quantity's name (what 'stepprop check' accepts) and exit."
)
@_fail_cleanly
def explain(
    config: str | None,
    fmt: str,
    digits: int,
    output: str | None,
    force: bool,
    fragment: bool,
    only: tuple[str, ...],
    batch: int,
    samples: str | None,
    inputs: bool,
    changes: bool,
    compact: bool,
    no_forward: bool,
    view: str,
    step_count: int,
    round_to: int | str | None,
    list_names: bool,
) -> None:
    """Print one training step: forward pass, error, chain rule, updates.

    With an expression config (expression: and values:), its computational
    graph instead: the forward pass as a table, then the backward pass node
    by node, each gradient the upstream gradient times the local gradient.
    --round and the output options apply to both.

    \b
    Examples:
      stepprop explain xor --only w5 w1 --format markdown
      stepprop explain --compact -o step.tex   # a two-page handout (LaTeX)
      stepprop explain --view matrix    # z = W a + b, the deltas as vectors
      stepprop explain adam --steps 2 --only w5   # Adam's first two updates
      stepprop explain sigmoid-neuron   # an expression's computational graph
    """
    names = [n for item in only for n in re.split(r",(?=[A-Za-z])", item) if n]  # (w^2_1,12 is one name)
    fmt = _format(fmt, output, FORMATS)
    net = _load(config)
    if _is_expression(net):
        network_only = {"--only": names, "--samples": samples, "--inputs": inputs, "--changes": changes}
        network_only.update({"--compact": compact, "--no-forward": no_forward, "--view matrix": view == "matrix"})
        network_only.update({"--steps": step_count > 1, "--batch": _given("batch")})
        _network_options(network_only)
        from .api import Expression

        expression = Expression(net.config, round_to) if round_to is not None else net
        out = _Output(fmt, digits, output, force, fragment)
        if list_names:
            known = expression.names
            out.json({"names": list(known)}) if fmt == "json" else out._write("\n".join(known) + "\n")
            return
        out.show(expression)
        return
    if step_count > 1 and (view == "matrix" or list_names):
        raise click.UsageError(f"--steps: for the scalar view, not {'--names' if list_names else '--view matrix'}")
    out = _Output(fmt, digits, output, force, fragment)
    if step_count > 1:
        steps = net.steps(step_count, _batch(net.config, batch) + 1, round_to)
        steps[0].parameters(names)
        steps[0].stepwise(samples)
        shown = {"inputs": inputs, "changes": changes, "compact": compact, "forward": not no_forward}
        out.show(steps, lambda: steps.explain(names or None, samples, **shown))
        return
    step = net.step(_batch(net.config, batch) + 1, round_to)
    if view == "matrix":
        scalar_only = {"--only": names, "--samples": samples, "--changes": changes}
        scalar_only.update({"--compact": compact, "--no-forward": no_forward, "--round": round_to is not None})
        given = [option for option, value in scalar_only.items() if value]
        if given:
            raise click.UsageError(f"{', '.join(given)}: for the scalar view, not --view matrix")
        matrix = step.matrix(inputs)
        if not list_names:
            out.show(matrix)
            return
    if list_names and view == "matrix":
        entries = matrix.names
        if fmt == "json":
            out.json({"names": list(entries), "entries": entries})
        else:  # each matrix as its entries' names, written as the view writes a matrix
            rows = {name: "; ".join(", ".join(row) for row in grid) for name, grid in entries.items()}
            out._write("".join(f"{name} = [{spelled}]\n" for name, spelled in rows.items()))
        return
    if list_names:
        known = step.names
        if fmt == "json":
            out.json({"names": list(known)})
        else:
            out._write("\n".join(known) + "\n")
        return
    step.parameters(names)  # an unknown name is an error in every format
    step.stepwise(samples)  # a sample not in the batch is an error in every format
    shown = {"inputs": inputs, "changes": changes, "compact": compact, "forward": not no_forward}
    out.show(step, lambda: step.explain(names or None, samples, **shown))


@main.command()
@_CONFIG
@_output_options(["svg", "text"], digits=6)
@click.option("--after", is_flag=True, help="A network: label the edges with the weights after one step.")
@click.option("--gradients", is_flag=True, help="A network: label the edges with the gradients dE/dw of one step.")
@_fail_cleanly
def diagram(
    config: str | None, fmt: str, digits: int, output: str | None, force: bool, after: bool, gradients: bool
) -> None:
    """Draw the network with every weight on its edge, or an expression's graph (SVG).

    An expression config is drawn as CS231n draws it: a box per operation,
    and on each edge the value flowing forward above it and the gradient
    flowing back below it.

    With no -o, a terminal gets a compact text version and a pipe gets the
    SVG; --format text or svg chooses explicitly.

    \b
    Examples:
      stepprop diagram -o net.svg
      stepprop diagram --after
      stepprop diagram xor --gradients -o grads.svg
      stepprop diagram staged -o graph.svg
      stepprop diagram sigmoid-neuron --format text
    """
    from .api import drawing

    if after and gradients:
        raise click.UsageError("choose one of --after and --gradients")
    fmt = _format(fmt, output, ["svg", "text"])
    loaded = _load(config)
    if _is_expression(loaded):
        _network_options({"--after": after, "--gradients": gradients})
        picture = loaded.diagram()
    else:
        picture = loaded.step().diagram("after" if after else "gradients" if gradients else "before")
    source = click.get_current_context().get_parameter_source("fmt")
    as_text = (
        fmt == "text"
        if source is not click.core.ParameterSource.DEFAULT or output not in (None, "-")
        else sys.stdout.isatty()
    )
    view = drawing(picture)
    out = _Output("svg", digits, output, force)
    out._write(view.text(picture, digits) if as_text else view.svg(picture, digits))


@main.command()
@_CONFIG
@_output_options(["text", "json"], files=False)
@click.option(
    "--epochs",
    "-n",
    type=_Count(1, 100_000_000),
    default=10_000,
    show_default=True,
    help="Passes over all the samples.",
)
@click.option("--every", type=_Count(1), default=None, metavar="K", help="Also report the epoch error every K epochs.")
@click.option(
    "--save",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="PATH",
    help="Write the trained network as a config that explain and train accept.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Write the error per epoch as an image: .svg, .png or .pdf (needs the 'plot' extra).",
)
@click.option("--force", is_flag=True, help="Replace the --save or --plot file if it exists, without asking.")
@_round_option
@_fail_cleanly
def train(
    config: str | None,
    fmt: str,
    digits: int,
    epochs: int,
    every: int | None,
    save: str | None,
    plot: str | None,
    force: bool,
    round_to: int | str | None,
) -> None:
    """Train for a number of epochs and report the error, outputs and parameters.

    \b
    Examples:
      stepprop train --epochs 10000
      stepprop train xor --epochs 5000 --every 500
      stepprop train mine.yaml --save trained.yaml
    """
    import os

    net = _load_network(config)
    if every is not None and epochs // every > MAX_REPORTED:
        least = -(-epochs // MAX_REPORTED)
        raise click.UsageError(
            f"--every {every} over {epochs:,} epochs would report {epochs // every:,} errors; "
            f"report at most {MAX_REPORTED:,} (--every {least} or more)"
        )
    if save is not None and plot is not None and os.path.abspath(save) == os.path.abspath(plot):
        raise click.UsageError(f"--save and --plot name the same file ({save}): give them different names")
    for path in (save, plot):
        if path is not None:
            _may_write(path, force)
    if plot is not None:
        from .views.plot import check_plot_target

        check_plot_target(plot)
    stop = _Interrupts()
    with stop, _progress(epochs) as progress:
        result = net.train(epochs, every=every, round=round_to, progress=progress, should_stop=stop)
    _Output(fmt, digits).show(result)  # the results first: a failed --save or --plot loses nothing
    if fmt != "json" and sys.stdout.isatty():
        from .views.plot import terminal

        click.echo(terminal(result.curve))
    failed = []
    if save is not None:
        failed += _saving(lambda: _save_network(save, result), f"saved the trained network to {save}")
    if plot is not None:
        from .views.plot import save as save_plot

        title = f"network {net.shape} from {net.config.source}"
        failed += _saving(lambda: save_plot(result.curve, plot, title), f"wrote {plot}")
    if result.interrupted:
        click.echo(f"interrupted at epoch {result.epochs} of {epochs}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if failed:
        raise click.ClickException("; ".join(failed))


def _save_network(path: str, result: Any) -> None:
    import os

    from .files import write_atomic

    write_atomic(path, result.network.to_yaml(os.path.dirname(os.path.abspath(path))))


def _saving(write: Callable[[], None], done: str) -> list[str]:
    """Write a file after the results are shown: what went wrong, if anything."""
    from .errors import StepPropError

    try:
        write()
    except StepPropError as exc:
        return [str(exc)]
    except OSError as exc:
        return [f"cannot write {exc.filename or 'the file'}: {exc.strerror or exc}"]
    click.echo(done, err=True)
    return []


@main.command("check")
@click.argument("paths", nargs=-1, metavar="[CONFIG] ANSWERS", shell_complete=_complete(True))
@_output_options([*FORMATS, "csv"], files=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    default=None,
    metavar="FILE",
    help="Write to FILE instead of standard output ('-' is standard output); for a quiz, the FOLDER that "
    "grades.csv and feedback/ go in (the quiz's by default).",
)
@click.option("--force", is_flag=True, help="Replace an existing output file (a quiz's grades) without asking.")
@_FRAGMENT
@click.option(
    "--epochs",
    "-n",
    type=_Count(1, MAX_CHECK_EPOCHS),
    default=None,
    help="Check answers about the network after N epochs of training (then one more step).",
)
@click.option(
    "--step",
    "step_number",
    type=click.IntRange(1, MAX_STEPS),
    default=None,
    help="Check answers about the K-th of consecutive updates (as explain --steps shows them: momentum's v, "
    "Adam's m and s carried from the updates before); or step: K in the answers file.",
)
@click.option(
    "--template",
    is_flag=True,
    help="Write an answers file to fill in instead: every name, in the worked example's order.",
)
@_fail_cleanly
def check_command(
    paths: tuple[str, ...],
    fmt: str,
    digits: int,
    output: str | None,
    force: bool,
    fragment: bool,
    epochs: int | None,
    step_number: int | None,
    template: bool,
) -> None:
    """Grade a student's numbers (or a class's) and name the likely mistake.

    ANSWERS is a YAML file of 'name: number' lines, with the names explain
    prints (stepprop explain --names lists them all), or a whole class's CSV
    file: a header row of names (the first column the students' ids), one row
    per student; it prints a line per student and a line per question, and
    -o grades.csv (or --format json) writes every grade. Each answer is correct
    (to the digits written), rounded (matches a calculation rounded at every
    step), carried (wrong, but right from the student's own earlier wrong
    answer: follow-through credit), ambiguous (the digits written are also a
    common mistake's) or wrong; for a wrong one, stepprop re-runs the
    calculation with common mistakes and names the one that reproduces it.
    With an expression config, the answers are its nodes' values, gradients
    (df/dq) and local gradients (dq/dx); a wrong gradient is re-worked with
    the backward pass's common slips (a local gradient left out, the
    upstream gradient not multiplied in, one path of a node used twice, a
    lost sign, max's gradient sent to the wrong branch).
    With a quiz's folder (stepprop quiz -o QUIZ) and a class's CSV file whose
    first column is each student's variant id, every row is graded against
    its own variant: grades.csv (score: correct + rounded + carried, of the
    asked) and feedback/ID.md and .html (the worked solution, each wrong
    answer marked before its equation) are written into QUIZ, or -o FOLDER.
    Exit status: 0 when nothing is wrong, 1 otherwise.

    \b
    Examples:
      stepprop check --template -o mine.yaml   # every name, to fill in
      stepprop check mazur-post-step        # the post's own figures
      stepprop check mine.yaml answers.yaml --format json
      stepprop check --template staged      # an expression's names, to fill in
      stepprop check mine.yaml class.csv -o grades.csv   # a whole class
    """
    import os

    from .api import check, check_class, is_class_file
    from .config import bundled_names
    from .grading.quizclass import is_quiz

    if template:
        from .api import answers_template

        if len(paths) > 1:
            raise click.UsageError("with --template, give at most a CONFIG: stepprop check --template [CONFIG]")
        _Output("text", digits, output, force)._write(answers_template(_load(paths[0] if paths else None)))
        return
    if not paths:
        raise click.UsageError("give the answers file: stepprop check [CONFIG] ANSWERS (or --template [CONFIG])")
    if len(paths) > 2:
        raise click.UsageError("give at most two files: [CONFIG] ANSWERS")
    if os.path.isdir(paths[0]) and (len(paths) == 2 or is_quiz(paths[0])):  # a quiz's folder, and its answers
        if epochs is not None or step_number is not None:
            raise click.UsageError("a quiz asks about one training step: --epochs and --step are not for a quiz")
        if fragment:
            raise click.UsageError("--fragment is for html and latex; a quiz's feedback is written whole")
        _check_quiz(paths, fmt, digits, output, force)
        return
    config, answers = (None, paths[0]) if len(paths) == 1 else paths
    if not os.path.exists(answers) and answers in bundled_names():
        raise click.UsageError(f"{answers} is a bundled config, not an answers file: stepprop check [CONFIG] ANSWERS")
    if step_number is not None and epochs is not None:
        raise click.UsageError("give either --epochs (answers after training) or --step, not both")
    if is_class_file(answers):
        if step_number is not None:
            raise click.UsageError("--step is for one student's answers file, not a class's")
        network = _load(config)
        if _is_expression(network):
            raise click.UsageError(
                "a class's CSV file is graded against a network; for an expression, check each student's answers file"
            )
        result: Any = check_class(network, answers, epochs)
        fmt = _format(fmt, output, [*FORMATS, "csv"])
    else:
        result = check(_load(config), answers, epochs, step_number)
        fmt = _format(fmt, output, FORMATS)
        if fmt == "csv":
            raise click.UsageError("--format csv is for a class's answers (a .csv file), one row per student")
    _Output(fmt, digits, output, force, fragment).show(result)
    if result.wrong:
        sys.exit(EXIT_ERROR)


def _check_quiz(
    paths: tuple[str, ...],
    fmt: str,
    digits: int,
    output: str | None,
    force: bool,
) -> None:
    """``stepprop check QUIZ/ submissions.csv``: each student against their own
    variant; grades.csv and feedback/ written into the quiz (or -o FOLDER)."""
    import os

    from .api import check_quiz
    from .words import count

    if len(paths) != 2:
        raise click.UsageError("give the quiz's folder and the class's answers: stepprop check QUIZ/ submissions.csv")
    if fmt not in ("text", "json"):
        raise click.UsageError("a quiz's grades print as text or json; grades.csv and feedback/ are written always")
    result = check_quiz(paths[0], paths[1])
    folder = output if output is not None else paths[0]
    existing = [p for p in result.targets(folder) if os.path.exists(p)]
    if existing and not force and sys.stdin.isatty() and sys.stderr.isatty():
        force = click.confirm(f"{existing[0]} and the other grades exist. Replace them?", default=False, err=True)
    written = result.write(folder, force)  # (refused, before any is written, where one exists and not force)
    _Output(fmt, digits).show(result)
    click.echo(f"wrote {os.path.join(folder, 'grades.csv')} and {count(len(written) - 1, 'feedback file')}", err=True)
    if result.wrong:
        sys.exit(EXIT_ERROR)


@main.command()
@_CONFIG
@_output_options(["text", "json"], files=False)
@_BATCH
@click.option("--no-torch", is_flag=True, help="Skip the PyTorch comparison even when PyTorch is installed.")
@_fail_cleanly
def verify(config: str | None, fmt: str, digits: int, batch: int, no_torch: bool) -> None:
    """Check every gradient of one step, or of an expression, against finite differences (and PyTorch).

    Each gradient the engine computes (of a network: the batch error's, for
    each parameter; of an expression: the output's, for each input) is
    compared with central finite differences (forward passes only) and, when
    PyTorch is installed, with its autograd in float64. Exit status: 0 when
    all agree within the tolerance, 1 otherwise.

    \b
    Examples:
      stepprop verify
      stepprop verify softmax --batch 2
      stepprop verify sigmoid-neuron
      stepprop verify mine.yaml --format json
    """
    from .api import verify as check_gradients

    loaded = _load(config)
    if _is_expression(loaded):
        _network_options({"--batch": _given("batch")})
        result = check_gradients(loaded, use_torch=not no_torch)
    else:
        result = check_gradients(loaded, _batch(loaded.config, batch) + 1, use_torch=not no_torch)
    _Output(fmt, digits).show(result)
    if not result.ok:
        sys.exit(EXIT_ERROR)


@main.command()
@click.argument("shape", required=False)
@click.option(
    "--from",
    "source",
    metavar="EXAMPLE",
    default=None,
    help="Copy a bundled example instead (see 'stepprop examples').",
)
@click.option(
    "--activation",
    type=_OpChoice(list(LAYER_ACTIVATIONS)),
    default="sigmoid",
    show_default=True,
    help="The activation of every layer (the output follows the loss where it must).",
)
@click.option(
    "--loss",
    type=_OpChoice(list(LOSSES)),
    default="half_squared_error",
    show_default=True,
)
@click.option(
    "--bias",
    type=click.Choice(list(BIAS_MODES)),
    default="shared",
    show_default=True,
    help="One bias per layer (as the post), one per neuron, or none.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random weights.")
@click.option(
    "--delta",
    type=click.Choice(list(DELTAS)),
    default="gradient",
    show_default=True,
    help="What delta is: dE/dnet (the post's), or the error term (target - out) * f' (Mitchell, Haykin).",
)
@click.option(
    "--bias-input",
    type=click.Choice(["1", "-1"]),
    default="1",
    show_default=True,
    help="What a bias multiplies: 1 (added, as the post), or -1 (a threshold, subtracted).",
)
@click.option(
    "--notation",
    type=click.Choice(list(NOTATIONS)),
    default="mazur",
    show_default=True,
    help="The names shown and read: the post's (w5, out_h1), or Nielsen's (w^3_11, a^2_1).",
)
@click.option(
    "--expression", "expression", is_flag=True, help="Write an expression config (a computational graph) instead."
)
@click.option(
    "--from-csv",
    "from_csv",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="DATA.csv",
    help="Samples from this CSV file (a header row names its columns), with --inputs and --targets or --one-hot.",
)
@click.option("--inputs", "input_columns", default=None, metavar="COLUMNS", help="The input columns: a,b,c.")
@click.option("--targets", "target_columns", default=None, metavar="COLUMNS", help="The target columns: x,y.")
@click.option(
    "--one-hot",
    "one_hot",
    default=None,
    metavar="COLUMN",
    help="A class column instead of --targets: one 0/1 target per class, in sorted order "
    "(the loss is then cross_entropy unless --loss says otherwise).",
)
@_file_options
@_fail_cleanly
def init(
    shape: str | None,
    source: str | None,
    activation: str,
    loss: str,
    bias: str,
    seed: int,
    delta: str,
    bias_input: str,
    notation: str,
    expression: bool,
    from_csv: str | None,
    input_columns: str | None,
    target_columns: str | None,
    one_hot: str | None,
    output: str | None,
    force: bool,
) -> None:
    """Write a new config with a comment on every key.

    SHAPE is the number of neurons per layer, inputs first: 2-3-1 is two
    inputs, three hidden neurons and one output. The weights are random
    (seeded); the inputs and targets are placeholders to replace. With
    --expression, an expression config instead: a formula and its inputs'
    values, worked out as a computational graph. With --from-csv, the samples
    are a CSV file's rows: SHAPE starts with the number of --inputs columns and
    ends with the number of --targets columns (or of the --one-hot column's
    classes); rows come in batches of 10 (batch_size).

    \b
    Examples:
      stepprop init 2-2-2 -o mine.yaml
      stepprop init 2-3-1 --activation tanh --loss cross_entropy --seed 7 -o mine.yaml
      stepprop init 3-2-1 --delta error --bias-input -1 -o mitchell.yaml
      stepprop init --from xor -o xor.yaml
      stepprop init --expression -o graph.yaml
    """
    from .api import example_text, new_config

    csv_only = {"--inputs": input_columns, "--targets": target_columns, "--one-hot": one_hot}
    if from_csv is None and any(csv_only.values()):
        given = next(key for key, value in csv_only.items() if value)
        raise click.UsageError(f"{given} names the columns of --from-csv DATA.csv; give the file too")
    if from_csv is not None:
        if source is not None or expression:
            raise click.UsageError("--from-csv writes a network for a SHAPE, not --from EXAMPLE or --expression")
        if not input_columns:
            raise click.UsageError("--from-csv needs --inputs COLUMNS (the input columns: a,b,c)")
        if bool(target_columns) == bool(one_hot):
            raise click.UsageError("--from-csv needs either --targets COLUMNS or --one-hot COLUMN, not both")
    if expression:
        network_only = {"SHAPE": shape, "--from": source, "--seed": _given("seed"), "--bias": _given("bias")}
        network_only.update({"--activation": _given("activation"), "--loss": _given("loss")})
        network_only.update({"--delta": _given("delta"), "--bias-input": _given("bias_input")})
        network_only["--notation"] = _given("notation")
        _network_options(network_only)
        from .api import new_expression

        _Output("text", 9, output, force)._write(new_expression())
        return
    if (shape is None) == (source is None):
        raise click.UsageError(
            "give a SHAPE such as 2-3-1 or --from EXAMPLE, not both"
            if shape and source
            else "give a SHAPE such as 2-3-1, or --from EXAMPLE"
        )
    if source is not None and (delta, bias_input, notation) != ("gradient", "1", "mazur"):
        raise click.UsageError("--delta, --bias-input and --notation are for a new SHAPE, not --from EXAMPLE")
    if source is not None:
        text = example_text(source)
    elif from_csv is not None:
        import os

        folder = os.path.dirname(os.path.abspath(output)) if output not in (None, "-") else os.getcwd()
        text = new_config(
            shape or "",
            activation,
            "cross_entropy" if one_hot and not _given("loss") else loss,
            bias,
            seed,
            delta,
            int(bias_input),
            notation,
            from_csv,
            _names(input_columns or ""),
            _names(target_columns or ""),
            one_hot,
            folder,
        )
    else:
        text = new_config(shape or "", activation, loss, bias, seed, delta, int(bias_input), notation)
    _Output("text", 9, output, force)._write(text)


def _names(text: str) -> list[str]:
    """'a,b, c': column names, separated by commas."""
    return [name.strip() for name in text.split(",") if name.strip()]


class _Range(click.ParamType):
    """LOW,HIGH: a range of numbers (-1,1)."""

    name = "LOW,HIGH"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from .errors import StepPropError
        from .quiz import _range

        try:
            _range(param.name if param is not None and param.name else "range", value)
        except StepPropError as exc:
            self.fail(str(exc), param, ctx)
        return value


@main.command()
@click.argument("shape", required=False)
@click.option("--count", type=click.IntRange(1, 1000), default=None, help="How many variants (folders 01, 02, ...).")
@click.option(
    "--students",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="ROSTER.csv",
    help="One variant per student of a roster (a CSV file with the columns id,name), in a folder named by the id.",
)
@click.option(
    "--seed", type=int, default=None, help="Seed of the draws: the same seed writes the same files.  [default: 0]"
)
@click.option(
    "--ask",
    default=None,
    metavar="NAMES",
    help="The quantities asked: names as 'explain --names' lists them, or groups (forward, output-layer, "
    "hidden-layer, updates), separated by spaces or commas.  [default: out_o1 E_total dE_total/dw5 w5+ "
    "dE_total/dw1 w1+]",
)
@click.option(
    "--round",
    "round_to",
    type=_Rounding(),
    default=None,
    metavar="N|Nsf",
    help="How students round every intermediate result and answer: N decimals or N significant figures.  [default: 4]",
)
@click.option("--activation", type=_OpChoice(list(LAYER_ACTIVATIONS)), default=None, help="[default: sigmoid]")
@click.option("--loss", type=_OpChoice(list(LOSSES)), default=None, help="[default: half_squared_error]")
@click.option("--bias", type=click.Choice(list(BIAS_MODES)), default=None, help="[default: shared]")
@click.option("--eta", type=float, default=None, help="The learning rate.  [default: 0.5]")
@click.option(
    "--range", "span", type=_Range(), default=None, help="The range of the weights, biases and inputs.  [default: -1,1]"
)
@click.option("--targets", type=_Range(), default=None, help="The range of the targets.  [default: 0.01,0.99]")
@click.option(
    "--decimals", type=click.IntRange(0, 6), default=None, help="Decimals of every given number.  [default: 2]"
)
@click.option(
    "--template",
    "template_file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="QUIZ.yaml",
    help="A YAML file of these options (shape:, ask:, round:, count: or students:, ...); options given here win.",
)
@click.option("-o", "--output", required=True, metavar="FOLDER", help="The folder to write into (made if missing).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (replacing the variants' files).")
@_fail_cleanly
def quiz(
    shape: str | None,
    count: int | None,
    students: str | None,
    seed: int | None,
    ask: str | None,
    round_to: int | str | None,
    activation: str | None,
    loss: str | None,
    bias: str | None,
    eta: float | None,
    span: str | None,
    targets: str | None,
    decimals: int | None,
    template_file: str | None,
    output: str,
    force: bool,
) -> None:
    """Write a quiz: one problem, a different draw of its numbers per student.

    Each variant's folder holds problem.yaml (a config every command reads),
    the sheet (sheet.md, .html, .tex: the diagram, the given numbers, the
    quantities asked and how to round), answers-template.yaml, key.yaml
    (which 'stepprop check problem.yaml key.yaml' grades all correct) and the
    worked solution (solution.md, .html, .tex) in hand-calculation mode;
    key.csv has every variant's answers. A draw is redrawn when an asked
    quantity is below 0.001, a ReLU is dead, a sigmoid or tanh saturates, two
    answers coincide, the hand calculation rounds to another answer, or a
    common mistake gives the right answer at the asked precision.

    \b
    Examples:
      stepprop quiz 2-2-2 --count 3 --seed 2027 -o quiz
      stepprop quiz 2-2-2 --count 2 --ask forward --round 3sf -o quiz
      stepprop quiz 2-3-1 --activation tanh --count 2 --ask output-layer,hidden-layer -o quiz
    """
    import os

    from .api import make_quiz

    if count is not None and students is not None:
        raise click.UsageError("give --count N or --students ROSTER.csv, not both")
    if count is None and students is None and template_file is None:
        raise click.UsageError("give --count N (variants 01, 02, ...) or --students ROSTER.csv (one per student)")
    options: dict[str, Any] = {
        "shape": shape,
        "count": count,
        "students": students,
        "seed": seed,
        "ask": ask,
        "round": round_to,
    }
    options.update({"activation": activation, "loss": loss, "bias": bias, "eta": eta, "range": span})
    options.update({"targets": targets, "decimals": decimals})
    made = make_quiz(template_file, **options)
    made.write(output, force)
    for v in made.variants:
        redrawn = sum(v.redrawn.values())
        who = f" for {v.name}" if v.name else ""
        click.echo(
            f"{os.path.join(output, v.id)}: {len(v.questions)} questions{who}"
            + (f" ({redrawn} draws redrawn)" if redrawn else "")
        )
    click.echo(f"{os.path.join(output, 'key.csv')}: the answers of {len(made.variants)} variants")
    click.echo(f"{os.path.join(output, 'moodle.xml')}: Moodle XML, a question category per variant")
    click.echo(f"{os.path.join(output, 'canvas-qti.zip')}: IMS QTI 1.2 for Canvas, a quiz per variant")


@main.command()
@_fail_cleanly
def examples() -> None:
    """List the example configs that come with stepprop.

    Use one by name in place of a file, or copy it to edit it.

    \b
    Examples:
      stepprop examples
      stepprop explain xor
      stepprop init --from softmax -o mine.yaml
    """
    from .api import answer_files
    from .api import examples as bundled

    rows = bundled()
    width = max(len(e.name) for e in rows)
    shapes = max(len(e.shape) for e in rows)
    for e in rows:
        click.echo(f"{e.name.ljust(width)}  {e.shape.ljust(shapes)}  {e.description}")
    click.echo("\nanswers files for 'stepprop check', with the post's own figures:")
    for name in answer_files():
        click.echo(f"  {name}")


def _may_write(path: str, force: bool) -> None:
    """Before the work: refuse a path that cannot be written, and an existing
    file unless --force or the user agrees (a device or a pipe is written in
    place, replacing nothing)."""
    import os

    from .files import check_target, is_special

    check_target(path)
    if not os.path.exists(path) or force or is_special(path):
        return
    if sys.stdin.isatty() and sys.stderr.isatty():
        if click.confirm(f"{path} exists. Replace it?", default=False, err=True):
            return
    raise click.ClickException(f"{path} exists; pass --force to replace it")


class _Interrupts:
    """Ctrl-C during training: finish the current step, then stop cleanly."""

    def __init__(self) -> None:
        self.hit = False
        self._old: Any = None
        self._old_term: Any = None

    def __call__(self) -> bool:
        return self.hit

    def __enter__(self) -> _Interrupts:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
            self._old_term = signal.signal(signal.SIGTERM, self._handle)  # asked to stop: as Ctrl-C
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.hit:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: Any) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            signal.signal(signal.SIGTERM, self._old_term)


class _progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""

    def __init__(self, epochs: int):
        self.epochs = epochs
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if not sys.stderr.isatty():
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("training"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("train", total=self.epochs)
        return lambda epoch: self.bar.update(task, completed=epoch)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()

"""stepprop as a library: the objects ``import stepprop`` gives.

The command line is a thin layer over these; every result here has
``to_dict()``, which is exactly what ``--format json`` prints, and shows
itself in Jupyter (``_repr_html_``: the same page as the HTML export) and in
rich (``__rich__``)::

    import stepprop

    net = stepprop.load()                  # the post's network (or a file, or a bundled name)
    step = net.step()
    step.values["out_o1"]                  # 0.7513650695523157
    step.terms["dE_total/dw5"]             # 0.08216704056423078
    step.updated["w5"]                     # 0.3589164797178846
    result = net.train(10_000)
    grades = stepprop.check(net, {"out_h1": "0.5933"})
    stepprop.verify(net).ok
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import config as configs
from . import training
from .config import Config
from .engine import decimal_rounder
from .errors import ConfigError, StepPropError
from .expr import DEFAULT_DIGITS
from .network import Net
from .step import StepTrace, step

if TYPE_CHECKING:  # the rest is imported when it is used: `stepprop train` needs none of it
    from .diagram import Diagram
    from .document import Document
    from .grading import Answers
    from .grading import Grades as Graded
    from .verification import Verification as Verified

FORMATS = ("text", "json", "markdown", "latex", "html")


class _Shown:
    """Shows a result: plain text, Markdown, LaTeX, HTML, or rich."""

    def document(self) -> Document:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _svg(self) -> str | None:
        return None

    def render(self, format: str = "text", digits: int = DEFAULT_DIGITS, fragment: bool = False) -> str:
        """The result as ``format``: text, json, markdown, latex (``fragment``:
        the body only) or html."""
        if format == "json":
            import json

            return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        return render_document(self.document(), format, digits, fragment, self._svg)

    def _repr_html_(self) -> str:
        return self.render("html")

    def __rich__(self) -> Any:
        from .views.rich_view import RichDocument

        return RichDocument(self.document())

    def __str__(self) -> str:
        return self.render("text")


def render_document(
    doc: Document,
    format: str = "text",
    digits: int = DEFAULT_DIGITS,
    fragment: bool = False,
    svg: Callable[[], str | None] | None = None,
) -> str:
    """A document as text, markdown, latex (``fragment``: the body only) or
    html (with the picture ``svg()`` gives, if any)."""
    if format == "markdown":
        from .views import markdown

        return markdown.render(doc, digits)
    if format == "latex":
        from .views import latex

        return latex.body(doc, digits) if fragment else latex.document(doc, digits)
    if format == "html":
        from .views import html

        return html.render(doc, digits, svg() if svg is not None else None)
    if format == "text":
        from .views.text import render_plain

        return render_plain(doc, digits)
    raise StepPropError(f"unknown format '{format}'; choose one of {', '.join(FORMATS)}")


class Network(Net):
    """A network from a config: its names (``input_names``, ``neurons``,
    ``params``), its parameter ``values``, and what it can do."""

    @classmethod
    def from_config(cls, config: Config) -> Network:
        return cls(config)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any], source: str = "<dict>") -> Network:
        """A network from a mapping in the config file's format (the keys of a
        YAML config: inputs, targets or samples, eta, layers, ...)."""
        import yaml

        try:
            text = yaml.safe_dump(_plain_data(mapping), sort_keys=False)
        except yaml.YAMLError as exc:
            raise ConfigError(f"not a config: {exc}", source) from None
        try:
            return cls(configs.parse(text, source))
        except ConfigError as exc:  # a position in our own YAML text would mean nothing
            raise ConfigError(exc.message, source) from None

    def to_dict(self) -> dict[str, Any]:
        """The config, in its file format."""
        return self.config.to_dict()

    def to_yaml(self) -> str:
        """The config as YAML that ``load`` reads back, every number exact."""
        return configs.dump(self.config)

    def step(self, batch: int = 1, round: int | None = None) -> Step:
        """One training step on batch ``batch`` (1-based), every number recorded;
        ``round=N``: as a hand calculation that rounds every intermediate
        result to N decimals."""
        rounder = decimal_rounder(round) if round is not None else None
        return Step(step(self, _batch(self.config, batch), rounder, round))

    def train(
        self,
        epochs: int = 10_000,
        every: int | None = None,
        round: int | None = None,
        progress: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> TrainResult:
        """Train for ``epochs`` passes over the samples, one update per batch.
        ``every=K`` records the error every K epochs; ``progress(epoch)`` is
        called now and then; ``should_stop()`` ends training cleanly between
        steps."""
        rounder = decimal_rounder(round) if round is not None else None
        result = training.train(self, epochs, every, progress, should_stop, rounder=rounder)
        return TrainResult(self, result, every, round)

    def __repr__(self) -> str:
        return f"<stepprop.Network {self.shape} from {self.config.source}>"


class Step(_Shown):
    """One recorded training step: every value, chain-rule term, gradient and
    update, by the names ``explain`` prints."""

    def __init__(self, trace: StepTrace):
        self.trace = trace

    @property
    def values(self) -> dict[str, float]:
        """Every forward quantity: net_h1, out_h1, E_o1, E_total, ..."""
        from .names import values_of

        return values_of(self.trace.graph)

    @property
    def terms(self) -> dict[str, float]:
        """Every chain-rule term: dE_total/dout_o1, delta_o1, dnet_o1/dw5, ..."""
        from .names import terms_of

        return terms_of(self.trace)

    @property
    def gradients(self) -> dict[str, float]:
        """d(batch error)/dp for every parameter."""
        return dict(self.trace.gradients)

    @property
    def before(self) -> dict[str, float]:
        return dict(self.trace.before)

    @property
    def updated(self) -> dict[str, float]:
        """Every parameter after the update."""
        return dict(self.trace.updated)

    @property
    def error(self) -> float:
        return self.trace.error

    @property
    def error_after(self) -> float:
        return self.trace.error_after

    @property
    def names(self) -> dict[str, float]:
        """Every name ``stepprop check`` accepts, with its value."""
        from .names import checkable

        return checkable(self.trace)

    def parameters(self, only: Sequence[str] | None = None) -> list[str]:
        """The parameters in the post's order of derivation (``only`` those,
        an unknown name being an error)."""
        from .worked import check_only

        return check_only(self.trace, only)

    def explain(self, only: Sequence[str] | None = None) -> Document:
        """The worked example (only these parameters' derivations, if given)."""
        from .worked import explain

        return explain(self.trace, only)

    def document(self) -> Document:
        return self.explain()

    def diagram(self, mode: str = "before") -> Diagram:
        """The network with a number on every edge: the weights ``before`` the
        step, ``after`` it, or their ``gradients``."""
        from .diagram import diagram

        return diagram(self.trace, mode)

    def _svg(self) -> str | None:
        from .views.diagram import svg

        return svg(self.diagram())

    def render(
        self,
        format: str = "text",
        digits: int = DEFAULT_DIGITS,
        fragment: bool = False,
        only: Sequence[str] | None = None,
    ) -> str:
        """As :meth:`_Shown.render`; ``only``: these parameters' derivations
        (JSON always holds the whole step)."""
        if format == "json":
            self.parameters(only)
            return super().render(format, digits, fragment)
        return render_document(self.explain(only), format, digits, fragment, self._svg)

    def to_dict(self) -> dict[str, Any]:
        from .report import step_dict

        return step_dict(self.trace)

    def __repr__(self) -> str:
        return f"<stepprop.Step of {self.trace.net.shape}, batch {self.trace.batch_index + 1}>"


class TrainResult(_Shown):
    """A training run: the errors, the outputs and the trained parameters."""

    def __init__(self, network: Net, result: training.TrainResult, every: int | None, rounding: int | None):
        self.initial = network
        self.result = result
        self.every = every
        self.rounding = rounding

    def __getattr__(self, name: str) -> Any:
        # epochs, error, final_error, outputs, sample_errors, values, history, interrupted, curve
        if name in training.TrainResult._fields:
            return getattr(self.result, name)
        raise AttributeError(name)

    @property
    def network(self) -> Network:
        """The trained network (a new Network; the original is unchanged)."""
        return Network(self.initial.with_values(self.result.values))

    def document(self) -> Document:
        from .report import train_document

        return train_document(self.initial, self.result, self.every, self.rounding)

    def to_dict(self) -> dict[str, Any]:
        from .report import train_dict

        return train_dict(self.initial, self.result, self.rounding)

    def __repr__(self) -> str:
        return f"<stepprop.TrainResult {self.result.epochs} epochs, error {self.result.error:.9g}>"


class Grades(_Shown):
    """The grades of a student's answers (``stepprop check``): ``graded``, one
    per answer (status, exact value, note, mistakes), and ``wrong``, how many
    are wrong."""

    def __init__(self, grades: Graded):
        self.grades = grades

    def __getattr__(self, name: str) -> Any:
        return getattr(self.grades, name)

    def document(self) -> Document:
        return self.grades.document()

    def to_dict(self) -> dict[str, Any]:
        return self.grades.to_dict()

    def __repr__(self) -> str:
        counts = self.grades.to_dict()["counts"]
        return f"<stepprop.Grades {', '.join(f'{n} {s}' for s, n in counts.items())}>"


class Verification(_Shown):
    """Every gradient beside finite differences and PyTorch (``stepprop verify``):
    ``ok``, and ``rows``, one per parameter."""

    def __init__(self, found: Verified):
        self.found = found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.found, name)

    def document(self) -> Document:
        return self.found.document()

    def to_dict(self) -> dict[str, Any]:
        return self.found.to_dict()

    def __repr__(self) -> str:
        return f"<stepprop.Verification {'ok' if self.found.ok else 'DISAGREES'}, {len(self.found.rows)} gradients>"


def load(config: str | Path | None = None) -> Network:
    """A network from a config file, a bundled example's name (``xor``), or,
    with nothing, the post's network.  Config errors raise
    :class:`stepprop.ConfigError` with the file, line and column."""
    if config is not None and not Path(config).exists() and str(config) in configs.bundled_names():
        return Network(configs.parse(configs.bundled_text(str(config)), f"the bundled {config}.yaml"))
    return Network(configs.load(config))


def answers_of(answers: str | Path | Mapping[str, Any] | Answers) -> tuple[Answers, str]:
    """Answers from a file, a bundled answers file's name, or a mapping of
    names to numbers; and how to name their source."""
    from .grading import Answers, load_answers

    if isinstance(answers, Answers):
        return answers, "the answers"
    if isinstance(answers, Mapping):
        import yaml

        text = yaml.safe_dump({str(k): _number_text(v) for k, v in answers.items()}, sort_keys=False)
        try:
            found = load_answers(text=text, source="the answers")
        except ConfigError as exc:  # a position in our own YAML text would mean nothing
            raise ConfigError(exc.message, "the answers") from None
        unplaced = Answers(a.unplaced() for a in found)
        unplaced.epochs = found.epochs
        return unplaced, "the answers"
    path = Path(answers)
    bundled = configs.bundled_answers(str(answers))
    if not path.exists() and bundled is not None:
        return load_answers(bundled), f"the bundled {answers}.yaml"
    return load_answers(path), str(answers)


def check(network: Net, answers: str | Path | Mapping[str, Any] | Answers, epochs: int | None = None) -> Grades:
    """Grade answers (a file, a bundled answers name, or ``{name: number}``;
    write numbers as text, "0.5933", to keep the digits written) against the
    network's exact numbers, naming the likely mistake of each wrong one."""
    from .grading import check as grade

    found, source = answers_of(answers)
    return Grades(grade(network.config, found, epochs, source))


def verify(network: Net, batch: int = 1, use_torch: bool = True) -> Verification:
    """Every gradient of one step against central finite differences and,
    when it is installed, PyTorch's autograd."""
    from .verification import verify as recompute

    return Verification(recompute(network.config, _batch(network.config, batch), use_torch=use_torch))


def _batch(config: Config, batch: int) -> int:
    """A 1-based batch number as an index, or an error naming how many there are."""
    count = len(config.batches())
    if not 1 <= batch <= count:
        raise StepPropError(f"batch {batch}: this config has {count} batch{'es' if count != 1 else ''}")
    return batch - 1


def _number_text(value: Any) -> str:
    """An answer as written: text stays as it is; a float keeps its shortest repr."""
    return value if isinstance(value, str) else repr(float(value))


def _plain_data(value: Any) -> Any:
    """Numbers, strings, lists and mappings, as YAML can write them (tuples and
    NumPy numbers included)."""
    if isinstance(value, Mapping):
        return {str(k): _plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(v) for v in value]
    if isinstance(value, (bool, str, int)) or value is None:
        return value
    if hasattr(value, "__float__"):  # a float, or a NumPy number
        return float(value)
    return value

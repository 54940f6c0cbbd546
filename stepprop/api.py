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

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from . import config as configs
from .config import MAX_STEPS, Config
from .errors import ConfigError, StepPropError
from .expr import DEFAULT_DIGITS
from .network import Net
from .notation import MAZUR, Notation
from .rounding import parse as parse_rounding
from .rounding import rounder as rounder_of
from .step import StepTrace, step
from .words import count

if TYPE_CHECKING:  # the rest is imported when it is used: `stepprop train` needs none of it
    from pathlib import Path

    from . import graph
    from .diagram import Diagram
    from .document import Document
    from .grading import Answers
    from .grading import Grades as Graded
    from .grading.classroom import ClassGrades as GradedClass
    from .grading.graph import GraphGrades
    from .grading.quizclass import QuizGrades as GradedQuiz
    from .graphdiagram import GraphDiagram
    from .lms import Variant as QuizVariant
    from .quiz import Drawn, Template
    from .training import TrainResult as RawTrainResult
    from .verification import Verification as Verified

FORMATS = ("text", "json", "markdown", "latex", "html")
# what the HTML and LaTeX exports draw: a network's diagram or an expression's graph
Picture = Union["Diagram", "GraphDiagram"]


def _delegate(owner: object, field: str, name: str) -> Any:
    """An attribute of the wrapped result (never recursing while half-made, as
    when copied)."""
    inner = owner.__dict__.get(field)
    if inner is None or name.startswith("__"):
        raise AttributeError(name)
    return getattr(inner, name)


class _Shown:
    """Shows a result: plain text, Markdown, LaTeX, HTML, or rich, by the names
    of its config's notation."""

    notation: Notation = MAZUR

    def document(self) -> Document:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _picture(self) -> Picture | None:
        """The picture drawn in the HTML and LaTeX exports: the network's
        diagram, or the expression's graph (None: no picture)."""
        return None

    def render(self, format: str = "text", digits: int = DEFAULT_DIGITS, fragment: bool = False) -> str:
        """The result as ``format``: text, json, markdown, latex (``fragment``:
        the body only) or html."""
        if format == "json":
            import json

            return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        return render_document(self.document(), format, digits, fragment, self._picture)

    def _repr_html_(self) -> str:
        """The HTML export's page body (its own styles included), for a notebook cell."""
        from .views.html import body

        return body(self.render("html"))

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
    picture: Callable[[], Picture | None] | None = None,
    math: str = "mathml",
    src: str | None = None,
) -> str:
    """A document as text, markdown, latex (``fragment``: the body only) or
    html (html and latex with the picture ``picture()`` gives, if any: SVG
    and TikZ; html's ``math`` and ``src``: :func:`stepprop.views.html.chunks`'s)."""
    return "".join(render_chunks(doc, format, digits, fragment, picture, math, src))


def render_chunks(
    doc: Document,
    format: str = "text",
    digits: int = DEFAULT_DIGITS,
    fragment: bool = False,
    picture: Callable[[], Picture | None] | None = None,
    math: str = "mathml",
    src: str | None = None,
) -> Iterator[str]:
    """The same, in pieces to write as they come (a long worked example is
    never held whole a second time)."""
    if isinstance(digits, bool) or not isinstance(digits, int) or not 1 <= digits <= 17:
        raise StepPropError(f"digits must be a whole number from 1 to 17, not {digits!r}")
    if format == "markdown":
        from .views import markdown

        return markdown.chunks(doc, digits)
    if format in ("latex", "html"):
        drawn = picture() if picture is not None and not (format == "latex" and fragment) else None
        view = drawing(drawn) if drawn is not None else None  # a network's diagram or an expression's graph
        if format == "latex":
            from .views import latex

            return latex.chunks(doc, digits, fragment, None if view is None else view.tikz(drawn))
        from .views import html

        if view is None:
            return html.chunks(doc, digits, math=math)
        return html.chunks(doc, digits, view.svg(drawn), view.CAPTION, math, src)
    if format == "text":
        from .views.text import plain_chunks

        return plain_chunks(doc, digits)
    raise StepPropError(f"unknown format '{format}'; choose one of {', '.join(FORMATS)}")


def drawing(picture: Picture) -> ModuleType:
    """The view that draws a picture, with its ``svg``, ``tikz``, ``text`` and
    ``CAPTION``: :mod:`stepprop.views.graphdiagram` for an expression's
    graph, :mod:`stepprop.views.diagram` for a network's diagram."""
    from .graphdiagram import GraphDiagram

    if isinstance(picture, GraphDiagram):
        from .views import graphdiagram

        return graphdiagram
    from .views import diagram

    return diagram


class Network(Net):
    """A network from a config: its names (``input_names``, ``neurons``,
    ``params``), its parameter ``values``, and what it can do."""

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

    def to_yaml(self, folder: str | None = None) -> str:
        """The config as YAML that ``load`` reads back, every number exact; a
        CSV file of samples is named relative to ``folder`` (where the YAML is
        written) if it lies there, else by its absolute path."""
        return configs.dump(self.config, folder)

    def step(self, batch: int = 1, round: int | str | None = None) -> Step:
        """One training step on batch ``batch`` (1-based), every number recorded;
        ``round=N``: as a hand calculation that rounds every intermediate
        result to N decimals (``round="3sf"``: to 3 significant figures)."""
        rounder, rounding = _round(round)
        return Step(step(self, _batch(self.config, batch), rounder, rounding))

    def steps(self, count: int, batch: int = 1, round: int | str | None = None) -> Steps:
        """``count`` consecutive training steps from batch ``batch`` (online:
        one per sample, then the next epoch's), each from the parameters and
        the optimiser's state the one before left (momentum, Adam's moments)."""
        from .step import steps as consecutive

        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_STEPS:
            raise StepPropError(f"steps must be a whole number from 1 to {MAX_STEPS}, not {count!r}")
        rounder, rounding = _round(round)
        return Steps([Step(t) for t in consecutive(self, count, rounder, rounding, first=_batch(self.config, batch))])

    def train(
        self,
        epochs: int = 10_000,
        every: int | None = None,
        round: int | str | None = None,
        progress: Callable[[int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> TrainResult:
        """Train for ``epochs`` passes over the samples, one update per batch.
        ``every=K`` records the error every K epochs; ``progress(epoch)`` is
        called now and then; ``should_stop()`` ends training cleanly between
        steps."""
        if isinstance(epochs, bool) or not isinstance(epochs, int):
            raise StepPropError(f"epochs must be a whole number, not {epochs!r}")
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise StepPropError(f"every must be a whole number of epochs, at least 1, not {every!r}")
        rounder, rounding = _round(round)
        from . import training

        result = training.train(self, epochs, every, progress, should_stop, rounder=rounder)
        return TrainResult(self, result, every, rounding)

    def __repr__(self) -> str:
        return f"<stepprop.Network {self.shape} from {self.config.source}>"


class _Explained(_Shown):
    """A worked example of steps (:class:`Step`, :class:`Steps`), rendered
    with ``explain``'s choices."""

    def parameters(self, only: str | Sequence[str] | None = None) -> list[str]:
        raise NotImplementedError

    def explain(
        self, only: str | Sequence[str] | None = None, samples: str | int | Sequence[int] | None = None, **options: bool
    ) -> Document:
        raise NotImplementedError

    def render(
        self,
        format: str = "text",
        digits: int = DEFAULT_DIGITS,
        fragment: bool = False,
        only: Sequence[str] | None = None,
        samples: str | int | Sequence[int] | None = None,
        **options: bool,
    ) -> str:
        """As :meth:`_Shown.render`; ``only``, ``samples`` and ``options`` as
        :meth:`explain` takes them (JSON always holds the whole step or steps)."""
        if format == "json":
            self.parameters(only)
            return super().render(format, digits, fragment)
        return render_document(self.explain(_names(only), samples, **options), format, digits, fragment, self._picture)


class Step(_Explained):
    """One recorded training step: every value, chain-rule term, gradient and
    update, by the names ``explain`` prints."""

    def __init__(self, trace: StepTrace):
        from .notation import notation_of

        self.trace = trace
        self.notation = notation_of(trace.net, trace.graph.multi)

    @property
    def values(self) -> dict[str, float]:
        """Every forward quantity: net_h1, out_h1, E_o1, E_total, ..."""
        from .names import values_of

        return Quantities(self.notation.values(values_of(self.trace.graph)))

    @property
    def terms(self) -> dict[str, float]:
        """Every chain-rule term: dE_total/dout_o1, delta_o1, dnet_o1/dw5, ..."""
        from .names import terms_of

        return Quantities(self.notation.values(terms_of(self.trace)))

    @property
    def gradients(self) -> dict[str, float]:
        """d(batch error)/dp for every parameter."""
        return Quantities(self.notation.values(self.trace.gradients))

    @property
    def before(self) -> dict[str, float]:
        return Quantities(self.notation.values(self.trace.before))

    @property
    def updated(self) -> dict[str, float]:
        """Every parameter after the update."""
        return Quantities(self.notation.values(self.trace.updated))

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

        return Quantities(self.notation.values(checkable(self.trace)))

    def parameters(self, only: str | Sequence[str] | None = None) -> list[str]:
        """The parameters in the post's order of derivation (``only`` those,
        an unknown name being an error), by the post's names."""
        try:
            return self.trace.net.chosen(self.notation.canonicals(_names(only)))
        except StepPropError as exc:  # (naming the parameters as the config's notation does)
            raise StepPropError(self.notation.text(str(exc))) from None

    def explain(
        self, only: str | Sequence[str] | None = None, samples: str | int | Sequence[int] | None = None, **options: bool
    ) -> Document:
        """The worked example (only these parameters' derivations, if given).

        ``samples``: whose derivations are step by step, by their numbers
        (``3``, ``[1, 5]``, ``"2-6"``) or ``"all"``; by default every sample
        of a batch of up to 10 and the first of a larger one, the others'
        gradients by the delta rule. ``options`` (each True or False, see
        :func:`stepprop.worked.explain`): ``inputs``, the gradients with
        respect to the inputs; ``changes``, each parameter's change before its
        update; ``compact``, a handout's form (one weight's derivation per
        layer, the rest in tables); ``forward=False``, without the forward
        pass and the error."""
        from .worked import explain

        only = self.notation.canonicals(_names(only))
        return self.notation.document(explain(self.trace, only, samples, **options))

    def matrix(self, inputs: bool = False) -> MatrixStep:
        """The step in matrix form (z^[l] = W^[l] a^[l-1] + b^[l], the deltas,
        the gradients as outer products, the updates), every entry a number of
        this step; ``inputs``: with the gradient with respect to the inputs,
        dE_total/da^[0] = W^[1]^T delta^[1]; ``to_dict()`` gives each layer's
        z, a, delta, gradients and updated parameters."""
        return MatrixStep(self, inputs)

    def stepwise(self, samples: str | int | Sequence[int] | None = None) -> list[int]:
        """The numbers of the samples whose derivations :meth:`explain` shows
        step by step (``samples`` as it takes them; a sample not in this
        step's batch is an error)."""
        from .samples import stepwise

        numbers = self.trace.graph.sample_numbers
        return [numbers[s] + 1 for s in stepwise(self.trace, samples)]

    def document(self) -> Document:
        return self.explain()

    def diagram(self, mode: str = "before") -> Diagram:
        """The network with a number on every edge: the weights ``before`` the
        step, ``after`` it, or their ``gradients``."""
        from .diagram import diagram

        return self.notation.diagram(diagram(self.trace, mode))

    def _picture(self) -> Diagram | None:
        return self.diagram()

    def to_dict(self) -> dict[str, Any]:
        from .report import step_dict

        return self.notation.data(step_dict(self.trace))

    def __repr__(self) -> str:
        return f"<stepprop.Step of {self.trace.net.shape}, batch {self.trace.batch_index + 1}>"


class Steps(_Explained):
    """Consecutive training steps (:meth:`Network.steps`): a list of :class:`Step`."""

    def __init__(self, steps: list[Step]):
        self.steps = steps
        self.notation = steps[0].notation

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, k: int) -> Step:
        return self.steps[k]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def explain(
        self, only: str | Sequence[str] | None = None, samples: str | int | Sequence[int] | None = None, **options: bool
    ) -> Document:
        """Each step's worked example (as :meth:`Step.explain`), one section per step."""
        from .document import Document, Section

        docs = [one.explain(only, samples, **options) for one in self.steps]
        sections = []
        for k, (one, doc) in enumerate(zip(self.steps, docs), start=1):
            trace = one.trace
            numbers = trace.graph.sample_numbers
            which = f"sample {numbers[0] + 1}" if len(numbers) == 1 else f"batch {trace.batch_index + 1}"
            sections.append(Section(f"Step {k} of {len(self.steps)} (update t = {k}, {which})", list(doc.sections)))
        first = docs[0]
        intro = [
            *first.intro,
            f"{count(len(self.steps), 'consecutive step')}: each starts from the parameters "
            "(and the optimiser's state) the one before left.",
        ]
        return Document(first.title, intro, sections, first.compact)

    def document(self) -> Document:
        return self.explain()

    def _picture(self) -> Diagram | None:
        return self.steps[0].diagram()

    def parameters(self, only: str | Sequence[str] | None = None) -> list[str]:
        """As :meth:`Step.parameters` (every step has the same)."""
        return self.steps[0].parameters(only)

    def to_dict(self) -> dict[str, Any]:
        from .report import FORMAT_VERSION

        return {"stepprop": FORMAT_VERSION, "command": "explain", "steps": [step.to_dict() for step in self.steps]}

    def __repr__(self) -> str:
        return f"<stepprop.Steps: {len(self.steps)} of {self.steps[0].trace.net.shape}>"


class MatrixStep(_Shown):
    """One recorded step in matrix form (see :mod:`stepprop.matrix`)."""

    def __init__(self, step: Step, inputs: bool = False):
        from .matrix import MatrixForm

        self.step = step
        self.form = MatrixForm(step.trace)
        self.notation = step.notation
        self.inputs = inputs

    @property
    def layers(self) -> list[dict[str, Any]]:
        """Per layer: z, a, delta, weights, bias, grad_weights, grad_bias,
        weights_after, bias_after (rows are neurons, columns samples; the
        weights and biases in the config's shape)."""
        return self.to_dict()["layers"]

    @property
    def names(self) -> dict[str, list[list[str]]]:
        """Each matrix the step works out (z^[2], dE_total/dW^[2], ...) with the
        scalar names of its entries, as ``check`` reads a matrix answer."""
        name = self.notation.name
        return {name(k): [[name(n) for n in row] for row in grid] for k, grid in self.form.names(True).items()}

    def document(self) -> Document:
        return self.notation.document(self.form.document(self.inputs))

    def to_dict(self) -> dict[str, Any]:
        return self.notation.data(self.form.to_dict())

    def _picture(self) -> Diagram | None:
        return self.step.diagram()

    def __repr__(self) -> str:
        return f"<stepprop.MatrixStep of {self.step.trace.net.shape}>"


class TrainResult(_Shown):
    """A training run: the errors, the outputs and the trained parameters."""

    def __init__(self, network: Net, result: RawTrainResult, every: int | None, rounding: int | str | None):
        from .notation import notation_of

        self.initial = network
        self.result = result
        self.every = every
        self.rounding = rounding
        self.notation = notation_of(network)

    def __getattr__(self, name: str) -> Any:
        # epochs, error, final_error, outputs, sample_errors, values, history, interrupted, curve
        from .training import TrainResult as Raw

        if name in Raw._fields:
            return _delegate(self, "result", name)
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        from .training import TrainResult as Raw

        return sorted(set(super().__dir__()) | set(Raw._fields))

    @property
    def network(self) -> Network:
        """The trained network (a new Network; the original is unchanged)."""
        config = self.initial.with_values(self.result.values)
        epochs = config.trained_epochs + self.result.epochs  # a trained network trained on: all of them
        origin = config.trained_from or config.source
        return Network(
            config._replace(
                source=f"{origin}, trained {count(epochs, 'epoch')}", trained_epochs=epochs, trained_from=origin
            )
        )

    def document(self) -> Document:
        from .report import train_document

        return self.notation.document(train_document(self.initial, self.result, self.every, self.rounding))

    def to_dict(self) -> dict[str, Any]:
        from .report import train_dict

        return self.notation.data(train_dict(self.initial, self.result, self.rounding))

    def __repr__(self) -> str:
        return f"<stepprop.TrainResult {count(self.result.epochs, 'epoch')}, error {self.result.error:.9g}>"


class Grades(_Shown):
    """The grades of a student's answers (``stepprop check``): ``graded``, one
    per answer (status, exact value, note, mistakes), and ``wrong``, how many
    are wrong."""

    def __init__(self, grades: Graded | GraphGrades):
        self.grades = grades
        self.notation = grades.checker.notation

    def __getattr__(self, name: str) -> Any:
        return _delegate(self, "grades", name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {"graded", "wrong", "checker", "source"})

    def document(self) -> Document:
        return self.notation.document(self.grades.document())

    def to_dict(self) -> dict[str, Any]:
        return self.notation.data(self.grades.to_dict())

    def __repr__(self) -> str:
        counts = self.grades.to_dict()["counts"]
        return f"<stepprop.Grades {', '.join(f'{n} {s}' for s, n in counts.items())}>"


class ClassGrades(_Shown):
    """The grades of a whole class (``stepprop check CONFIG class.csv``):
    ``students``, one per row (``student.id``, ``grades``: a student's Grades,
    ``first_wrong()``, ``mistake()``), ``questions()``, each answer's counts
    and the mistake named most for it, and ``wrong``, how many students have a
    wrong answer. ``to_csv()`` is every grade as a spreadsheet."""

    def __init__(self, grades: GradedClass):
        self.grades = grades
        self.notation = grades.checker.notation

    def __getattr__(self, name: str) -> Any:
        return _delegate(self, "grades", name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {"students", "questions", "wrong", "names", "checker", "source"})

    def document(self) -> Document:
        return self.notation.document(self.grades.document())

    def to_dict(self) -> dict[str, Any]:
        return self.notation.data(self.grades.to_dict())

    def to_csv(self) -> str:
        """One row per student: the counts, the first wrong answer, the likely
        mistake, and each answer's status."""
        from .views.csv import csv_text

        return csv_text(self.grades.rows())

    def __repr__(self) -> str:
        students = count(len(self.grades.students), "student")
        return f"<stepprop.ClassGrades {students}, {self.grades.wrong} with a wrong answer>"


class QuizClassGrades(ClassGrades):
    """The grades of a class that sat a quiz (:func:`check_quiz`): as
    :class:`ClassGrades`, each student graded against their own variant;
    ``feedback(id)``, a student's feedback (their worked solution with
    their wrong answers marked); ``files()`` and ``write(folder)``:
    grades.csv and feedback/ID.md and .html."""

    def __init__(self, grades: GradedQuiz):
        super().__init__(grades)
        self.quiz = grades.quiz  # the quiz's folder, asked names, variants and rounding

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {"quiz", "missing"})

    def feedback(self, student: str, format: str = "markdown") -> str:
        """A student's feedback (by id), in ``format`` (markdown or html; the
        worked solution's diagram in html)."""
        from .grading.quizclass import feedback

        found = next((s for s in self.grades.students if s.student.id == student), None)
        if found is None:
            raise StepPropError(f"no student '{student}' in {self.grades.source}")
        rounding = self.quiz.rounding
        hand = Step(step(Net(found.grades.checker.config), 0, rounder_of(rounding), rounding))  # as solution.md
        return render_document(feedback(found, hand.document(), rounding), format, picture=hand._picture)

    def files(self) -> Iterator[tuple[str, str]]:
        """(path within the output folder, text): grades.csv, then each student's feedback."""
        yield "grades.csv", self.to_csv()
        for s in self.grades.students:
            for ext, fmt in (("md", "markdown"), ("html", "html")):
                yield f"feedback/{s.student.id}.{ext}", self.feedback(s.student.id, fmt)

    def targets(self, folder: str | Path) -> list[str]:
        """The files ``write(folder)`` writes."""
        ids = [s.student.id for s in self.grades.students]
        paths = ["grades.csv", *(f"feedback/{i}.{ext}" for i in ids for ext in ("md", "html"))]
        return [os.path.join(os.fspath(folder), *p.split("/")) for p in paths]

    def write(self, folder: str | Path | None = None, force: bool = False) -> list[str]:
        """Write grades.csv and feedback/ into ``folder`` (by default the quiz's);
        an existing file is refused unless ``force``, before anything is written."""
        from .files import write_atomic

        folder = os.fspath(folder if folder is not None else self.quiz.folder)
        existing = [p for p in self.targets(folder) if os.path.exists(p)]
        if existing and not force:
            more = f" (and {count(len(existing) - 1, 'other')})" if len(existing) > 1 else ""
            raise StepPropError(f"{existing[0]} exists{more}; pass --force to replace the grades and feedback")
        try:
            os.makedirs(os.path.join(folder, "feedback"), exist_ok=True)
        except OSError as exc:
            raise StepPropError(f"{folder}: cannot make the folder: {exc.strerror or exc}") from None
        paths = []
        for path, text in self.files():
            target = os.path.join(folder, *path.split("/"))
            write_atomic(target, text)
            paths.append(target)
        return paths

    def __repr__(self) -> str:
        students = count(len(self.grades.students), "student")
        return f"<stepprop.QuizClassGrades {students}, {self.grades.wrong} with a wrong answer>"


class Verification(_Shown):
    """Every gradient beside finite differences and PyTorch (``stepprop verify``):
    ``ok``, and ``rows``, one per parameter (an expression's: one per input, df/dx)."""

    def __init__(self, found: Verified):
        from .network import Net
        from .notation import notation_of

        self.found = found
        if isinstance(found.config, Config):  # (an expression's names are its own)
            self.notation = notation_of(Net(found.config))

    def __getattr__(self, name: str) -> Any:
        return _delegate(self, "found", name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | {"ok", "rows", "config", "torch_available", "torch_note", "h", "batch"})

    def document(self) -> Document:
        return self.notation.document(self.found.document())

    def to_dict(self) -> dict[str, Any]:
        return self.notation.data(self.found.to_dict())

    def __repr__(self) -> str:
        gradients = count(len(self.found.rows), "gradient")
        return f"<stepprop.Verification {'ok' if self.found.ok else 'DISAGREES'}, {gradients}>"


def load(config: str | Path | None = None) -> Any:
    """A network (:class:`Network`) or an expression (:class:`Expression`,
    a config with ``expression:``) from a config file, a bundled example's
    name (``xor``, ``staged``), or, with nothing, the post's network.
    Config errors raise :class:`stepprop.ConfigError` with the file, line
    and column."""
    if config is None:
        return Network(configs.load(None))
    text, source, folder = _config_text(config)
    root = configs.compose(text, source)
    from . import graph

    if graph.is_expression(root):
        return Expression(graph.from_yaml(root, source, text))
    return Network(configs.Validator(source, folder).config(root))


def _config_text(config: str | Path) -> tuple[str, str, str]:
    """A config's text, how messages name it (a file, or a bundled example),
    and the folder its CSV file of samples is relative to (the file's, or the
    bundled examples')."""
    if not os.path.exists(config):
        names = configs.bundled_names()
        if str(config) in names:
            return configs.bundled_text(str(config)), f"the bundled {config}.yaml", os.fspath(configs.BUNDLED_DIR)
        close = configs.suggest(str(config), names)
        if close:
            raise ConfigError(f"no such file, nor a bundled example{close}", str(config))
    return configs.read_text(config), str(config), os.path.dirname(config)


def load_network(config: str | Path | None = None) -> Network:
    """:func:`load`, for a network only (an expression is an error that says so)."""
    found = load(config)
    if isinstance(found, Expression):
        raise StepPropError(
            f"{found.config.source} is an expression, not a network: explain, check, diagram and verify read it; "
            "train and the network's options need a network"
        )
    return found


def _network(network: Net | str | Path | None) -> Net:
    """A network, or what :func:`load` takes."""
    return network if isinstance(network, Net) else load_network(network)


class Expression(_Shown):
    """An expression's graph (an expression config: see :mod:`stepprop.graph`),
    evaluated and differentiated by the recording engine::

        e = stepprop.load("staged")        # f = (x + y) * z, staged as q = x + y
        e.values["q"], e.gradients["df/dx"]   # 3.0, -4.0
    """

    def __init__(self, config: graph.Expression, round: int | str | None = None):
        from .graph import record

        self.config = config
        self.rounding = parse_rounding(round) if round is not None else None
        rounder = rounder_of(self.rounding) if self.rounding is not None else None
        self.trace = record(config, rounder, self.rounding)

    @classmethod
    def from_text(cls, text: str, source: str = "<expression>") -> Expression:
        """An expression from a config's YAML text (expression:, values:)."""
        from .graph import parse

        return cls(parse(text, source))

    @property
    def output(self) -> str:
        return self.trace.output.name

    @property
    def values(self) -> dict[str, float]:
        """Every input's and operation's value, by name, in the order worked out."""
        return self.trace.values

    @property
    def gradients(self) -> dict[str, float]:
        """The output's gradient with respect to every node: df/dx, df/dq."""
        return self.trace.gradients

    @property
    def local_gradients(self) -> dict[str, float]:
        """Each edge's local gradient, d(node)/d(its operand): dq/dx."""
        return self.trace.locals

    @property
    def order(self) -> list[str]:
        """The operations in the order the forward pass visits them."""
        return self.trace.order

    @property
    def names(self) -> dict[str, float]:
        """Every name ``check`` grades, with its value."""
        return self.trace.names()

    def document(self) -> Document:
        from .graphworked import explain

        return explain(self.trace)

    def diagram(self) -> GraphDiagram:
        """The graph as CS231n draws it (``stepprop diagram``): a box per
        operation, and on each edge the value flowing forward and the
        gradient flowing back."""
        from .graphdiagram import diagram

        return diagram(self.trace)

    def _picture(self) -> GraphDiagram | None:
        drawn = self.diagram()
        return drawn if drawn.drawable else None

    def to_dict(self) -> dict[str, Any]:
        from .graphworked import to_dict

        return to_dict(self.trace)

    def __repr__(self) -> str:
        return (
            f"<stepprop.Expression {self.output} of {', '.join(self.config.values) or 'no inputs'}, "
            f"{count(len(self.trace.operations), 'operation')}>"
        )


class Example(NamedTuple):
    """A config that comes with stepprop (``stepprop examples``)."""

    name: str
    shape: str
    description: str  # the first line of its comment


def examples() -> list[Example]:
    """The bundled example configs; each name works in place of a file."""
    found = []
    for name in configs.bundled_names():
        text = configs.bundled_text(name)
        first = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), "")
        loaded = load(name)
        shape = "expression" if isinstance(loaded, Expression) else "-".join(str(n) for n in loaded.config.shape)
        found.append(Example(name, shape, first))
    return found


def answer_files() -> list[str]:
    """The bundled answers files (the post's own figures), for :func:`check`."""
    return configs.bundled_answer_names()


def example_text(name: str) -> str:
    """A bundled example's YAML, comments and all; its CSV file of samples,
    if it has one, named by its absolute path (the copy is read from anywhere)."""
    import json
    import re

    names = configs.bundled_names()
    if name not in names:
        raise StepPropError(f"no bundled example '{name}'{configs.suggest(name, names)}; there are: {', '.join(names)}")
    folder = os.fspath(configs.BUNDLED_DIR)

    def absolute(found: re.Match[str]) -> str:
        return found[1] + json.dumps(os.path.join(folder, found[2]))

    return re.sub(r"(?m)^(\s+csv:\s*)([\w.-]+)", absolute, configs.bundled_text(name))


def new_config(
    shape: str,
    activation: str = "sigmoid",
    loss: str = "half_squared_error",
    bias: str = "shared",
    seed: int = 0,
    delta: str = "gradient",
    bias_input: float = 1,
    notation: str = "mazur",
    from_csv: str | Path | None = None,
    inputs: Sequence[str] = (),
    targets: Sequence[str] = (),
    one_hot: str | None = None,
    folder: str | Path | None = None,
) -> str:
    """A new config's YAML with a comment on every key (``stepprop init``):
    ``shape`` like '2-3-1', random weights from ``seed``; ``delta``,
    ``bias_input`` and ``notation`` as the config keys of those names.
    ``from_csv``: samples from that CSV file, its ``inputs`` columns and its
    ``targets`` columns or its class column ``one_hot`` (the shape starts and
    ends with their numbers); the config is to be written in ``folder`` (by
    default the current one), which the CSV file is named relative to."""
    from .init import FromCsv
    from .init import new_config as written

    data = None
    if from_csv is not None:
        where = os.fspath(folder) if folder is not None else os.getcwd()
        data = FromCsv(os.fspath(from_csv), list(inputs), list(targets), one_hot, where)
    return written(
        shape, activation, loss, seed, bias, delta=delta, bias_input=bias_input, notation=notation, data=data
    )


def new_expression() -> str:
    """A new expression config's YAML, commented (``stepprop init --expression``)."""
    from .init import expression_config

    return expression_config()


def answers_of(answers: str | Path | Mapping[str, Any] | Answers) -> tuple[Answers, str]:
    """Answers from a file, a bundled answers file's name, or a mapping of
    names to numbers; and how to name their source."""
    from .grading import Answers, load_answers

    if isinstance(answers, Answers):
        return answers, "the answers"
    if isinstance(answers, Mapping):
        import yaml

        text = yaml.safe_dump({str(k): _number_text(str(k), v) for k, v in answers.items()}, sort_keys=False)
        try:
            found = load_answers(text=text, source="the answers")
        except ConfigError as exc:  # a position in our own YAML text would mean nothing
            raise ConfigError(exc.message, "the answers") from None
        unplaced = Answers(a.unplaced() for a in found)
        unplaced.epochs = found.epochs
        return unplaced, "the answers"
    if not isinstance(answers, (str, os.PathLike)):
        raise StepPropError(
            f"answers are a file, a bundled answers file's name, or a mapping of names to numbers, "
            f"not {type(answers).__name__}"
        )
    path = os.fspath(answers)
    bundled = configs.bundled_answers(str(answers))
    if not os.path.exists(path) and bundled is not None:
        return load_answers(bundled), f"the bundled {answers}.yaml"
    return load_answers(path), str(answers)


def check(
    network: Net | str | Path | None,
    answers: str | Path | Mapping[str, Any] | Answers,
    epochs: int | None = None,
    step: int | None = None,
) -> Grades:
    """Grade answers (a file, a bundled answers name, or ``{name: number}``;
    write numbers as text, "0.5933", to keep the digits written) against the
    network's exact numbers, naming the likely mistake of each wrong one.
    ``step=K``: answers about the K-th of consecutive updates (an optimiser's
    state, v_w5, m_hat_w5, after K - 1 before it), as ``explain --steps``."""
    from .grading import check as grade

    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= MAX_STEPS):
        raise StepPropError(f"step must be a whole number from 1 to {MAX_STEPS}, not {step!r}")
    if is_class_file(answers):
        raise StepPropError(f"{answers} is a class's answers (CSV): grade it with stepprop.check_class")
    found, source = answers_of(answers)
    target = network if isinstance(network, (Net, Expression)) else load(network)
    if isinstance(target, Expression):
        from .grading.graph import check as grade_graph

        if epochs or step not in (None, 1) or found.epochs or (found.step or 1) > 1:
            raise StepPropError("an expression has no training: its answers take no epochs or step")
        return Grades(grade_graph(target.config, found, source))
    return Grades(grade(target.config, found, epochs, source, step))


def check_class(
    network: Net | str | Path | None,
    answers: str | Path | Mapping[str, Mapping[str, Any]],
    epochs: int | None = None,
) -> ClassGrades:
    """Grade a whole class: a CSV file (a header row of answer names, the first
    column the students' ids, one row per student) or ``{id: {name: number}}``.
    ``network`` a quiz's folder: each student against their own variant (see
    :func:`check_quiz`)."""
    from .grading.classroom import check_class as grade_class
    from .grading.quizclass import is_quiz

    if isinstance(network, (str, os.PathLike)) and is_quiz(os.fspath(network)):
        if epochs:
            raise StepPropError("a quiz asks about one training step: grade its answers without epochs")
        return check_quiz(network, answers)

    students, source = class_of(answers)
    return ClassGrades(grade_class(_network(network).config, students, epochs, source))


def check_quiz(quiz: str | Path, answers: str | Path | Mapping[str, Mapping[str, Any]]) -> QuizClassGrades:
    """Grade a class that sat a quiz (``stepprop check QUIZ/ submissions.csv``):
    each row (its id the student's variant folder, as key.csv names it) against
    its own variant, as ``check`` grades one student. ``.write(folder)``
    writes grades.csv and feedback/ID.md and .html."""
    from .grading.quizclass import check_quiz as grade_quiz
    from .grading.quizclass import load_quiz

    found = load_quiz(os.fspath(quiz))
    students, source = class_of(answers)
    return QuizClassGrades(grade_quiz(found, students, source))


def class_of(answers: str | Path | Mapping[str, Mapping[str, Any]]) -> tuple[list[Any], str]:
    """A class's answers from a CSV file or a mapping of ids to answers; and how
    to name their source."""
    from .grading.answers import Student, load_class

    if isinstance(answers, Mapping):
        students = []
        for k, (sid, mine) in enumerate(answers.items(), start=1):
            if not isinstance(mine, Mapping):
                raise StepPropError(f"the answers of {sid!r} are a mapping of names to numbers, not {mine!r}")
            students.append(Student(str(sid), k, answers_of(mine)[0]))
        names = [[a.name for a in s.answers] for s in students]
        if any(n != names[0] for n in names):
            raise StepPropError("every student of a class answers the same names, in the same order")
        if not students:
            raise StepPropError("no students: give {id: {name: number}} for at least one")
        return students, "the answers"
    if not isinstance(answers, (str, os.PathLike)):
        raise StepPropError(
            f"a class's answers are a CSV file or a mapping of ids to answers, not {type(answers).__name__}"
        )
    return load_class(os.fspath(answers)), str(answers)


def is_class_file(answers: object) -> bool:
    """A class's answers (a .csv or .tsv file), not one student's."""
    if not isinstance(answers, (str, os.PathLike)):
        return False
    return os.path.splitext(os.fspath(answers))[1].lower() in (".csv", ".tsv")


def answers_template(network: Net | str | Path | None = None, batch: int = 1) -> str:
    """An answers file to fill in for ``stepprop check``: every name of the worked
    example, in its order and sections, each with what it is."""
    from .grading import template

    found = network if isinstance(network, (Net, Expression)) else load(network)
    if isinstance(found, Expression):
        from .grading.graph import template as graph_template

        return graph_template(found.trace)
    net = _network(found)
    return template(step(net, _batch(net.config, batch)))


def make_quiz(template: str | Path | None = None, **options: Any) -> Quiz:
    """A quiz (``stepprop quiz``): one problem, a different draw of its numbers
    per variant, each checked to make a good exercise. ``options``, as the
    command's: shape ('2-2-2'), activation, loss, bias, eta, range ('-1,1': the
    weights, biases and inputs), targets ('0.01,0.99'), decimals (of the given
    numbers), ask (names and groups: 'forward output-layer hidden-layer
    updates'), round (4 or '3sf'), seed, count, students (a roster CSV of
    id,name); ``template``: a YAML file of the same options, those given here
    taking precedence. ``.write(folder)`` writes its files; ``.lms()`` gives
    its variants for a learning platform."""
    from .quiz import TEMPLATE_KEYS, load_template, make
    from .quiz import template as template_of

    unknown = [key for key in options if key not in TEMPLATE_KEYS]
    if unknown:
        raise StepPropError(f"make_quiz takes no option {unknown[0]!r}; its options: {', '.join(TEMPLATE_KEYS)}")
    found = load_template(os.fspath(template)) if template is not None else {}
    found.update({key: value for key, value in options.items() if value is not None})
    chosen = template_of(found)
    return Quiz(chosen, make(chosen))


class Quiz:
    """A quiz's variants (:func:`make_quiz`), each a :class:`stepprop.quiz.Drawn`
    (its id, config, exact and hand-rounded step, questions), and its files:
    each variant's sheet and solution rendered by the views."""

    def __init__(self, template: Template, variants: list[Drawn]):
        self.template = template
        self.variants = variants

    @property
    def names(self) -> list[str]:
        """The asked quantities, in the order asked."""
        return [q.name for q in self.variants[0].questions]

    def files(self) -> Iterator[tuple[str, str | bytes]]:
        """(path within the output folder, text or bytes) of every file: a folder
        per variant, then key.csv and the learning platforms' files (moodle.xml:
        Moodle XML; canvas-qti.zip: IMS QTI 1.2 as Canvas imports it)."""
        from .lms import moodle_xml, qti_zip
        from .quiz import QUIZ, key_csv, template_yaml

        for v in self.variants:
            sheet = v.sheet()
            picture = Step(v.exact)._picture
            solution = Step(v.hand)
            yield f"{v.id}/problem.yaml", v.problem()
            for ext, fmt in (("md", "markdown"), ("html", "html"), ("tex", "latex")):
                yield f"{v.id}/sheet.{ext}", render_document(sheet, fmt, picture=picture)
            yield f"{v.id}/answers-template.yaml", v.answers(blank=True)
            yield f"{v.id}/key.yaml", v.answers(blank=False)
            for ext, fmt in (("md", "markdown"), ("html", "html"), ("tex", "latex")):
                yield f"{v.id}/solution.{ext}", solution.render(fmt)
        yield "key.csv", key_csv(self.variants)
        yield QUIZ, template_yaml(self.template, self.variants[0].rounding)
        title = self.title
        yield "moodle.xml", moodle_xml(self.lms(moodle=True), title)
        yield "canvas-qti.zip", qti_zip(self.lms(), title)

    @property
    def title(self) -> str:
        """The quiz's name in a learning platform: its shape and seed."""
        return f"stepprop {self.template.shape} (seed {self.template.seed})"

    def lms(self, moodle: bool = False) -> list[QuizVariant]:
        """The variants for a learning platform's export (:mod:`stepprop.lms`):
        the sheet and the worked solution as HTML fragments, and the questions.
        ``moodle``: as Moodle's HTML cleaner keeps them, the math as TeX for its
        MathJax filter and the diagram an image, diagram.svg, in the variant's
        files (MathML and inline SVG are stripped)."""
        from .lms import DIAGRAM, PLUGINFILE, SOLUTION_DIAGRAM, Variant
        from .views.html import body

        out = []
        for v in self.variants:
            sheet, solution = Step(v.exact), Step(v.hand)
            if not moodle:
                problem = body(render_document(v.sheet(), "html", picture=sheet._picture))
                out.append(Variant(v.id, v.title, problem, list(v.questions), body(solution.render("html"))))
                continue
            files = {DIAGRAM: _svg(sheet), SOLUTION_DIAGRAM: _svg(solution)}
            if files[SOLUTION_DIAGRAM] == files[DIAGRAM]:  # the same picture (always, so far): one file
                del files[SOLUTION_DIAGRAM]
            src, worked_src = PLUGINFILE + DIAGRAM, PLUGINFILE + next(reversed(files))  # the last: its own, if kept
            files = {name: svg for name, svg in files.items() if svg}  # (no picture: no file, no <img>)
            problem = body(render_document(v.sheet(), "html", picture=sheet._picture, math="tex", src=src))
            document = solution.document()
            worked = body(render_document(document, "html", picture=solution._picture, math="tex", src=worked_src))
            out.append(Variant(v.id, v.title, problem, list(v.questions), worked, files))
        return out

    def write(self, folder: str | Path, force: bool = False) -> list[str]:
        """Write every file under ``folder`` (made if missing; a folder holding
        anything is refused unless ``force``), each atomically; the paths written."""
        from .files import write_atomic

        folder = os.fspath(folder)
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise StepPropError(f"{folder}: not a folder")
        if os.path.isdir(folder) and os.listdir(folder) and not force:
            raise StepPropError(
                f"{folder} is not empty; pass --force to write into it (its variants' files are replaced)"
            )
        try:
            for v in self.variants:
                os.makedirs(os.path.join(folder, v.id), exist_ok=True)
        except OSError as exc:
            raise StepPropError(f"{folder}: cannot make the folder: {exc.strerror or exc}") from None
        from .files import write_bytes_atomic

        paths = []
        for path, data in self.files():
            target = os.path.join(folder, *path.split("/"))
            if isinstance(data, bytes):
                write_bytes_atomic(target, data)
            else:
                write_atomic(target, data)
            paths.append(target)
        return paths

    def __repr__(self) -> str:
        return f"<stepprop.Quiz: {count(len(self.variants), 'variant')} of {self.template.shape}>"


def _svg(result: _Shown) -> bytes:
    """The SVG a result's HTML export embeds (b"" if it draws none)."""
    drawn = result._picture()
    return b"" if drawn is None else drawing(drawn).svg(drawn).encode("utf-8")


def verify(network: Net | Expression | str | Path | None, batch: int = 1, use_torch: bool = True) -> Verification:
    """Every gradient of one step (of an expression: d output / d input, for
    every input) against central finite differences and, when it is
    installed, PyTorch's autograd."""
    from .verification import verify as recompute
    from .verification import verify_expression

    target = network if isinstance(network, (Net, Expression)) else load(network)
    if isinstance(target, Expression):
        if batch != 1:
            raise StepPropError("an expression has no batches: verify it without batch")
        return Verification(verify_expression(target.config, use_torch=use_torch))
    config = target.config
    return Verification(recompute(config, _batch(config, batch), use_torch=use_torch))


def _round(places: int | str | None) -> tuple[Any, Any]:
    """(rounder, rounding) of ``round=4`` (decimals) or ``round="3sf"`` (significant figures)."""
    if places is None:
        return None, None
    if isinstance(places, bool) or not isinstance(places, (int, str)):
        raise StepPropError(f"round is a number of decimals (4) or of significant figures ('3sf'), not {places!r}")
    try:
        rounding = parse_rounding(places)
    except ValueError as exc:
        raise StepPropError(str(exc)) from None
    return rounder_of(rounding), rounding


def _names(only: str | Sequence[str] | None) -> list[str] | None:
    """``only``: one parameter's name or several ('w5', 'w5,b2', ['w5', 'b2'])."""
    items = [only] if isinstance(only, str) else list(only or [])
    return [n.strip() for item in items for n in str(item).split(",") if n.strip()] or None


class Quantities(dict):
    """Numbers by name; an unknown name says which names are close."""

    def __missing__(self, name: str) -> float:
        raise KeyError(f"no quantity '{name}'{configs.suggest(str(name), self, 3)}")


def _batch(config: Config, batch: int) -> int:
    """A 1-based batch number as an index, or an error naming how many there are."""
    n = len(config.batches())
    if not 1 <= batch <= n:
        raise StepPropError(f"batch {batch}: this config has {count(n, 'batch', 'batches')}")
    return batch - 1


def _number_text(name: str, value: Any) -> Any:
    """An answer as written: text stays as it is; a number keeps its shortest repr
    (``epochs`` stays a whole number); None is left blank (unanswered)."""
    if value is None:
        return None
    value = _plain_data(value)
    if name == "epochs" and isinstance(value, (int, str)) and not isinstance(value, bool):
        return int(value) if isinstance(value, int) or value.strip().isdigit() else value
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # as written: a huge one is refused with the reason, not converted
    if isinstance(value, float):
        return repr(value)
    raise ConfigError(f"the answer for {name} is {value!r}: write a number, like 0.5933", "the answers")


def _plain_data(value: Any) -> Any:
    """Numbers, strings, lists and mappings, as YAML can write them (tuples,
    NumPy numbers and arrays included); anything else is an error."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # a NumPy scalar or array
        value = value.tolist()
    if isinstance(value, Mapping):
        return {str(k): _plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_data(v) for v in value]
    if isinstance(value, (bool, str, int, float)) or value is None:
        return value
    if hasattr(value, "__index__"):
        return int(value.__index__())
    if hasattr(value, "__float__"):
        return float(value)
    raise ConfigError(f"{type(value).__name__} {value!r:.40} is not a number, text, list or mapping", "<dict>")

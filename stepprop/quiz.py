"""`stepprop quiz`: one problem, a different draw of its numbers for every student.

A :class:`Template` says what the problem is (the shape, activations, loss,
biases, eta, the range and decimals of the given numbers, the quantities
asked and how students must round); :func:`make` draws one variant per
student (or ``count`` of them) from ``random.Random(seed)``, redrawing any
draw that would make a poor exercise (see :func:`degenerate`), and
:class:`stepprop.api.Quiz` renders and writes every file, the same bytes
for the same seed. The problem sheet is a small :class:`~stepprop.document.Document`
made here; the worked solution is ``explain``'s, in hand-calculation mode.
"""

from __future__ import annotations

import csv
import math
import os
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .config import BIAS_MODES, LOSSES, Config, Sample, parse, suggest
from .document import Document, Section, Table, Text
from .errors import ConfigError, StepPropError
from .init import draw, new_config, parse_shape, render
from .lms import Question
from .names import checkable, values_of
from .network import Net
from .ops import LAYER_ACTIVATIONS
from .rounding import Rounding, describe, written
from .rounding import parse as parse_rounding
from .words import count

if TYPE_CHECKING:
    from .step import StepTrace

MAX_DRAWS = 1_000  # draws tried per variant before giving up
SMALLEST = 1e-3  # an asked quantity smaller than this (in magnitude) is too small to ask
SATURATED = 4.0  # a sigmoid or tanh whose |net| is above this is flat: its derivative is nearly 0
MAX_VARIANTS = 1_000
PROBLEM = "problem.yaml"  # how every variant's config names itself
GROUPS = ("forward", "output-layer", "hidden-layer", "updates")
DEFAULT_ASK = ("out_o1", "E_total", "dE_total/dw5", "w5+", "dE_total/dw1", "w1+")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

# the reasons a draw is redrawn (the message when none passes names the most frequent)
TOO_SMALL = f"an asked quantity is 0 or below {SMALLEST:g} in magnitude"
DEAD_RELU = "a ReLU is dead (its net input is not above 0)"
SATURATES = f"a sigmoid or tanh saturates (|net| > {SATURATED:g})"
COINCIDE = "two asked quantities are the same at the asked precision"
HAND_DIFFERS = "the hand calculation, rounded as asked, gives another answer at the asked precision"
UNCHANGED = "an update does not change its parameter at the asked precision"
MISTAKE = "a catalogued mistake gives the right answer at the asked precision"


@dataclass(frozen=True)
class Template:
    """What every variant shares (the options of ``stepprop quiz``)."""

    shape: str = "2-2-2"
    activation: str = "sigmoid"
    loss: str = "half_squared_error"
    bias: str = "shared"
    eta: float = 0.5
    low: float = -1.0  # the range of the weights, biases and inputs
    high: float = 1.0
    target_low: float = 0.01
    target_high: float = 0.99
    decimals: int = 2  # of every given number
    ask: tuple[str, ...] = DEFAULT_ASK  # names, or groups (GROUPS)
    round: Rounding = 4  # how students round: 4 decimals, or "3sf"
    seed: int = 0
    count: int | None = None  # how many variants (without a roster)
    students: tuple[tuple[str, str], ...] = ()  # (id, name) from a roster

    def check(self) -> None:
        """A template that cannot make a quiz: StepPropError saying why."""
        parse_shape(self.shape)
        for key, value, known in (
            ("activation", self.activation, LAYER_ACTIVATIONS),
            ("loss", self.loss, LOSSES),
            ("bias", self.bias, BIAS_MODES),
        ):
            if value not in known:
                raise StepPropError(f"{key} must be one of {', '.join(known)}, not {value!r}")
        if not (math.isfinite(self.eta) and self.eta > 0):
            raise StepPropError(f"eta must be a number above 0, not {self.eta!r}")
        if not (isinstance(self.decimals, int) and 0 <= self.decimals <= 6):
            raise StepPropError(f"decimals (of the given numbers) must be 0 to 6, not {self.decimals!r}")
        for what, low, high in (("range", self.low, self.high), ("targets", self.target_low, self.target_high)):
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise StepPropError(f"{what} is LOW,HIGH with LOW below HIGH, not {low!r},{high!r}")
        if self.students and self.count is not None:
            raise StepPropError("give a count of variants or a roster of students, not both")
        if not self.students and (self.count is None or not 1 <= self.count <= MAX_VARIANTS):
            raise StepPropError(f"give a count of variants (1 to {MAX_VARIANTS}) or a roster of students")
        if not self.ask:
            raise StepPropError(f"ask for at least one quantity (a name such as dE_total/dw5, or {', '.join(GROUPS)})")
        try:
            parse_rounding(self.round)
        except ValueError as exc:
            raise StepPropError(str(exc)) from None

    @property
    def ids(self) -> list[tuple[str, str]]:
        """(id, name) of every variant: the roster's, or 01, 02, ..."""
        if self.students:
            return list(self.students)
        n = self.count or 0
        width = max(2, len(str(n)))
        return [(str(k).zfill(width), "") for k in range(1, n + 1)]


@dataclass
class Drawn:
    """One variant: its config, its step (exact and by hand) and its questions."""

    id: str
    name: str
    config: Config
    exact: StepTrace
    hand: StepTrace
    questions: list[Question]
    rounding: Rounding
    title: str = ""
    redrawn: Counter[str] = field(default_factory=Counter)

    def text(self, question: Question) -> str:
        """The answer as the student writes it: rounded as the sheet asks."""
        return written(question.answer, self.rounding)

    def sheet(self) -> Document:
        """The problem: the given numbers, the asked quantities, the rounding."""
        net = self.exact.net
        cfg = self.config
        layers = [net.input_names, *net.neurons]
        given: list[list[Any]] = []
        sample = cfg.samples[0]
        given += [[n, repr(v), "input"] for n, v in zip(net.input_names, sample.inputs)]
        for li, layer in enumerate(cfg.layers):
            for r, row in enumerate(layer.weights):
                for c, value in enumerate(row):
                    weight = net.weight_names[li][r][c]
                    given.append([weight, repr(value), f"the weight {layers[li][c]} -> {layers[li + 1][r]}"])
            names = net.bias_names[li] or []
            for b in dict.fromkeys(names):
                bias_value = layer.bias[names.index(b)] if isinstance(layer.bias, tuple) else layer.bias
                fed = [layers[li + 1][k] for k, n in enumerate(names) if n == b]
                given.append([b, repr(bias_value), f"the bias of {', '.join(fed)}"])
        given += [[f"target_{n}", repr(v), f"what {n} should output"] for n, v in zip(net.output_names, sample.targets)]
        given.append(["eta", repr(cfg.eta), "the learning rate: w+ = w - eta * dE_total/dw"])
        kinds = [f"{_layer(li, len(cfg.layers))}: {layer.activation}" for li, layer in enumerate(cfg.layers)]
        how = f"Activations: {'; '.join(kinds)}. Error: {cfg.loss.replace('_', ' ')}. " + (
            "Biases are updated too." if cfg.update_biases else "Biases stay fixed."
        )
        asked: list[list[Any]] = [[q.name, q.prompt.partition(" (")[2].rstrip(")") or q.name] for q in self.questions]
        policy = (
            f"Round every intermediate result to {describe(self.rounding)}, half up, before you use it, "
            f"and give each answer to {describe(self.rounding)}."
        )
        return Document(
            self.title,
            [f"One training step of a {net.shape} network, by hand. The diagram and the table give every number."],
            [
                Section("The network", [Text(how), Table(["name", "value", "what it is"], given)]),
                Section("What to work out", [Table(["quantity", "what it is"], asked)]),
                Section("How to round", [Text(policy)]),
            ],
        )

    def problem(self) -> str:
        """problem.yaml: the config, commented as ``stepprop init`` writes one."""
        return render(self.config, f"quiz {self.title}")

    def answers(self, blank: bool) -> str:
        """answers-template.yaml (``blank``) or key.yaml: the asked names, in the order asked."""
        from .grading import yaml_key

        policy = describe(self.rounding)
        if blank:
            lines = [
                f"# Answers for {self.title}: fill in each number, rounded to {policy} (0.0510: trailing zeros count).",
                "# Hand it in as your teacher asks: each answer is graded against your own problem.",
            ]
            lines += [f"{yaml_key(q.name)}:   # {q.prompt}" for q in self.questions]
        else:
            lines = [
                f"# The answers of {self.title}, rounded to {policy}, as the sheet asks;",
                "# each comment has the exact value. stepprop check problem.yaml key.yaml grades them all correct.",
            ]
            lines += [f"{yaml_key(q.name)}: {self.text(q)}   # exact {q.answer!r}" for q in self.questions]
        return "\n".join(lines) + "\n"


def key_csv(variants: Sequence[Drawn]) -> str:
    """One row per variant: its id, then its answer to each asked quantity (as the students round)."""
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *(q.name for q in variants[0].questions)])
    for v in variants:
        writer.writerow([v.id, *(v.text(q) for q in v.questions)])
    return out.getvalue()


QUIZ = "quiz.yaml"  # the options a quiz was made with, at the top of its folder


def template_yaml(template: Template, rounding: Rounding) -> str:
    """quiz.yaml: the options the quiz was made with, as ``--template`` reads them
    (``stepprop check QUIZ/ submissions.csv`` reads the rounding policy from it)."""
    t = template
    lines = [
        "# The options this quiz was made with (stepprop quiz --template quiz.yaml makes it again).",
        f"shape: {t.shape}",
        f"activation: {t.activation}",
        f"loss: {t.loss}",
        f"bias: {t.bias}",
        f"eta: {t.eta!r}",
        f"range: [{t.low!r}, {t.high!r}]",
        f"targets: [{t.target_low!r}, {t.target_high!r}]",
        f"decimals: {t.decimals}",
        f"ask: [{', '.join(repr(a) for a in t.ask)}]",
        f"round: {rounding}",
        f"seed: {t.seed}",
    ]
    if t.students:
        lines.append(f"# students: a roster of {count(len(t.students), 'student')} (each variant's folder is an id)")
    else:
        lines.append(f"count: {t.count}")
    return "\n".join(lines) + "\n"


def quiz_rounding(folder: str) -> Rounding:
    """The rounding policy of the quiz written in ``folder`` (its quiz.yaml)."""
    path = os.path.join(folder, QUIZ)
    if not os.path.isfile(path):
        raise ConfigError("no such file: the options the quiz was made with (its rounding); make the quiz again", path)
    options = load_template(path)
    if "round" not in options:
        raise ConfigError("no round: the rounding policy the students used (4 or 3sf)", os.path.join(folder, QUIZ))
    return template(options).round


def _layer(li: int, n: int) -> str:
    return "output layer" if li == n - 1 else "hidden layer" if n == 2 else f"hidden layer {li + 1}"


def asked_names(trace: StepTrace, ask: Sequence[str]) -> list[str]:
    """The asked quantities' names, each group (GROUPS) spelled out, each name once."""
    net = trace.net
    known = checkable(trace)
    out: list[str] = []
    last = len(net.config.layers) - 1

    def params(layers: Sequence[int]) -> list[str]:
        found = []
        for li in layers:
            found += [w for row in net.weight_names[li] for w in row]
            found += list(dict.fromkeys(net.bias_names[li] or []))
        return found

    for item in ask:
        if item == "forward":
            out += [n for n in values_of(trace.graph) if n.startswith(("net_", "out_", "E_"))]
        elif item == "output-layer":
            out += [f"dE_total/d{p}" for p in params([last])]
        elif item == "hidden-layer":
            out += [f"dE_total/d{p}" for p in params(range(last))]
        elif item == "updates":
            out += [f"{p}+" for p in trace.updated]
        elif item in known:
            out.append(item)
        else:
            given = " (it is given, not worked out)" if item in trace.before else ""
            raise StepPropError(
                f"cannot ask for '{item}'{given}{suggest(item, list(known) + list(GROUPS), 3)}; "
                f"ask for names 'stepprop explain --names' lists, or groups: {', '.join(GROUPS)}"
            )
    missing = [n for n in dict.fromkeys(out) if n not in known]
    if missing:  # (a group's name this network has not, as dE_total/dw5 with biases not updated)
        out = [n for n in out if n in known]
    if not out:
        raise StepPropError("the groups asked name no quantity of this network")
    return list(dict.fromkeys(out))


def prompt(name: str) -> str:
    """A quantity's name with what it is, in plain words."""
    words = _words(name)
    return f"{name} ({words})" if words else name


# what an asked quantity is, in words, by the pattern of its name
_WORDS = (
    (r"net_(\w+)", "the net input of {}"),
    (r"out_(\w+)", "the output of {}"),
    (r"E_total", "the total error"),
    (r"E_(\w+)", "the error of {}"),
    (r"dE_total/d(\w+)", "the gradient of the error with respect to {}"),
    (r"delta_(\w+)", "the delta of {}"),
    (r"([wb]\d+)\+", "{} after the update"),
)


def _words(name: str) -> str:
    for pattern, words in _WORDS:
        m = re.fullmatch(pattern, name)
        if m:
            return words.format(*m.groups())
    return ""


def tolerance(answer: float, rounding: Rounding) -> float:
    """One unit in the last place the rounding keeps (1e-4 for 4 decimals; for
    3sf, of the answer's third figure)."""
    exponent = Decimal(written(answer, rounding)).as_tuple().exponent
    assert isinstance(exponent, int)
    return 10.0**exponent


def draw_config(template: Template, rnd: random.Random) -> Config:
    """A config of the template's kind with newly drawn numbers (the
    conventions, as the output's activation for a loss, those of ``stepprop init``)."""
    t = template
    base = parse(new_config(t.shape, t.activation, t.loss, 0, t.bias, t.eta), PROBLEM)

    def number(low: float, high: float) -> float:
        while True:  # (a given 0 makes a term vanish: never asked)
            x = draw(rnd, low, high, t.decimals)
            if x != 0:
                return x

    layers = []
    for layer in base.layers:
        weights = tuple(tuple(number(t.low, t.high) for _ in row) for row in layer.weights)
        bias = layer.bias
        if isinstance(bias, tuple):
            bias = tuple(number(t.low, t.high) for _ in bias)
        elif bias is not None:
            bias = number(t.low, t.high)
        layers.append(layer._replace(weights=weights, bias=bias))
    sample = base.samples[0]
    inputs = tuple(number(t.low, t.high) for _ in sample.inputs)
    targets = sample.targets
    if base.loss != "cross_entropy":  # (a cross-entropy's targets are one class: as init writes them)
        targets = tuple(number(t.target_low, t.target_high) for _ in targets)
    cfg = base._replace(layers=tuple(layers), samples=(Sample(inputs, targets),))
    return parse(render(cfg, "quiz"), PROBLEM)  # as problem.yaml will read


def questions_of(exact: StepTrace, names: Sequence[str], rounding: Rounding) -> list[Question]:
    known = checkable(exact)
    return [Question(n, prompt(n), known[n], tolerance(known[n], rounding)) for n in names]


def degenerate(trace: StepTrace, hand: StepTrace, questions: Sequence[Question], rounding: Rounding) -> str | None:
    """Why this draw makes a poor exercise (one of the reasons above), or None."""
    if any(not math.isfinite(q.answer) or abs(q.answer) < SMALLEST for q in questions):
        return TOO_SMALL
    values = values_of(trace.graph)
    for li, layer in enumerate(trace.config.layers):
        nets = [values[f"net_{n}"] for n in trace.net.neurons[li]]
        if layer.activation == "relu" and any(v <= 0 for v in nets):
            return DEAD_RELU
        if layer.activation in ("sigmoid", "tanh") and any(abs(v) > SATURATED for v in nets):
            return SATURATES
    shown = [written(q.answer, rounding) for q in questions]
    if len(set(shown)) < len(shown):
        return COINCIDE
    by_hand = checkable(hand)
    if any(written(by_hand[q.name], rounding) != text for q, text in zip(questions, shown)):
        return HAND_DIFFERS
    for q, text in zip(questions, shown):
        if q.name.endswith("+") and q.name[:-1] in trace.before:
            if written(trace.before[q.name[:-1]], rounding) == text:
                return UNCHANGED
    if _mistaken(trace.config, questions):
        return MISTAKE
    return None


def _mistaken(config: Config, questions: Sequence[Question]) -> bool:
    """Whether a mistake of the catalogue, run as ``check`` runs it, gives a
    number within an asked quantity's tolerance of the right one (but not the
    right one: a mistake that does not change a quantity is no mistake of it)."""
    from .grading import Checker
    from .grading.answers import PRECISE

    checker = Checker(config)
    checker.want(q.name for q in questions)
    for mistake in checker.tried():
        values = checker.run(mistake).values
        for q in questions:
            value = values.get(q.name)
            if value is None or not math.isfinite(value):
                continue
            changed = abs(value - q.answer) > PRECISE * abs(q.answer)
            if changed and abs(value - q.answer) <= q.tolerance:
                return True
    return False


def make(template: Template) -> list[Drawn]:
    """The quiz's variants, drawn from ``random.Random(template.seed)``."""
    from .rounding import rounder
    from .step import step

    template.check()
    rounding = parse_rounding(template.round)
    rnd = random.Random(template.seed)
    names: list[str] | None = None
    variants = []
    for vid, student in template.ids:
        reasons: Counter[str] = Counter()
        for _ in range(MAX_DRAWS):
            net = Net(draw_config(template, rnd))
            exact = step(net, 0)
            if names is None:
                names = asked_names(exact, template.ask)
            questions = questions_of(exact, names, rounding)
            hand = step(net, 0, rounder(rounding), rounding)
            reason = degenerate(exact, hand, questions, rounding)
            if reason is None:
                title = f"Backpropagation, variant {vid}" + (f" ({student})" if student else "")
                variants.append(Drawn(vid, student, net.config, exact, hand, questions, rounding, title, reasons))
                break
            reasons[reason] += 1
        else:
            worst, times = reasons.most_common(1)[0]
            raise StepPropError(
                f"no draw of {count(MAX_DRAWS, 'try', 'tries')} for variant {vid} makes a good exercise: "
                f"most often ({times} times), {worst}. Widen the range of the numbers, round to more digits, "
                "or ask for other quantities"
            )
    return variants


# the keys a template file (--template quiz.yaml) may hold, and the Template field each sets
TEMPLATE_KEYS = (
    "shape",
    "activation",
    "loss",
    "bias",
    "eta",
    "range",
    "targets",
    "decimals",
    "ask",
    "round",
    "seed",
    "count",
    "students",
)


def load_template(path: str) -> dict[str, Any]:
    """A template file's options (YAML: the keys of TEMPLATE_KEYS), as
    :func:`template` takes them; an unknown key or a value of the wrong kind
    is an error at its line."""
    import yaml

    from .config import compose, read_text

    text = read_text(path, "a quiz template")
    root = compose(text, path, "the template is empty: give shape:, ask:, round: and count: or students:")
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError("a quiz template is a mapping of options (shape: 2-2-2, ask: ..., count: 30)", path, 1, 1)
    options: dict[str, Any] = {}
    for knode, vnode in root.value:
        key = str(knode.value)
        line, column = knode.start_mark.line + 1, knode.start_mark.column + 1
        if key not in TEMPLATE_KEYS:
            raise ConfigError(f"unknown option '{key}'{suggest(key, TEMPLATE_KEYS)}", path, line, column)
        value = yaml.safe_load(yaml.serialize(vnode))
        where = (path, vnode.start_mark.line + 1, vnode.start_mark.column + 1)
        try:
            options[key] = _option(key, value, os.path.dirname(path))
        except (StepPropError, ValueError, TypeError) as exc:
            message = exc.message if isinstance(exc, ConfigError) else str(exc)
            raise ConfigError(f"{key}: {message}", *where) from None
    return options


def _option(key: str, value: Any, folder: str) -> Any:
    """A template file's value as the command line's option gives it."""
    if key in ("range", "targets"):
        if isinstance(value, str):
            return value
        if isinstance(value, list) and len(value) == 2:
            return f"{value[0]},{value[1]}"
        raise ValueError("give LOW,HIGH, or [LOW, HIGH]")
    if key == "ask":
        if isinstance(value, list):
            return " ".join(str(v) for v in value)
        return str(value)
    if key == "students":
        return os.path.join(folder, str(value))  # (relative to the template's folder)
    if key in ("seed", "count", "decimals"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"a whole number, not {value!r}")
        return value
    if key == "eta":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"a number, not {value!r}")
        return float(value)
    return str(value)


def template(options: Mapping[str, Any]) -> Template:
    """A template from options as the command line and a template file give
    them (range and targets as 'LOW,HIGH', ask as names and groups separated
    by spaces or commas, students as a roster file's path)."""
    t = Template()
    fields: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        if key in ("range", "targets"):
            low, high = _range(key, value)
            fields.update({"low": low, "high": high} if key == "range" else {"target_low": low, "target_high": high})
        elif key == "ask":
            fields["ask"] = tuple(n for n in re.split(r"[\s,]+", str(value)) if n)
        elif key == "students":
            fields["students"] = tuple(read_roster(str(value)))
        elif key == "round":
            try:
                fields["round"] = parse_rounding(value)
            except ValueError as exc:
                raise StepPropError(str(exc)) from None
        else:
            fields[key] = value
    return replace(t, **fields)


def _range(key: str, value: str) -> tuple[float, float]:
    parts = [p.strip() for p in str(value).split(",")]
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise StepPropError(f"{key} is LOW,HIGH, such as -1,1; not '{value}'") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise StepPropError(f"{key} is LOW,HIGH with LOW below HIGH, not '{value}'")
    return low, high


def read_roster(path: str) -> list[tuple[str, str]]:
    """A roster's students, (id, name): a CSV file whose header row names the
    columns id and name; each id once, usable as a folder's name."""
    from .config import read_text

    text = read_text(path, "a roster")
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["id", "name"]:
        raise ConfigError("a roster's first row is its header: id,name", path, 1)
    students: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        sid = row[0].strip()
        name = row[1].strip() if len(row) > 1 else ""
        if not _ID.fullmatch(sid):
            raise ConfigError(
                f"the id '{sid}' must be letters, digits, '.', '_' or '-' (it names the student's folder)", path, line
            )
        if sid.lower() in seen:  # (a folder's name, on a file system that may ignore case)
            raise ConfigError(f"the id '{sid}' is on line {seen[sid.lower()]} too: each student once", path, line)
        seen[sid.lower()] = line
        students.append((sid, name))
    if not students:
        raise ConfigError("the roster has no students: one row per student after the header", path)
    if len(students) > MAX_VARIANTS:
        raise ConfigError(f"at most {MAX_VARIANTS} students, not {len(students)}", path)
    return students

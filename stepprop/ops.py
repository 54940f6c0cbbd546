"""Every operation, defined once.

An operation is one object that carries all of its maths, as expression
trees (:mod:`stepprop.expr`), and what a reader needs to know about it:

* ``value`` and ``partials``: what the engine computes (written so that
  nothing overflows: the logistic function of a large negative number,
  the log of a saturated output);
* ``formula`` and ``derivative``: what a worked example prints and what a
  student computes by hand (the same trees where the two agree);
* ``words``: how the post and courses name it;
* ``rounds``: what a hand calculation rounds (hand-calculation mode);
* ``torch``: PyTorch's own version, the independent reference of
  ``stepprop verify``;
* for a loss: the output activations it needs, the ``out - target``
  shortcut of its delta, and the error functions students confuse it with.

The recording engine and the training compiler run the trees through
:func:`stepprop.expr.python`, the worked example prints them, the mistakes'
catalogue reads them.  Adding an activation is one entry in :data:`OPS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

from .expr import (
    FUNCTIONS,
    HALF,
    ONE,
    Cmp,
    Const,
    Exp,
    Expr,
    Pow,
    Sym,
    Where,
    add,
    eq,
    func,
    ge,
    gt,
    lt,
    ne,
    python,
)

Attrs = dict[str, Any]
Compiled = tuple[Callable[[Sequence[float]], float], Callable[[Sequence[float], float], list[float]]]

# what generated code may call: the functions of the trees, and inf
NAMESPACE: dict[str, Any] = {**FUNCTIONS, "inf": math.inf}


class Op:
    """One primitive operation of the recorded graph."""

    name = ""
    words = ""  # how the post and courses name it
    aliases: tuple[str, ...] = ()  # other names for it a config may use by mistake (a message suggests this one)
    coupled = False  # its value depends on a whole layer (softmax)
    kink: float | None = None  # where the derivative jumps (ReLU: 0)
    # its parameters, each with its default: a config key of the same name gives
    # it (slope: 0.1), and it reaches the op as a node attribute (see attrs_of)
    params: dict[str, float] = {}
    sums = False  # its value is a sum of terms (which may cancel: see stepprop.worked.Paper)
    averages = False  # (a batch error's op) its value is the mean of its terms, not their sum
    # hand-calculation mode: a student rounds the result and each local derivative
    rounds: tuple[str, ...] = ("value", "partials")
    # an expression's op (stepprop.graph): how a student's slips vary its local gradients, by mistake id
    variants: dict[str, Callable[[Sequence[Expr], Expr, Attrs], list[Expr]]] = {}

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        raise NotImplementedError

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        raise NotImplementedError

    def attrs_of(self, config: Any) -> Attrs:
        """Its parameters as a config gives them (the attributes of its nodes)."""
        return {key: getattr(config, key) for key in self.params}

    def param(self, attrs: Attrs, key: str) -> float:
        """A parameter's value: the node's, else its default."""
        return float(attrs.get(key, self.params[key]))

    def _given(self, attrs: Attrs) -> tuple[dict[str, float], ...]:
        """What the callables of an op with parameters take after their
        arguments: a dict of the parameters' values (nothing for the others)."""
        return ({key: self.param(attrs, key) for key in self.params},) if self.params else ()

    def kinked(self, xs: Sequence[float], width: float) -> bool:
        """Are its arguments ``xs`` within ``width`` of where its derivative jumps
        (where a finite difference says nothing)?"""
        return self.kink is not None and abs(xs[0] - self.kink) < width

    def formula(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        """The printed formula (a student's way of computing it)."""
        return self.value(args, attrs)

    def hand_value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        """What a hand calculation computes (hand-calculation mode): where the
        engine's own way differs from the student's in more than the last
        bits (a cross-entropy from the net inputs rather than from the
        rounded output), the student's."""
        return self.value(args, attrs)

    def hand_partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        """The local partials as a hand calculation computes them: from the
        numbers written down (``hand(x)``: x as rounded), where that differs."""
        return self.partials(args, out, attrs)

    def derivative(
        self, args: Sequence[Expr], out: Expr, attrs: Attrs, j: int, outs: Sequence[Expr] | None = None
    ) -> Expr:
        """The printed d(result)/d(args[j]); ``outs``: the layer's outputs (coupled ops)."""
        return self.partials(args, out, attrs)[j]

    def compiled(self, arity: int, attrs: Attrs, rounder: Callable[[float], float] | None = None) -> Compiled:
        """(forward(xs) -> value, partials(xs, out) -> list): the trees as Python,
        made once per arity and attributes; with a hand calculation's
        ``rounder``, its value and partials (the engine rounds the results)."""
        cache: dict[tuple, Compiled] = self.__dict__.setdefault("_compiled", {})
        # (attributes in the order they were given: the same op always gives them alike)
        key = (arity, tuple(attrs.items()), rounder)
        found = cache.get(key)
        if found is None:
            names = [Sym(f"a{j}") for j in range(arity)]
            out = Sym("out")

            def spell(leaf: Expr) -> str:
                return cast(Sym, leaf).base

            unpack = f"    {', '.join(s.base for s in names)}{',' if arity == 1 else ''} = xs\n"
            hand = rounder is not None
            value = python((self.hand_value if hand else self.value)(names, attrs), spell)
            found_partials = (self.hand_partials if hand else self.partials)(names, out, attrs)
            partials = ", ".join(python(p, spell) for p in found_partials)
            source = (
                f"def forward(xs):\n{unpack}    return {value}\n"
                f"def partials(xs, out):\n{unpack}    return [{partials}]\n"
            )
            space = dict(NAMESPACE)
            if rounder is not None:
                space["hand"] = rounder
            exec(compile(source, f"<stepprop op {self.name}>", "exec"), space)  # noqa: S102 - made from our trees
            found = (space["forward"], space["partials"])
            cache[key] = found
        return found

    def __repr__(self) -> str:
        return f"Op({self.name})"


# ------------------------------------------------------------ the affine --


class Affine(Op):
    """net = w1 * x1 + ... + wn * xn (+ b * 1); parents: w1..wn, x1..xn[, b]."""

    name = "affine"
    words = "the weighted sum of the inputs plus the bias"
    sums = True
    # by hand, its local derivatives are numbers already written down (an input, a
    # weight, 1): a student rounds the sum, never them again
    rounds = ("value",)

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        n = attrs["n"]
        terms = [args[j] * args[n + j] for j in range(n)]
        if attrs["bias"]:
            terms.append(args[2 * n] * _bias_input(attrs))
        return add(*terms)

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        count = 2 * attrs["n"] + (1 if attrs["bias"] else 0)
        return [self._partial(args, attrs, j) for j in range(count)]

    def derivative(
        self, args: Sequence[Expr], out: Expr, attrs: Attrs, j: int, outs: Sequence[Expr] | None = None
    ) -> Expr:
        return self._partial(args, attrs, j)  # one of them, reading only the argument it needs

    @staticmethod
    def _partial(args: Sequence[Expr], attrs: Attrs, j: int) -> Expr:
        """d net / d parent j: a weight's is its input, an input's its weight, the bias's 1."""
        n = attrs["n"]
        if j < n:
            return args[n + j]
        if j < 2 * n:
            return args[j - n]
        return Const(float(attrs.get("bias_input", 1.0)))


def _bias_input(attrs: Attrs) -> Expr:
    """What a bias multiplies in the net input: the constant input 1 (the
    post's), or -1 (a threshold, ``bias_input: -1``)."""
    value = attrs.get("bias_input", 1.0)
    return ONE if value == 1 else Const(int(value))


# ------------------------------------------------------------ activations --


class Activation(Op):
    """An activation of one net input: out = f(net).

    ``formula`` (printed), ``value`` (computed, where it must be written so
    that nothing overflows) and ``torch`` take the net input; ``derivative``
    (printed) and ``partial`` (computed, where it differs) the net input and
    the output.  An activation with ``params`` (leaky ReLU's slope) is given
    them too, as a last argument: a dict of each parameter's value."""

    def __init__(
        self,
        name: str,
        words: str,
        formula: Callable[..., Expr],
        derivative: Callable[..., Expr],
        torch: Callable[..., Any],
        value: Callable[..., Expr] | None = None,
        partial: Callable[..., Expr] | None = None,
        kink: float | None = None,
        confused_with: str | None = None,
        left_out: str = "",
        aliases: tuple[str, ...] = (),
        params: dict[str, float] | None = None,
        variants: dict[str, Callable[..., list[Expr]]] | None = None,
    ):
        self.name = name
        self.words = words
        self.aliases = aliases
        self.variants = variants or {}
        self.confused_with = confused_with  # the activation whose derivative students use for it
        self.left_out = left_out  # what leaving its derivative out amounts to, where it says more
        self._formula = formula
        self._value = value or formula
        self._derivative = derivative
        self._partial = partial  # (None: the printed derivative, looked up when used)
        self._torch = torch
        self.kink = kink
        self.params = params or {}

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return self._value(args[0], *self._given(attrs))

    def formula(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return self._formula(args[0], *self._given(attrs))

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        return [(self._partial or self._derivative)(args[0], out, *self._given(attrs))]

    def derivative(
        self, args: Sequence[Expr], out: Expr, attrs: Attrs, j: int, outs: Sequence[Expr] | None = None
    ) -> Expr:
        return self._derivative(args[0], out, *self._given(attrs))

    def torch(self, torch: Any, x: Any, attrs: Attrs | None = None) -> Any:
        """PyTorch's own version, of a tensor of net inputs."""
        return self._torch(torch, x, *self._given(attrs or {}))


class Softmax(Activation):
    """out_k = e^net_k / (e^net_1 + ... + e^net_n): parents are the layer's net
    inputs, ``attrs["k"]`` says which output this is."""

    coupled = True

    def __init__(self) -> None:
        super().__init__(
            "softmax",
            "softmax",
            formula=lambda x: x,
            derivative=lambda x, out: out,
            torch=lambda torch, x: torch.softmax(x, dim=1),
            aliases=("softargmax", "normalized_exponential"),
        )

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return func("softmax", Const(attrs["k"]), *args)

    def formula(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return Exp(args[attrs["k"]]) / add(*(Exp(x) for x in args))

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        # d out_k / d net_j = out_k * (delta_kj - out_j), out_j recomputed from the nets
        k = attrs["k"]
        return [out * (Const(1.0 if j == k else 0.0) - func("softmax", Const(j), *args)) for j in range(len(args))]

    def hand_partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        # by hand: -out_k * out_j with out_j as written down (rounded), and out_k * (1 - out_k)
        k = attrs["k"]
        return [
            out * (ONE - out) if j == k else -(out * func("hand", func("softmax", Const(j), *args)))
            for j in range(len(args))
        ]

    def derivative(
        self, args: Sequence[Expr], out: Expr, attrs: Attrs, j: int, outs: Sequence[Expr] | None = None
    ) -> Expr:
        if j == attrs["k"]:
            return out * (ONE - out)
        assert outs is not None, "the derivative of a softmax across outputs needs the other output"
        return -(out * outs[j])


SIGMOID = Activation(
    "sigmoid",
    "the logistic function",
    formula=lambda x: ONE / (ONE + Exp(-x)),
    # the same function, never overflowing: e^x / (1 + e^x) for negative x
    value=lambda x: Where(ge(x, 0), ONE / (ONE + Exp(-x)), Exp(x) / (ONE + Exp(x))),
    derivative=lambda x, out: out * (ONE - out),
    torch=lambda torch, x: torch.sigmoid(x),
    confused_with="tanh",
    aliases=("logistic", "logsig", "sigmoidal", "expit"),
)
TANH = Activation(
    "tanh",
    "tanh",
    formula=lambda x: func("tanh", x),
    derivative=lambda x, out: ONE - out**2,
    torch=lambda torch, x: torch.tanh(x),
    confused_with="sigmoid",
    aliases=("tansig", "hyperbolic_tangent"),
)
RELU = Activation(
    "relu",
    "ReLU",
    formula=lambda x: func("max", 0, x),
    value=lambda x: Where(gt(x, 0), x, Const(0.0)),
    derivative=lambda x, out: Where(gt(x, 0), Const(1.0), Const(0.0)),
    torch=lambda torch, x: torch.relu(x),
    kink=0.0,
    left_out="ReLU's derivative taken as 1, also where the net input is negative",
    aliases=("rectifier", "rectified_linear", "rectified_linear_unit"),
    # (in an expression) the gradient let through where it is blocked, and blocked where it passes
    variants={"wrong_branch": lambda a, out, at: [Where(gt(a[0], 0), Const(0.0), Const(1.0))]},
)
LINEAR = Activation(
    "linear",
    "the identity (linear)",
    formula=lambda x: x,
    derivative=lambda x, out: Const(1.0),
    torch=lambda torch, x: x,
    aliases=("identity", "purelin", "none"),
)
SOFTMAX = Softmax()


def _times(factor: float, e: Expr) -> Expr:
    """factor * e, printed without a factor of 1."""
    return e if factor == 1 else Const(factor) * e


def _leaky_formula(x: Expr, p: dict[str, float]) -> Expr:
    slope = p["slope"]
    if 0 <= slope <= 1:  # the courses' max(0.01 * net, net)
        return func("max", _times(slope, x), x)
    return Where(gt(x, 0), x, _times(slope, x))


LEAKY_RELU = Activation(
    "leaky_relu",
    "leaky ReLU",
    formula=_leaky_formula,
    # PyTorch's: net if net > 0, else slope * net (its derivative at 0 is the slope)
    value=lambda x, p: Where(gt(x, 0), x, _times(p["slope"], x)),
    derivative=lambda x, out, p: Where(gt(x, 0), Const(1.0), Const(p["slope"])),
    torch=lambda torch, x, p: torch.nn.functional.leaky_relu(x, p["slope"]),
    kink=0.0,
    confused_with="relu",
    left_out="leaky ReLU's derivative taken as 1, also where the net input is negative",
    aliases=("leakyrelu", "lrelu", "leaky_rectifier", "leaky_rectified_linear"),
    params={"slope": 0.01},
)
ELU = Activation(
    "elu",
    "ELU",
    # (e^net is computed only where net <= 0: it never overflows)
    formula=lambda x, p: Where(gt(x, 0), x, _times(p["elu_alpha"], Exp(x) - ONE)),
    derivative=lambda x, out, p: Where(gt(x, 0), Const(1.0), _times(p["elu_alpha"], Exp(x))),
    torch=lambda torch, x, p: torch.nn.functional.elu(x, alpha=p["elu_alpha"]),
    kink=0.0,  # (a jump of the derivative unless elu_alpha is 1)
    aliases=("exponential_linear", "exponential_linear_unit"),
    params={"elu_alpha": 1.0},
)
SOFTPLUS = Activation(
    "softplus",
    "softplus",
    formula=lambda x: func("ln", ONE + Exp(x)),
    value=lambda x: func("softplus", x),  # ln(1 + e^net), never overflowing
    # its derivative is the logistic function of the net input
    derivative=lambda x, out: ONE / (ONE + Exp(-x)),
    partial=lambda x, out: func("sigmoid", x),
    torch=lambda torch, x: torch.nn.functional.softplus(x),
    aliases=("smooth_relu", "soft_plus"),
)
SWISH = Activation(
    "swish",
    "swish (SiLU)",
    formula=lambda x: x / (ONE + Exp(-x)),
    value=lambda x: x * func("sigmoid", x),
    # net * s(net), s the logistic function: its derivative s + net * s * (1 - s) is out + s * (1 - out)
    derivative=lambda x, out: out + ONE / (ONE + Exp(-x)) * (ONE - out),
    partial=lambda x, out: func("sigmoid", x) * (ONE + x * (ONE - func("sigmoid", x))),
    torch=lambda torch, x: torch.nn.functional.silu(x),
    aliases=("silu", "sigmoid_linear_unit", "sigmoid_weighted_linear_unit"),
)


# ----------------------------------------------------------------- losses --


class Confusion:
    """Another error function a student may use by mistake instead of this one."""

    def __init__(self, loss: str, id: str, title: str, description: str):
        self.loss = loss
        self.id = id
        self.title = title
        self.description = description


class Loss(Op):
    """The error of one output.  Parents: (out, target), then the output
    layer's net inputs where the loss takes them (see :meth:`net_inputs`)."""

    def __init__(
        self,
        name: str,
        words: str,
        formula: Callable[[Expr, Expr, Attrs], Expr],
        derivative: Callable[[Expr, Expr, Attrs], Expr],
        torch: Callable[..., Any],
        partials: Callable[[Sequence[Expr], Attrs], list[Expr]],
        value: Callable[[Sequence[Expr], Attrs], Expr] | None = None,
        hand: Callable[[Sequence[Expr], Attrs], Expr] | None = None,
        nets: dict[str, str] | None = None,
        after: tuple[str, ...] | None = None,
        why_after: str = "",
        unit_targets: bool = False,
        shortcut_after: tuple[str, ...] = (),
        confusions: tuple[Confusion, ...] = (),
        public: bool = True,
        aliases: tuple[str, ...] = (),
        params: dict[str, float] | None = None,
    ):
        self.name = name
        self.words = words
        self.aliases = aliases
        self.params = params or {}
        self._formula = formula
        self._derivative = derivative
        self._value = value
        self._partials = partials
        self._hand = hand
        self._nets = nets or {}
        self._torch = torch
        self.after = after  # the output activations it works after (None: any)
        self.why_after = why_after
        self.unit_targets = unit_targets  # targets between 0 and 1
        self.shortcut_after = shortcut_after
        self.confusions = confusions
        self.public = public  # a config may name it (the others only re-run mistakes)

    def torch(self, torch: Any, out: Any, t: Any, attrs: Attrs | None = None) -> Any:
        """PyTorch's own version: each sample's error, of tensors of outputs and targets."""
        return self._torch(torch, out, t, *self._given(attrs or {}))

    def net_inputs(self, activation: str) -> str | None:
        """Which net inputs the loss takes as parents: 'layer', 'own' or None.

        The cross-entropies compute their value from the net inputs
        (log-softmax, log-sigmoid), finite even where out is exactly 0 or 1;
        where out is saturated, the chain dE/dout * dout/dnet is inf * 0, so
        the gradient takes the direct edge from the net input instead
        (out - target), and the edge through out carries 0."""
        return self._nets.get(activation)

    def shortcut(self, activation: str, targets: Sequence[float]) -> bool:
        """Is delta_o = out_o - target_o (the well-known simplification)?  After a
        softmax it needs targets that add up to 1."""
        if activation not in self.shortcut_after:
            return False
        return not OPS[activation].coupled or abs(math.fsum(targets) - 1) <= 1e-12

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        if self._value is not None:
            return self._value(args, attrs)
        return self._formula(args[0], args[1], attrs)

    def formula(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return self._formula(args[0], args[1], attrs)

    def hand_value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return self._hand(args, attrs) if self._hand is not None else self.value(args, attrs)

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        return self._partials(args, attrs)

    def derivative(
        self, args: Sequence[Expr], out: Expr, attrs: Attrs, j: int, outs: Sequence[Expr] | None = None
    ) -> Expr:
        if j != 0:
            return self.partials(args, out, attrs)[j]
        return self._derivative(args[0], args[1], attrs)


def _over_n(e: Expr, attrs: Attrs) -> Expr:
    """e / n, n being the number of outputs (nothing to divide with one)."""
    n = attrs["n"]
    return e if n == 1 else e / Const(n)


def _squared_partials(half: bool, mean: bool) -> Callable[[Sequence[Expr], Attrs], list[Expr]]:
    def partials(a: Sequence[Expr], attrs: Attrs) -> list[Expr]:
        d = a[1] - a[0]
        per: Callable[[Expr, Attrs], Expr] = _over_n if mean else (lambda e, at: e)
        if half:
            return [per(-d, attrs), per(d, attrs)]
        return [per(Const(-2) * d, attrs), per(Const(2) * d, attrs)]

    return partials


HALF_SQUARED = Loss(
    "half_squared_error",
    "the sum over outputs of 1/2 (target - out)^2",
    formula=lambda o, t, at: HALF * (t - o) ** 2,
    derivative=lambda o, t, at: -(t - o),
    partials=_squared_partials(half=True, mean=False),
    torch=lambda torch, out, t: (0.5 * (t - out) ** 2).sum(dim=1),
    aliases=("half_sse", "half_sum_squared_error"),
    confusions=(
        Confusion(
            "sum_squared_error",
            "squared_error_without_half",
            "the 1/2 left out of the error",
            "you used the squared error without the 1/2, (target - out)^2, which doubles every gradient",
        ),
        Confusion(
            "half_mean_squared_error",
            "mean_instead_of_sum",
            "a mean where the config sums",
            "you took the mean of the errors over the outputs where the config sums them",
        ),
        Confusion(
            "mean_squared_error",
            "mean_instead_of_sum",
            "a mean where the config sums",
            "you took the mean of (target - out)^2 over the outputs where the config sums 1/2 (target - out)^2",
        ),
    ),
)
MEAN_SQUARED = Loss(
    "mean_squared_error",
    "the mean over outputs of (target - out)^2",
    formula=lambda o, t, at: _over_n((t - o) ** 2, at),
    derivative=lambda o, t, at: _over_n(Const(-2) * (t - o), at),
    partials=_squared_partials(half=False, mean=True),
    torch=lambda torch, out, t: ((t - out) ** 2).mean(dim=1),
    aliases=("mse", "mean_squared", "mean_square_error"),
    confusions=(
        Confusion(
            "sum_squared_error",
            "sum_instead_of_mean",
            "a sum where the config takes the mean",
            "you summed (target - out)^2 over the outputs where the config takes the mean",
        ),
        Confusion(
            "half_squared_error",
            "sum_instead_of_mean",
            "a sum where the config takes the mean",
            "you summed 1/2 (target - out)^2 where the config takes the mean of (target - out)^2",
        ),
    ),
)
# the sum of the squared errors without the 1/2 (two published worked examples use it)
SUM_SQUARED = Loss(
    "sum_squared_error",
    "the sum over outputs of (target - out)^2 (no 1/2)",
    formula=lambda o, t, at: (t - o) ** 2,
    derivative=lambda o, t, at: Const(-2) * (t - o),
    partials=_squared_partials(half=False, mean=False),
    torch=lambda torch, out, t: ((t - out) ** 2).sum(dim=1),
    aliases=("sse", "squared_error", "sum_of_squared_errors", "sum_squared", "sum_of_squares"),
    confusions=(
        Confusion(
            "half_squared_error",
            "half_added",
            "a 1/2 put in front of the error",
            "you used 1/2 (target - out)^2, the post's error, where the config has (target - out)^2 with no 1/2, "
            "which halves every gradient",
        ),
        Confusion(
            "mean_squared_error",
            "mean_instead_of_sum",
            "a mean where the config sums",
            "you took the mean of (target - out)^2 over the outputs where the config sums it",
        ),
    ),
)
# this one only re-runs hand-calculation mistakes (stepprop check)
HALF_MEAN_SQUARED = Loss(
    "half_mean_squared_error",
    "the mean over outputs of 1/2 (target - out)^2",
    formula=lambda o, t, at: _over_n(HALF * (t - o) ** 2, at),
    derivative=lambda o, t, at: _over_n(-(t - o), at),
    partials=_squared_partials(half=True, mean=True),
    torch=lambda torch, out, t: (0.5 * (t - out) ** 2).mean(dim=1),
    public=False,
)


def _abs(e: Expr) -> Expr:
    return func("abs", e)


def _sign(e: Expr) -> Expr:
    return func("sign", e)


class AbsoluteLoss(Loss):
    """A loss of |target - out| whose derivative jumps where out = target
    (the mean absolute error): a finite difference there says nothing."""

    def kinked(self, xs: Sequence[float], width: float) -> bool:
        return abs(xs[0] - xs[1]) < width


MEAN_ABSOLUTE = AbsoluteLoss(
    "mean_absolute_error",
    "the mean over outputs of |target - out|",
    formula=lambda o, t, at: _over_n(_abs(t - o), at),
    # PyTorch's l1_loss: sign(out - target) / n, 0 where out = target
    derivative=lambda o, t, at: _over_n(-_sign(t - o), at),
    partials=lambda a, at: [_over_n(-_sign(a[1] - a[0]), at), _over_n(_sign(a[1] - a[0]), at)],
    torch=lambda torch, out, t: (t - out).abs().mean(dim=1),
    aliases=("mae", "l1", "l1_loss", "mean_absolute", "absolute_error"),
)


def _huber(o: Expr, t: Expr, at: Attrs) -> Expr:
    # 1/2 d^2 where |d| < delta, else delta * (|d| - 1/2 delta), d = target - out
    delta = HUBER.param(at, "huber_delta")
    d = t - o
    linear = _abs(d) - HALF if delta == 1 else Const(delta) * (_abs(d) - HALF * Const(delta))
    return _over_n(Where(lt(_abs(d), delta), HALF * d**2, linear), at)


def _huber_derivative(o: Expr, t: Expr, at: Attrs) -> Expr:
    # d/dout: -(target - out) where |target - out| < delta, else -delta * sign(target - out)
    # (PyTorch's: out - target clamped to [-delta, delta])
    delta = HUBER.param(at, "huber_delta")
    d = t - o
    return _over_n(Where(lt(_abs(d), delta), -d, -_times(delta, _sign(d))), at)


def _huber_partials(a: Sequence[Expr], at: Attrs) -> list[Expr]:
    dout = _huber_derivative(a[0], a[1], at)
    return [dout, -dout]


HUBER = Loss(
    "huber",
    "the mean over outputs of the Huber loss of target - out",
    formula=_huber,
    derivative=_huber_derivative,
    partials=_huber_partials,
    torch=lambda torch, out, t, p: torch.nn.functional.huber_loss(
        out, t, reduction="none", delta=p["huber_delta"]
    ).mean(dim=1),
    aliases=("huber_loss", "smooth_l1", "smooth_l1_loss"),
    params={"huber_delta": 1.0},
)


def _ln(x: Expr) -> Expr:
    return func("ln", x)


def _ce_value(a: Sequence[Expr], at: Attrs) -> Expr:
    # parents: out, target, then the net input(s): the layer's (softmax) or its own (sigmoid)
    t, nets = a[1], a[2:]
    log_out = func("log_softmax", Const(at["k"]), *nets) if len(nets) > 1 else -func("softplus", -nets[0])
    return Where(eq(t, 0), Const(0.0), -(t * log_out))


def _ce_partials(a: Sequence[Expr], at: Attrs) -> list[Expr]:
    out, t, nets = a[0], a[1], a[2:]
    saturated = Cmp(lt(out, 1e-300), "and", ne(t, 0))  # t / out would overflow
    parts: list[Expr] = [
        Where(saturated, Const(0.0), Where(eq(t, 0), Const(0.0), -(t / out))),
        Where(ne(out, 0), func("softplus", -nets[0]), Const(math.inf)) if len(nets) == 1 else -_ln(out),
    ]
    if len(nets) > 1:
        k = at["k"]
        parts += [
            Where(saturated, -t * (Const(1.0 if j == k else 0.0) - func("softmax", Const(j), *nets)), Const(0.0))
            for j in range(len(nets))
        ]
    else:
        parts.append(Where(saturated, -t * (ONE - out), Const(0.0)))
    return parts


CROSS_ENTROPY = Loss(
    "cross_entropy",
    "the negative sum of target * ln(out)",
    formula=lambda o, t, at: -(t * _ln(o)),
    derivative=lambda o, t, at: -(t / o),
    value=_ce_value,
    # by hand: from the (rounded) output, as printed
    hand=lambda a, at: Where(eq(a[1], 0), Const(0.0), -(a[1] * _ln(a[0]))),
    partials=_ce_partials,
    torch=lambda torch, out, t: -(t * torch.log(out)).sum(dim=1),
    nets={"softmax": "layer", "sigmoid": "own"},
    after=("softmax",),
    why_after="after a sigmoid it never penalises an output above its target; use binary_cross_entropy",
    unit_targets=True,
    shortcut_after=("softmax",),
    aliases=("ce", "crossentropy", "categorical_cross_entropy", "categorical_crossentropy", "cce", "nll"),
)


def _bce_value(a: Sequence[Expr], at: Attrs) -> Expr:
    # -[t ln(out) + (1 - t) ln(1 - out)]; after a sigmoid (parents: out, target, net),
    # ln(out) = -softplus(-net) and ln(1 - out) = -softplus(net)
    t = a[1]
    if len(a) == 2:
        out = a[0]
        return -(Where(eq(t, 0), Const(0.0), t * _ln(out)) + Where(eq(t, 1), Const(0.0), (ONE - t) * _ln(ONE - out)))
    net = a[2]
    return Where(eq(t, 0), Const(0.0), t * func("softplus", -net)) + Where(
        eq(t, 1), Const(0.0), (ONE - t) * func("softplus", net)
    )


def _bce_partials(a: Sequence[Expr], at: Attrs) -> list[Expr]:
    out, t = a[0], a[1]
    if len(a) == 2:  # after a softmax: the textbook derivative only
        return [
            -Where(eq(t, 0), Const(0.0), Where(ne(out, 0), t / out, Const(math.inf)))
            + Where(eq(t, 1), Const(0.0), Where(ne(out, 1), (ONE - t) / (ONE - out), Const(math.inf))),
            -(_ln(out) - _ln(ONE - out)),
        ]
    net = a[2]
    saturated = Cmp(lt(out, 1e-300), "or", eq(out, 1))  # t / out or 1 / (1 - out) would overflow
    return [
        Where(saturated, Const(0.0), -(t / out) + (ONE - t) / (ONE - out)),
        -net,
        Where(saturated, out - t, Const(0.0)),
    ]


BINARY_CROSS_ENTROPY = Loss(
    "binary_cross_entropy",
    "the negative sum of target * ln(out) + (1 - target) * ln(1 - out)",
    formula=lambda o, t, at: -(t * _ln(o) + (ONE - t) * _ln(ONE - o)),
    derivative=lambda o, t, at: -(t / o) + (ONE - t) / (ONE - o),
    value=_bce_value,
    hand=lambda a, at: _bce_value(a[:2], at),  # by hand: from the (rounded) output, as printed
    partials=_bce_partials,
    torch=lambda torch, out, t: -(t * torch.log(out) + (1 - t) * torch.log(1 - out)).sum(dim=1),
    nets={"sigmoid": "own"},
    after=("sigmoid", "softmax"),
    why_after="it takes the logarithm of the outputs and of 1 - out, which must lie between 0 and 1",
    unit_targets=True,
    shortcut_after=("sigmoid",),
    aliases=("bce", "binary_crossentropy", "logistic_loss"),
)


# ------------------------------------------------------------- reductions --


class Reduction(Op):
    """An op that combines terms into one (an error from its parts)."""

    def torch(self, torch: Any, x: Any) -> Any:
        """PyTorch's: of a tensor of the terms."""
        raise NotImplementedError


class Sum(Reduction):
    """E_total = E_o1 + E_o2 + ..."""

    name = "sum"
    words = "the sum"
    sums = True

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return add(*args)

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        return [Const(1.0)] * len(args)

    def torch(self, torch: Any, x: Any) -> Any:
        return x.sum()


class Mean(Reduction):
    """E = (E_total[1] + ... + E_total[n]) / n: the error of a batch."""

    name = "mean"
    words = "the mean"
    sums = True
    averages = True

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return add(*args) / Const(len(args))

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        return [Const(1.0 / len(args))] * len(args)

    def torch(self, torch: Any, x: Any) -> Any:
        return x.mean()


# ------------------------------------------------ an expression's operations --
# (stepprop.graph: any scalar expression as a recorded graph)

Partials = Callable[[Sequence[Expr], Expr, Attrs], list[Expr]]


class Basic(Op):
    """An operation of an expression: its parents are its operands, in order.

    ``partials`` (what the engine computes) may differ from ``derivatives``
    (what a worked example prints: e^x rather than the recorded value);
    ``variants``: how a student's well-known slips change its local
    gradients (``sign_lost``: the minus of a subtraction or a division's
    denominator; ``wrong_branch``: the gradient of max sent to the other
    operand), by the id of the mistake."""

    # a hand calculation rounds each result and each local gradient
    def __init__(
        self,
        name: str,
        words: str,
        arity: int,
        value: Callable[[Sequence[Expr], Attrs], Expr],
        partials: Partials,
        torch: Callable[..., Any],
        derivatives: Partials | None = None,
        kink: float | None = None,
        variants: dict[str, Partials] | None = None,
    ):
        self.name = name
        self.words = words
        self.arity = arity
        self._value = value
        self._partials = partials
        self._derivatives = derivatives or partials
        self._torch = torch
        self.kink = kink
        self.variants = variants or {}

    def value(self, args: Sequence[Expr], attrs: Attrs) -> Expr:
        return self._value(args, attrs)

    def partials(self, args: Sequence[Expr], out: Expr, attrs: Attrs) -> list[Expr]:
        return self._partials(args, out, attrs)

    def derivative(
        self, args: Sequence[Expr], out: Expr, attrs: Attrs, j: int, outs: Sequence[Expr] | None = None
    ) -> Expr:
        return self._derivatives(args, out, attrs)[j]

    def torch(self, torch: Any, *xs: Any, attrs: Attrs | None = None) -> Any:
        """PyTorch's own version, of its operands' tensors."""
        return self._torch(torch, *xs, **(attrs or {}))

    def kinked(self, xs: Sequence[float], width: float) -> bool:
        if self.name in ("max", "min"):  # where the operands are equal
            return abs(xs[0] - xs[1]) < width
        return super().kinked(xs, width)


ZERO = Const(0.0)
UNIT = Const(1.0)


def _pick(first: bool) -> Partials:
    """max's (first=True) or min's local gradients: 1 for the operand that is
    the result, 0 for the other, half each where they are equal (PyTorch's
    maximum and minimum)."""

    def partials(a: Sequence[Expr], out: Expr, at: Attrs) -> list[Expr]:
        x, y = a
        wins = (gt if first else lt)(x, y)
        loses = (lt if first else gt)(x, y)
        return [Where(wins, UNIT, Where(eq(x, y), HALF, ZERO)), Where(loses, UNIT, Where(eq(x, y), HALF, ZERO))]

    return partials


def _swapped(partials: Partials) -> Partials:
    """The local gradients of the two operands exchanged (the wrong branch of max)."""
    return lambda a, out, at: partials(a, out, at)[::-1]


def _power_derivative(a: Sequence[Expr], out: Expr, at: Attrs) -> list[Expr]:
    """d(x^p)/dx = p * x^(p - 1), written plainly where p is 0, 1 or 2."""
    p = at["p"]
    if p == 0:  # (x^0 is 1 everywhere, also at x = 0, where x^-1 has no value)
        return [ZERO]
    if p == 1:
        return [UNIT]
    if p == 2:
        return [Const(2) * a[0]]
    return [Const(p) * Pow(a[0], p - 1)]


_MAX = _pick(True)
_MIN = _pick(False)

EXPRESSION_OPS: tuple[Basic, ...] = (
    Basic("add", "addition", 2, lambda a, at: a[0] + a[1], lambda a, o, at: [UNIT, UNIT], lambda t, x, y: x + y),
    Basic(
        "sub",
        "subtraction",
        2,
        lambda a, at: a[0] - a[1],
        lambda a, o, at: [UNIT, Const(-1.0)],
        lambda t, x, y: x - y,
        variants={"sign_lost": lambda a, o, at: [UNIT, UNIT]},
    ),
    Basic("mul", "multiplication", 2, lambda a, at: a[0] * a[1], lambda a, o, at: [a[1], a[0]], lambda t, x, y: x * y),
    Basic(
        "div",
        "division",
        2,
        lambda a, at: a[0] / a[1],
        # d(a/b)/db = -a/b^2, computed as -(a/b)/b: b^2 underflows where b is tiny (1e-159)
        lambda a, o, at: [ONE / a[1], -(o / a[1])],
        lambda t, x, y: x / y,
        derivatives=lambda a, o, at: [ONE / a[1], -(a[0] / Pow(a[1], 2))],
        variants={"sign_lost": lambda a, o, at: [ONE / a[1], o / a[1]]},
    ),
    Basic(
        "neg",
        "negation",
        1,
        lambda a, at: -a[0],
        lambda a, o, at: [Const(-1.0)],
        lambda t, x: -x,
        variants={"sign_lost": lambda a, o, at: [UNIT]},
    ),
    Basic(
        "pow",
        "a power",
        1,
        lambda a, at: Pow(a[0], at["p"]),
        _power_derivative,
        lambda t, x, p: x**p,
    ),
    Basic(
        "exp",
        "the exponential",
        1,
        lambda a, at: Exp(a[0]),
        lambda a, o, at: [o],  # (e^x is the recorded value itself)
        lambda t, x: t.exp(x),
        derivatives=lambda a, o, at: [Exp(a[0])],
    ),
    Basic(
        "log",
        "the natural logarithm",
        1,
        lambda a, at: func("ln", a[0]),
        lambda a, o, at: [ONE / a[0]],
        lambda t, x: t.log(x),
    ),
    Basic(
        "sqrt",
        "the square root",
        1,
        lambda a, at: func("sqrt", a[0]),
        lambda a, o, at: [ONE / (Const(2) * o)],
        lambda t, x: t.sqrt(x),
        derivatives=lambda a, o, at: [ONE / (Const(2) * func("sqrt", a[0]))],
    ),
    Basic(
        "abs",
        "the absolute value",
        1,
        lambda a, at: func("abs", a[0]),
        lambda a, o, at: [func("sign", a[0])],
        lambda t, x: t.abs(x),
        kink=0.0,
    ),
    Basic(
        "max",
        "the larger of two",
        2,
        lambda a, at: func("max", a[0], a[1]),
        _MAX,
        lambda t, x, y: t.maximum(x, y),
        variants={"wrong_branch": _swapped(_MAX)},
    ),
    Basic(
        "min",
        "the smaller of two",
        2,
        lambda a, at: func("min", a[0], a[1]),
        _MIN,
        lambda t, x, y: t.minimum(x, y),
        variants={"wrong_branch": _swapped(_MIN)},
    ),
)


OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Affine(),
        SIGMOID,
        TANH,
        RELU,
        LINEAR,
        LEAKY_RELU,
        ELU,
        SOFTPLUS,
        SWISH,
        SOFTMAX,
        HALF_SQUARED,
        MEAN_SQUARED,
        SUM_SQUARED,
        HALF_MEAN_SQUARED,
        MEAN_ABSOLUTE,
        HUBER,
        CROSS_ENTROPY,
        BINARY_CROSS_ENTROPY,
        Sum(),
        Mean(),
        *EXPRESSION_OPS,
    )
}

ACTIVATIONS: tuple[str, ...] = tuple(name for name, op in OPS.items() if isinstance(op, Activation))
LOSSES: tuple[str, ...] = tuple(name for name, op in OPS.items() if isinstance(op, Loss) and op.public)
# the activations a whole network can have (a coupled one, softmax, is for the output layer only)
LAYER_ACTIVATIONS: tuple[str, ...] = tuple(a for a in ACTIVATIONS if not OPS[a].coupled)
# another name a config may give an activation or a loss -> the name stepprop knows it by
ALIASES: dict[str, str] = {alias: op.name for op in OPS.values() for alias in op.aliases}


def activation(name: str) -> Activation:
    return cast(Activation, OPS[name])


def loss(name: str) -> Loss:
    return cast(Loss, OPS[name])


def reduction(name: str) -> Reduction:
    """A batch error's op from its samples' errors (``batch_error``: mean or sum)."""
    return cast(Reduction, OPS[name])

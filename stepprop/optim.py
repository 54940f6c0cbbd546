"""Optimisers: what a step does with a parameter's gradient, defined once.

An optimiser is a short list of assignments for each parameter, written as
expression trees (:mod:`stepprop.expr`) of generic symbols:

* ``P``: the parameter before the update, ``G``: its gradient (dE/dP);
* the hyperparameters: ``eta``, ``mu`` (momentum), ``beta_1``, ``beta_2``,
  ``epsilon``, ``lambda`` (weight decay, L2), ``lambda_1`` (L1), and ``t``,
  the number of this update (1 for the first);
* the optimiser's state before this update: ``v(t-1)``, ``m(t-1)``,
  ``s(t-1)`` (0 before the first update);
* the quantities assigned before: ``g`` (the gradient with the
  regularisation added), ``v``, ``m``, ``s``, ``m_hat``, ``s_hat``.

The last assignment, ``+``, is the parameter after the update.  The step
(:mod:`stepprop.step`) evaluates the assignments, the worked example prints
them with the parameter's names (``m_hat_w5``, ``v_w5(t-1)``), the training
compiler turns them into code, and ``check`` reads their names: one
definition for all of them.  The semantics are ``torch.optim``'s (SGD with
momentum and Nesterov, RMSprop, Adam, AdamW), with ``momentum_form:
classic`` as the textbooks write momentum: dw = -eta * g + mu * dw(t-1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from .expr import ONE, Const, Expr, Frac, Func, Pow, Sym, add, mul, substitute

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
MOMENTUM_FORMS = ("pytorch", "classic")
PENALTIES = ("none", "l2")
# what each optimiser's words are in a worked example
WORDS = {
    "sgd": "plain gradient descent",
    "momentum": "gradient descent with momentum",
    "nesterov": "gradient descent with Nesterov momentum",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW (Adam with decoupled weight decay)",
}
# the state an optimiser carries from one update to the next
STATE: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("v",),
    "nesterov": ("v",),
    "rmsprop": ("s",),
    "adam": ("m", "s"),
    "adamw": ("m", "s"),
}
# torch.optim's defaults where the config gives none
DEFAULTS = {"momentum": 0.9, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8}
DEFAULT_DECAY = {"adamw": 0.01}  # AdamW decays by default; the others only when asked
RMSPROP_DECAY = 0.99  # torch's alpha: RMSprop's beta_2 when the config gives none
# an optimiser's own settings: config key -> (the symbol the rules read it by, the optimisers that have it)
SETTINGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "momentum": ("mu", ("momentum", "nesterov")),
    "momentum_form": ("", ("momentum", "nesterov")),  # (a form, not a number)
    "beta1": ("beta_1", ("adam", "adamw")),
    "beta2": ("beta_2", ("rmsprop", "adam", "adamw")),
    "epsilon": ("epsilon", ("rmsprop", "adam", "adamw")),
}


class Settings(NamedTuple):
    """A config's optimiser, with every hyperparameter resolved."""

    name: str = "sgd"
    momentum: float = 0.0
    momentum_form: str = "pytorch"
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    weight_decay: float = 0.0
    l1: float = 0.0
    regularize_biases: bool = False
    penalty: str = "none"  # "l2": weight decay written as a part of the error, lambda/2 * sum of w^2
    # how a student's mistakes vary the rules (check's catalogue sets them; no config key does)
    bias_correction: bool = True
    epsilon_inside: bool = False  # sqrt(s_hat + epsilon)
    momentum_sign: int = 1  # -1: mu * v(t-1) subtracted
    penalty_in_gradient: bool = True  # False: penalty: l2 in the error, its derivative left out of the gradient

    @property
    def plain(self) -> bool:
        """The post's update, w+ = w - eta * dE/dw, with nothing added."""
        return self.name == "sgd" and not self.weight_decay and not self.l1

    @property
    def state(self) -> tuple[str, ...]:
        return STATE[self.name]

    @property
    def hyper(self) -> dict[str, float]:
        """The hyperparameters the rules read, by their symbols' names (mu, beta_1, lambda, ...), with values."""
        found = {
            symbol: getattr(self, key) for key, (symbol, users) in SETTINGS.items() if symbol and self.name in users
        }
        if self.weight_decay:
            found["lambda"] = self.weight_decay
        if self.l1:
            found["lambda_1"] = self.l1
        return found

    def regularizes(self, kind: str) -> bool:
        """Whether weight decay and L1 apply to a parameter of this kind ('weight' or 'bias')."""
        return kind == "weight" or self.regularize_biases

    def to_dict(self) -> dict[str, object]:
        """The keys a config file writes for it (the defaults left out)."""
        out: dict[str, object] = {}
        if self.name != "sgd":
            out["optimizer"] = self.name
        for key, (_, users) in SETTINGS.items():
            if self.name in users and (key != "momentum_form" or self.momentum_form != "pytorch"):
                out[key] = getattr(self, key)
        if self.weight_decay or self.name in DEFAULT_DECAY:
            out["weight_decay"] = self.weight_decay
        if self.l1:
            out["l1"] = self.l1
        if self.regularize_biases:
            out["regularize_biases"] = True
        if self.penalty != "none":
            out["penalty"] = self.penalty
        return out


PLAIN = Settings()

P, G, ETA, T = Sym("P"), Sym("G"), Sym("eta"), Sym("t")
MU, BETA1, BETA2, EPS = Sym("mu"), Sym("beta", "1"), Sym("beta", "2"), Sym("epsilon")
LAMBDA, LAMBDA1 = Sym("lambda"), Sym("lambda", "1")
HYPER = {s.ascii: s for s in (MU, BETA1, BETA2, EPS, LAMBDA, LAMBDA1)}  # Settings.hyper's names -> symbols
# the quantities an update works out, in the order its assignments do
QUANTITIES = ("g", "v", "m", "s", "m_hat", "s_hat")
SGD: Expr = P - ETA * G  # the post's update: w+ = w - eta * dE/dw
UPDATED = "+"  # the kind of the last assignment: the parameter after the update


def now(kind: str) -> Sym:
    """A quantity of this update: g, v, m, s, m_hat, s_hat."""
    return Sym(kind)


def before(kind: str) -> Sym:
    """The state as the previous update left it: v(t-1)."""
    return Sym(kind, "", "(t-1)")


class Assign(NamedTuple):
    """One line of an optimiser's update of a parameter: ``kind`` = ``value``."""

    kind: str  # g, v, m, s, m_hat, s_hat; or UPDATED
    value: Expr
    note: str = ""


def sqrt(x: Expr) -> Expr:
    return Func("sqrt", (x,))


def sign(x: Expr) -> Expr:
    return Func("sign", (x,))


def rule(s: Settings, kind: str, t: int, update: Expr | None = None) -> tuple[Assign, ...]:
    """The assignments of an update of a parameter of ``kind`` ('weight' or
    'bias') at update number ``t``.  ``update``: plain gradient descent's rule
    as an expression of P, G and eta (a mistake's, say), for ``sgd``."""
    lines: list[Assign] = []
    grad: Expr = G
    added: list[Expr] = []
    if s.weight_decay and s.regularizes(kind) and s.name != "adamw" and (s.penalty != "l2" or s.penalty_in_gradient):
        added.append(mul(LAMBDA, P))
    if s.l1 and s.regularizes(kind):
        added.append(mul(LAMBDA1, sign(P)))
    if added:
        note = "the gradient of the penalty added" if s.penalty == "l2" else "the regularisation added to the gradient"
        lines.append(Assign("g", add(G, *added), note))
        grad = now("g")
    name = s.name
    if name == "sgd":
        base = update if update is not None else SGD
        lines.append(Assign(UPDATED, substitute(base, lambda leaf: grad if leaf == G else None)))
    elif name in ("momentum", "nesterov"):
        v = now("v")
        if s.momentum_form == "classic":
            lines.append(Assign("v", add(_carried(s), -mul(ETA, grad)), "the velocity (the change)"))
            if name == "momentum":
                lines.append(Assign(UPDATED, add(P, v)))
            else:  # Nesterov's look-ahead, as Bengio et al. rewrite it
                lines.append(Assign(UPDATED, add(P, mul(MU, v), -mul(ETA, grad))))
        else:
            lines.append(Assign("v", add(_carried(s), grad), "the momentum buffer"))
            if name == "momentum":
                lines.append(Assign(UPDATED, P - mul(ETA, v)))
            else:
                lines.append(Assign(UPDATED, P - mul(ETA, add(grad, mul(MU, v)))))
    elif name == "rmsprop":
        lines.append(
            Assign("s", add(mul(BETA2, before("s")), mul(ONE - BETA2, Pow(grad, 2))), "the mean of squared gradients")
        )
        lines.append(Assign(UPDATED, P - mul(ETA, grad / _root(s, now("s")))))
    else:  # adam, adamw
        lines.append(Assign("m", add(mul(BETA1, before("m")), mul(ONE - BETA1, grad)), "the first moment"))
        lines.append(Assign("s", add(mul(BETA2, before("s")), mul(ONE - BETA2, Pow(grad, 2))), "the second moment"))
        if s.bias_correction:
            lines.append(Assign("m_hat", now("m") / (ONE - Pow(BETA1, t)), "bias-corrected"))
            lines.append(Assign("s_hat", now("s") / (ONE - Pow(BETA2, t)), "bias-corrected"))
        else:  # (a mistake: the moments used as they are)
            lines.append(Assign("m_hat", now("m")))
            lines.append(Assign("s_hat", now("s")))
        # the Adam paper's alpha * m_hat / (sqrt(v_hat) + epsilon)
        step = mul(ETA, now("m_hat") / _root(s, now("s_hat")))
        if name == "adamw" and s.weight_decay and s.regularizes(kind):
            lines.append(Assign(UPDATED, add(P, -mul(ETA, LAMBDA, P), -step), "the weight decayed, then Adam's step"))
        else:
            lines.append(Assign(UPDATED, P - step))
    return tuple(lines)


PENALIZED = Sym("E", "reg")  # the error with an L2 penalty (penalty: l2)


def penalized(error: Expr, params: Sequence[Expr]) -> Expr:
    """The error with the L2 penalty of ``penalty: l2``: E + lambda/2 * (w1^2 +
    w2^2 + ...), over the parameters weight decay applies to; its derivative
    by a weight is the lambda * w that the rule adds to the gradient."""
    return add(error, mul(Frac(LAMBDA, Const(2)), add(*(Pow(p, 2) for p in params))))


def decayed(s: Settings, kinds: Mapping[str, str]) -> list[str]:
    """The parameters (by name, with their kinds: 'weight' or 'bias') that
    weight decay and L1 apply to."""
    return [name for name, kind in kinds.items() if s.regularizes(kind)]


def _carried(s: Settings) -> Expr:
    """Momentum's term: mu * v(t-1) (subtracted, by a mistake of sign)."""
    term = mul(MU, before("v"))
    return term if s.momentum_sign == 1 else -term


def _root(s: Settings, second: Expr) -> Expr:
    """The divisor of RMSprop's and Adam's step: sqrt(s) + epsilon (or, by a
    mistake, sqrt(s + epsilon))."""
    return sqrt(add(second, EPS)) if s.epsilon_inside else add(sqrt(second), EPS)


def state_name(kind: str, pname: str) -> str:
    """The name of a parameter's quantity: v_w5, m_hat_w5, g_w5."""
    return f"{kind}_{pname}"


class State(NamedTuple):
    """What an optimiser carries between updates: how many were made, and each
    parameter's state (``values[kind][param]``, 0 where absent)."""

    t: int = 0
    values: dict[str, dict[str, float]] = {}

    def of(self, kind: str, pname: str) -> float:
        return self.values.get(kind, {}).get(pname, 0.0)


START = State()

"""The worked example of one training step, read off the recorded graph.

:func:`explain` walks a :class:`~stepprop.network.StepTrace` and returns a
:class:`~stepprop.expr.Document`: the forward pass, the error, every
parameter's chain rule with its factors, the delta-rule form, the update and
the error after it, in the post's order and notation.  Every number in it is
a value, a local partial, a gradient or a path share that the engine recorded;
nothing here does arithmetic on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import names as N
from .config import LOSS_FORMULAS
from .errors import StepPropError
from .expr import (
    Const,
    D,
    Document,
    Eq,
    Exp,
    Expr,
    Frac,
    Func,
    Item,
    Neg,
    Num,
    Paren,
    Pow,
    Section,
    Sub,
    Sym,
    Table,
    add,
    mul,
)
from .network import param_key

if TYPE_CHECKING:
    from .engine import Node
    from .network import StepTrace

ONE = Const("1")

ACTIVATION_WORDS = {
    "sigmoid": "the logistic function",
    "tanh": "tanh",
    "relu": "ReLU",
    "linear": "the identity (linear)",
    "softmax": "softmax",
}


def check_only(trace: StepTrace, only: list[str] | None) -> list[str]:
    """The parameters to derive, in the post's order; unknown names are an error."""
    order = trace.net.param_order()
    if not only:
        return order
    from .config import suggest

    for name in only:
        if name not in trace.net.params:
            raise StepPropError(
                f"--only: this network has no parameter '{name}'{suggest(name, order)}; "
                f"its parameters are {', '.join(sorted(order, key=param_key))}"
            )
    return [p for p in order if p in only]


class _Builder:
    def __init__(self, trace: StepTrace):
        self.t = trace
        self.net = trace.net
        self.g = trace.graph
        self.uses = self.g.tape.consumers()
        self.shown: set = set()

    # -- small helpers
    def sym(self, node: Node) -> Sym:
        return N.sym_of(self.g, node)

    def node(self, s: int, base: str) -> Node:
        return self.g.by_sample[s][base]

    def local(self, child: Node, parent: Node) -> Num:
        return Num(child.partials[child.parents.index(parent)])

    def adj(self, s: int, node: Node) -> Num:
        return Num(self.t.samples[s].adjoints[node])

    def share(self, s: int, child: Node, parent: Node) -> Num:
        return Num(self.t.samples[s].contributions[(child, child.parents.index(parent))])

    def consumers(self, s: int, node: Node) -> list[Node]:
        return [c for c, _ in self.uses.get(node, []) if self.g.info[c].sample == s]

    def outs_of(self, s: int, net: Node) -> list[Node]:
        """The activations that read a net input."""
        return [c for c in self.consumers(s, net) if self.g.info[c].role == "out"]

    def direct_of(self, s: int, net: Node) -> list[Node]:
        """Cross-entropy errors that take the gradient straight from the net
        input, because out is saturated (see the ops in stepprop.engine)."""
        return [c for c in self.consumers(s, net) if self.g.info[c].role == "error" and self.local(c, net).value != 0]

    @staticmethod
    def saturated(e: Node) -> bool:
        return (
            e.op is not None
            and e.op.name in ("cross_entropy", "binary_cross_entropy")
            and any(d != 0 for d in e.partials[2:])
        )

    def once(self, key: object) -> bool:
        """True the first time a derivation is asked for (it is then shown)."""
        if key in self.shown:
            return False
        self.shown.add(key)
        return True

    # -- formulas (symbols or recorded numbers substituted)
    def affine_terms(self, net: Node, numbers: bool) -> Expr:
        n = net.attrs["n"]
        ps = net.parents
        terms: list[Expr] = []
        for j in range(n):
            w, x = ps[j], ps[n + j]
            terms.append(mul(Num(w.data), Num(x.data)) if numbers else mul(self.sym(w), self.sym(x)))
        if net.attrs["bias"]:
            b = ps[2 * n]
            terms.append(mul(Num(b.data) if numbers else self.sym(b), ONE))
        return add(*terms)

    def activation_formula(self, out: Node, numbers: bool) -> Expr:
        op = out.op.name  # type: ignore[union-attr]

        def arg(node: Node) -> Expr:
            return Num(node.data) if numbers else self.sym(node)

        if op == "softmax":
            k = out.attrs["k"]
            nets = out.parents
            return Frac(Exp(arg(nets[k])), add(*(Exp(arg(x)) for x in nets)))
        x = arg(out.parents[0])
        if op == "sigmoid":
            return Frac(ONE, add(ONE, Exp(Neg(x))))
        if op == "tanh":
            return Func("tanh", (x,))
        if op == "relu":
            return Func("max", (Const("0"), x))
        return x  # linear

    def activation_partial(self, out: Node, net: Node, numbers: bool) -> Expr:
        op = out.op.name  # type: ignore[union-attr]
        o = Num(out.data) if numbers else self.sym(out)
        if op == "sigmoid":
            return mul(o, Paren(Sub(ONE, o)))
        if op == "tanh":
            return Sub(ONE, Pow(o, 2))
        if op == "softmax":
            k = out.attrs["k"]
            j = out.parents.index(net)
            if j == k:
                return mul(o, Paren(Sub(ONE, o)))
            other = self.g.by_sample[self.g.info[out].sample or 0][f"out_{self.g.info[net].neuron}"]
            return Neg(mul(o, Num(other.data) if numbers else self.sym(other)))
        if op == "relu":
            x = Num(net.data) if numbers else self.sym(net)
            return Func("step", (x,))
        return ONE

    def loss_formula(self, e: Node, numbers: bool, derivative: bool) -> Expr:
        out, target = e.parents[0], e.parents[1]
        o: Expr = Num(out.data) if numbers else self.sym(out)
        t: Expr = Num(target.data) if numbers else self.sym(target)
        loss = e.op.name  # type: ignore[union-attr]
        n = Const(str(e.attrs["n"]))
        if loss == "half_squared_error":
            if derivative:
                return Neg(Paren(Sub(t, o)))
            return mul(Frac(ONE, Const("2")), Pow(Paren(Sub(t, o)), 2))
        if loss == "squared_error":
            if derivative:
                return Neg(mul(Const("2"), Paren(Sub(t, o))))
            return Pow(Paren(Sub(t, o)), 2)
        if loss == "half_mean_squared_error":
            if derivative:
                return Neg(Frac(Paren(Sub(t, o)), n))
            return Frac(mul(Frac(ONE, Const("2")), Pow(Paren(Sub(t, o)), 2)), n)
        if loss == "mean_squared_error":
            single = e.attrs["n"] == 1
            if derivative:
                return Neg(mul(Const("2") if single else Frac(Const("2"), n), Paren(Sub(t, o))))
            return Pow(Paren(Sub(t, o)), 2) if single else Frac(Pow(Paren(Sub(t, o)), 2), n)
        if loss == "cross_entropy":
            if derivative:
                return Neg(Frac(t, o))
            return Neg(mul(t, Func("ln", (o,))))
        # binary cross-entropy
        if derivative:
            return add(Neg(Frac(t, o)), Frac(Paren(Sub(ONE, t)), Paren(Sub(ONE, o))))
        return Neg(Paren(add(mul(t, Func("ln", (o,))), mul(Paren(Sub(ONE, t)), Func("ln", (Sub(ONE, o),))))))

    # -- the forward pass
    def forward(self, s: int) -> list[Item]:
        items: list[Item] = []
        last = len(self.net.config.layers) - 1
        for li, neurons in enumerate(self.net.neurons):
            for neuron in neurons:
                net = self.node(s, f"net_{neuron}")
                items.append(
                    Eq(
                        self.sym(net),
                        [self.affine_terms(net, False), self.affine_terms(net, True), Num(net.data)],
                        name=self.sym(net).ascii,
                    )
                )
                out = self.node(s, f"out_{neuron}")
                rhs: list[Expr] = [self.activation_formula(out, False)]
                if out.op.name != "linear":  # type: ignore[union-attr]
                    rhs.append(self.activation_formula(out, True))
                rhs.append(Num(out.data))
                items.append(Eq(self.sym(out), rhs, name=self.sym(out).ascii, result=li == last))
        return items

    def errors(self, s: int) -> list[Item]:
        items: list[Item] = []
        es = []
        for neuron in self.net.output_names:
            e = self.node(s, f"E_{neuron}")
            es.append(e)
            items.append(
                Eq(
                    self.sym(e),
                    [self.loss_formula(e, False, False), self.loss_formula(e, True, False), Num(e.data)],
                    name=self.sym(e).ascii,
                )
            )
        total = self.g.totals[s]
        items.append(
            Eq(
                self.sym(total),
                [add(*(self.sym(e) for e in es)), add(*(Num(e.data) for e in es)), Num(total.data)],
                name=self.sym(total).ascii,
                result=True,
            )
        )
        return items

    # -- the backwards pass: factor derivations, each shown once per sample
    def d_error_d_out(self, s: int, out: Node) -> list[Item]:
        if not self.once(("dE/dout", s, out)):
            return [Eq(D(N.error_sym(self.g, s), self.sym(out)), [self.adj(s, out)], reused=True)]
        root = N.error_sym(self.g, s)
        cons = self.consumers(s, out)
        lhs = D(root, self.sym(out))
        if len(cons) == 1 and self.g.info[cons[0]].role == "error":
            e = cons[0]
            if self.saturated(e):
                return [
                    Eq(
                        lhs,
                        [self.adj(s, out)],
                        name=lhs.ascii,
                        note=f"{self.sym(out).ascii} is exactly {_plain(out.data)} in floating point: "
                        f"the gradient takes the direct path from the net input instead",
                    )
                ]
            return [
                Eq(
                    lhs,
                    [
                        D(self.sym(e), self.sym(out)),
                        self.loss_formula(e, False, True),
                        self.loss_formula(e, True, True),
                        self.adj(s, out),
                    ],
                    name=lhs.ascii,
                )
            ]
        # a hidden neuron: the sum over the neurons it feeds
        items: list[Item] = []
        parts = [D(N.through_sym(self.g, c), self.sym(out)) for c in cons]
        items.append(Eq(lhs, [add(*parts)]))
        for c, part in zip(cons, parts):
            items += self.delta(s, c)
            w = c.parents[c.parents.index(out) - c.attrs["n"]]
            dnet = D(self.sym(c), self.sym(out))
            wsym = self.sym(w).updated() if self.t.rule.updated_downstream else self.sym(w)
            layer = self.g.info[c].layer
            if layer is not None and layer in self.t.rule.transposed_backward:  # re-running a mistake
                grid = self.net.weight_names[layer]  # the weight of the other edge
                k = self.net.neurons[layer].index(self.g.info[c].neuron or "")
                j = self.net.neurons[layer - 1].index(self.g.info[out].neuron or "")
                wsym = N.param_sym(grid[j][k])
            items.append(
                Eq(
                    dnet,
                    [wsym, self.local(c, out)],
                    name=dnet.ascii,
                    note="the already-updated weight" if self.t.rule.updated_downstream else "",
                )
            )
            items.append(
                Eq(
                    part,
                    [mul(N.delta_sym(self.g, c), dnet), mul(self.adj(s, c), self.local(c, out)), self.share(s, c, out)],
                    name=part.ascii,
                )
            )
        numbers = [add(*(self.share(s, c, out) for c in cons))] if len(cons) > 1 else []
        items.append(Eq(lhs, [add(*parts), *numbers, self.adj(s, out)], name=lhs.ascii, result=True))
        return items

    def d_out_d_net(self, s: int, out: Node, net: Node) -> list[Item]:
        lhs = D(self.sym(out), self.sym(net))
        if not self.once(("dout/dnet", s, out, net)):
            return [Eq(lhs, [self.local(out, net)], reused=True)]
        op = out.op.name  # type: ignore[union-attr]
        if self.g.info[out].layer in self.t.rule.skip_activation:
            return [Eq(lhs, [self.local(out, net)], name=lhs.ascii, note="the activation derivative left out")]
        if op == "linear":
            return [Eq(lhs, [self.local(out, net)], name=lhs.ascii, note="linear activation")]
        if op == "relu":
            return [
                Eq(lhs, [self.local(out, net)], name=lhs.ascii, note=f"ReLU: 1 where {self.sym(net).ascii} > 0, else 0")
            ]
        return [
            Eq(
                lhs,
                [
                    self.activation_partial(out, net, False),
                    self.activation_partial(out, net, True),
                    self.local(out, net),
                ],
                name=lhs.ascii,
            )
        ]

    def delta(self, s: int, net: Node, parts: bool = True) -> list[Item]:
        """delta_n = dE_total/dnet_n; ``parts=False`` when its factors were
        derived just before."""
        dsym = N.delta_sym(self.g, net)
        if not self.once(("delta", s, net)):
            return [Eq(dsym, [self.adj(s, net)], reused=True)]
        root = N.error_sym(self.g, s)
        outs = self.outs_of(s, net)
        direct = self.direct_of(s, net)
        items: list[Item] = []
        if len(outs) == 1 and not direct:
            out = outs[0]
            if parts:
                items += self.d_error_d_out(s, out)
                items += self.d_out_d_net(s, out, net)
            items.append(
                Eq(
                    dsym,
                    [
                        D(root, self.sym(net)),
                        mul(D(root, self.sym(out)), D(self.sym(out), self.sym(net))),
                        mul(self.adj(s, out), self.local(out, net)),
                        self.adj(s, net),
                    ],
                    name=dsym.ascii,
                    result=True,
                )
            )
            return items
        # softmax: net_n reaches the error through every output of the layer
        for out in outs:
            items += self.d_error_d_out(s, out)
            items += self.d_out_d_net(s, out, net)
        paths: list[Expr] = [mul(D(root, self.sym(out)), D(self.sym(out), self.sym(net))) for out in outs]
        numbers: list[Expr] = [mul(self.adj(s, out), self.local(out, net)) for out in outs]
        for e in direct:  # saturation: the cross-entropy's direct edge, out - target
            edge = D(self.sym(e), self.sym(net))
            items.append(Eq(edge, [self.local(e, net)], note="direct, because out is saturated: out - target"))
            paths.append(edge)
            numbers.append(self.share(s, e, net))
        items.append(
            Eq(
                dsym,
                [D(root, self.sym(net)), add(*paths), add(*numbers), self.adj(s, net)],
                name=dsym.ascii,
                result=True,
            )
        )
        return items

    def param(self, s: int, pname: str) -> list[Item]:
        leaf = self.g.leaves[pname]
        p = N.param_sym(pname)
        root = N.error_sym(self.g, s)
        lhs = D(root, p)
        nets = self.consumers(s, leaf)
        items: list[Item] = []
        if len(nets) == 1:
            net = nets[0]
            outs = self.outs_of(s, net) if not self.direct_of(s, net) else []
            dnet = D(self.sym(net), p)
            source = (
                net.parents[net.parents.index(leaf) + net.attrs["n"]] if leaf in net.parents[: net.attrs["n"]] else None
            )
            factor_eq = Eq(
                dnet, [self.sym(source) if source is not None else ONE, self.local(net, leaf)], name=dnet.ascii
            )
            if len(outs) == 1:
                out = outs[0]
                chain = [D(root, self.sym(out)), D(self.sym(out), self.sym(net)), dnet]
                items.append(Eq(lhs, [mul(*chain)]))
                items += self.d_error_d_out(s, out)
                items += self.d_out_d_net(s, out, net)
                items.append(factor_eq)
                items.append(
                    Eq(
                        lhs,
                        [
                            mul(*chain),
                            mul(self.adj(s, out), self.local(out, net), self.local(net, leaf)),
                            self.adj(s, leaf),
                        ],
                        name=lhs.ascii,
                        result=True,
                    )
                )
                items += self.delta(s, net, parts=False)
            else:
                items.append(Eq(lhs, [mul(N.delta_sym(self.g, net), dnet)]))
                items += self.delta(s, net)
                items.append(factor_eq)
            # the delta rule: dE/dw = delta_n * (what w multiplies)
            dsym = N.delta_sym(self.g, net)
            if source is not None:
                items.append(
                    Eq(
                        lhs,
                        [mul(dsym, self.sym(source)), mul(self.adj(s, net), self.local(net, leaf)), self.adj(s, leaf)],
                        name=lhs.ascii,
                        note="the delta rule",
                        result=len(outs) != 1,
                    )
                )
            else:
                items.append(
                    Eq(lhs, [dsym, self.adj(s, leaf)], name=lhs.ascii, note="the delta rule", result=len(outs) != 1)
                )
            return items
        # a bias shared by several neurons: one path per neuron
        for net in nets:
            items += self.delta(s, net)
        items.append(
            Eq(
                lhs,
                [
                    add(*(mul(N.delta_sym(self.g, net), D(self.sym(net), p)) for net in nets)),
                    add(*(mul(self.adj(s, net), self.local(net, leaf)) for net in nets)),
                    self.adj(s, leaf),
                ],
                name=lhs.ascii,
                result=True,
                note=f"{pname} is shared: it feeds {', '.join(self.g.info[n].neuron or '' for n in nets)}",
            )
        )
        return items

    def update(self, pname: str) -> list[Item]:
        p = N.param_sym(pname)
        t = self.t
        rule = t.rule
        eta = Sym("eta")
        grad: Expr = D(N.batch_sym(self.g), p)
        grad_num: Expr = Num(t.gradients[pname])
        if not self.net.params[pname].trainable:
            return [
                Eq(
                    p.updated(),
                    [p, Num(t.before[pname])],
                    name=f"{pname}+",
                    note="not updated: the config says update_biases: false",
                )
            ]
        pool = next(
            (names for li in rule.pooled_biases for names in [self.net.bias_names[li]] if names and pname in names),
            None,
        )
        if pool is not None and len(set(pool)) > 1:
            grad = Paren(add(*(D(N.batch_sym(self.g), N.param_sym(n)) for n in pool)))
            grad_num = Paren(add(*(Num(t.gradients[n]) for n in pool)))
        step_sym: Expr = mul(eta, grad) if rule.use_eta else grad
        step_num: Expr = mul(Num(t.config.eta), grad_num) if rule.use_eta else grad_num
        combine = Sub if rule.sign > 0 else (lambda a, b: add(a, b))
        return [
            Eq(
                p.updated(),
                [combine(p, step_sym), combine(Num(t.before[pname]), step_num), Num(t.updated[pname])],
                name=f"{pname}+",
                result=True,
            )
        ]

    def batch_gradient(self, pname: str) -> list[Item]:
        p = N.param_sym(pname)
        per = [D(N.error_sym(self.g, s), p) for s in range(len(self.g.totals))]
        size = Const(str(len(per)))
        lhs = D(N.batch_sym(self.g), p)
        return [
            Eq(
                lhs,
                [
                    Frac(add(*per), size),
                    Frac(add(*(Num(r.adjoints[self.g.leaves[pname]]) for r in self.t.samples)), size),
                    Num(self.t.gradients[pname]),
                ],
                name=lhs.ascii,
                result=True,
                note="the gradient of the batch error: the mean over its samples",
            )
        ]

    # -- the document
    def document(self, only: list[str] | None) -> Document:
        t = self.t
        cfg = t.config
        g = self.g
        params = check_only(t, only)
        sections: list[Section] = []
        multi = g.multi
        labels = [f"sample {k + 1}" for k in g.sample_numbers]

        if not only:
            fwd = Section("The forward pass")
            err = Section("The total error")
            for s in range(len(g.totals)):
                if multi:
                    fwd.items.append(Section(labels[s], self.forward(s)))
                    err.items.append(Section(labels[s], self.errors(s)))
                else:
                    fwd.items += self.forward(s)
                    err.items += self.errors(s)
            if multi:
                e = N.batch_sym(g)
                err.items.append(
                    Eq(
                        e,
                        [
                            Frac(add(*(N.error_sym(g, s) for s in range(len(g.totals)))), Const(str(len(g.totals)))),
                            Frac(add(*(Num(x.data) for x in g.totals)), Const(str(len(g.totals)))),
                            Num(g.root.data),
                        ],
                        name="E",
                        result=True,
                        note="the batch error: the mean of its samples' E_total",
                    )
                )
            sections += [fwd, err]

        back = Section("The backwards pass")
        n_layers = len(cfg.layers)
        for li in reversed(range(n_layers)):
            layer_params = [p for p in params if self.net.params[p].layer == li]
            if not layer_params:
                continue
            if li == n_layers - 1:
                title = "Output layer"
            elif n_layers == 2:
                title = "Hidden layer"
            else:
                title = f"Hidden layer {li + 1}"
            layer_sec = Section(title)
            for pname in layer_params:
                par = self.net.params[pname]
                kind = "the weight" if par.kind == "weight" else "the"
                sec = Section(f"{pname}: {kind} {par.connects}")
                for s in range(len(g.totals)):
                    if multi:
                        sec.items.append(Section(labels[s], self.param(s, pname)))
                    else:
                        sec.items += self.param(s, pname)
                if multi:
                    sec.items += self.batch_gradient(pname)
                sec.items += self.update(pname)
                layer_sec.items.append(sec)
            back.items.append(layer_sec)
        sections.append(back)

        rows: list[list] = []
        for pname in sorted(params, key=param_key):
            par = self.net.params[pname]
            rows.append(
                [
                    pname,
                    par.connects,
                    Num(t.before[pname]),
                    Num(t.gradients[pname]),
                    Num(t.updated[pname]),
                    "" if par.trainable else "fixed",
                ]
            )
        grad_head = "d" + N.batch_sym(g).ascii + "/dp"
        summary = Section(
            "The updated parameters",
            [
                Table(["parameter", "connects", "before", grad_head, "after", "note"], rows),
            ],
        )
        before = N.batch_sym(g)
        summary.items.append(Eq(before, [Num(t.error)], name="error", note="the error before the update"))
        summary.items.append(
            Eq(
                before.updated(),
                [Num(t.error_after)],
                name="error_after",
                result=True,
                note="the error after the update, for the same inputs",
            )
        )
        sections.append(summary)

        intro = self.intro()
        return Document(title="One step of backpropagation", intro=intro, sections=sections)

    def intro(self) -> list[str]:
        t = self.t
        cfg = t.config
        acts = sorted({layer.activation for layer in cfg.layers}, key=list(ACTIVATION_WORDS).index)
        lines = [
            f"network {self.net.shape} from {cfg.source}",
            f"activation: {', '.join(ACTIVATION_WORDS[a] for a in acts)}; error: {cfg.loss}, {LOSS_FORMULAS[cfg.loss]}",
            f"learning rate eta = {_plain(cfg.eta)}; biases "
            + ("are updated" if cfg.update_biases else "stay fixed (update_biases: false)"),
        ]
        n = len(cfg.samples)
        if n > 1:
            batches = cfg.batches()
            lines.append(
                f"{n} samples in {len(batches)} batch{'es' if len(batches) != 1 else ''} of up to "
                f"{cfg.effective_batch_size}; this is the step on batch {t.batch_index + 1} "
                f"(samples {', '.join(str(k + 1) for k in self.g.sample_numbers)})"
            )
        if len(cfg.layers) > 1:
            lines.append("hidden-layer gradients use the original weights, not the updated ones (as the post says)")
        if t.rounding is not None:
            lines.append(f"hand-calculation mode: every intermediate result is rounded to {t.rounding} decimals")
        return lines


def _plain(x: float) -> str:
    return repr(x) if x != int(x) else str(int(x)) if abs(x) < 1e15 else repr(x)


def explain(trace: StepTrace, only: list[str] | None = None) -> Document:
    """The worked example of one recorded step."""
    return _Builder(trace).document(only)

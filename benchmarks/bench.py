"""How fast is `stepprop train`?  Ratios against its peers, measured side by side.

    python benchmarks/bench.py            # the full run (a few minutes)
    python benchmarks/bench.py --quick    # fewer repetitions

Every peer trains the post's network (2-2-2, sigmoid, squared error, eta 0.5)
for 10,000 epochs, each as a whole process, so start-up counts:

* stepprop: ``python -m stepprop train --epochs 10000 --format json``;
* the floor: importing click, rich and pyyaml, plus a hand-unrolled float loop
  written below (the same arithmetic, no framework);
* micrograd's Value engine and PyTorch eager (float64, one thread), each when
  it is installed, and skipped with a note when it is not.

Runs are interleaved (A B C A B C ...) so that a busy machine slows all of
them alike; the medians are compared.  Then: 1,000,000 epochs, peak memory at
1,000 vs 1,000,000 epochs, and a ladder of network sizes showing that the
cost per epoch grows with parameters x samples and nothing worse.

Then `stepprop check`: the post's figures after 10,000 epochs against
training as long; an iris-sized network (4-8-3, softmax, 150 samples) with
four wrong answers, and its ladder of batch sizes (the cost per sample stays
flat); and a class of 200 students.

It prints figures; it asserts nothing.  The tests never time anything.
Measure a regular install (``pip install .``), not an editable one: the
processes start in an empty folder, so they run the installed package.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PY = sys.executable
# every process starts in an empty folder: `python -m stepprop` run from a checkout
# would import the checkout's sources (compiled afresh on every start where
# bytecode is not written), not the installed package being measured
NEUTRAL = tempfile.mkdtemp(prefix="stepprop-bench-")

HAND = textwrap.dedent("""
    import math
    def main(epochs):
        w1, w2, w3, w4, w5, w6, w7, w8 = .15, .2, .25, .3, .4, .45, .5, .55
        b1, b2, i1, i2, t1, t2, eta = .35, .6, .05, .1, .01, .99, .5
        exp = math.exp
        for _ in range(epochs):
            nh1 = w1 * i1 + w2 * i2 + b1; nh2 = w3 * i1 + w4 * i2 + b1
            h1 = 1 / (1 + exp(-nh1)); h2 = 1 / (1 + exp(-nh2))
            no1 = w5 * h1 + w6 * h2 + b2; no2 = w7 * h1 + w8 * h2 + b2
            o1 = 1 / (1 + exp(-no1)); o2 = 1 / (1 + exp(-no2))
            e = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
            d1 = -(t1 - o1) * o1 * (1 - o1); d2 = -(t2 - o2) * o2 * (1 - o2)
            dh1 = (d1 * w5 + d2 * w7) * h1 * (1 - h1); dh2 = (d1 * w6 + d2 * w8) * h2 * (1 - h2)
            w5 -= eta * d1 * h1; w6 -= eta * d1 * h2; w7 -= eta * d2 * h1; w8 -= eta * d2 * h2
            w1 -= eta * dh1 * i1; w2 -= eta * dh1 * i2; w3 -= eta * dh2 * i1; w4 -= eta * dh2 * i2
        return e
    print(main(EPOCHS))
""")

MICROGRAD = textwrap.dedent("""
    import math
    from micrograd.engine import Value
    if not hasattr(Value, "exp"):  # micrograd 0.1.0 on PyPI has no exp: add it, micrograd's way
        def exp(self):
            out = Value(math.exp(self.data), (self,), "exp")
            def _backward():
                self.grad += out.data * out.grad
            out._backward = _backward
            return out
        Value.exp = exp
    def sig(x):
        return 1 / (1 + (-x).exp())
    ws = [Value(v) for v in (.15, .2, .25, .3, .4, .45, .5, .55)]
    b1, b2, i1, i2, t1, t2, eta = .35, .6, .05, .1, .01, .99, .5
    for _ in range(EPOCHS):
        w1, w2, w3, w4, w5, w6, w7, w8 = ws
        h1 = sig(w1 * i1 + w2 * i2 + b1); h2 = sig(w3 * i1 + w4 * i2 + b1)
        o1 = sig(w5 * h1 + w6 * h2 + b2); o2 = sig(w7 * h1 + w8 * h2 + b2)
        e = 0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2
        for w in ws:
            w.grad = 0.0
        e.backward()
        for w in ws:
            w.data -= eta * w.grad
    print(e.data)
""")

TORCH = textwrap.dedent("""
    import torch
    torch.set_num_threads(1)
    d = torch.float64
    W1 = torch.tensor([[.15, .2], [.25, .3]], dtype=d, requires_grad=True)
    W2 = torch.tensor([[.4, .45], [.5, .55]], dtype=d, requires_grad=True)
    b1, b2 = torch.tensor(.35, dtype=d), torch.tensor(.6, dtype=d)
    x, t = torch.tensor([.05, .1], dtype=d), torch.tensor([.01, .99], dtype=d)
    for _ in range(EPOCHS):
        h = torch.sigmoid(W1 @ x + b1)
        o = torch.sigmoid(W2 @ h + b2)
        e = (0.5 * (t - o) ** 2).sum()
        e.backward()
        with torch.no_grad():
            W1 -= 0.5 * W1.grad; W2 -= 0.5 * W2.grad
            W1.grad.zero_(); W2.grad.zero_()
    print(e.item())
""")


def script(body: str, epochs: int, folder: Path, name: str) -> Path:
    path = folder / f"peer_{name}.py"
    path.write_text(body.replace("EPOCHS", str(epochs)))
    return path


def run(cmd: list[str], allowed: tuple[int, ...] = (0,)) -> tuple[float, int]:
    """Wall time of a whole process, and its peak memory (KiB); ``allowed``: the
    exit statuses that are not a failure (check exits 1 when an answer is wrong)."""
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=NEUTRAL)
    _, status, usage = os.wait4(proc.pid, 0)
    spent = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) not in allowed:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr.read().decode() if proc.stderr else ''}")
    return spent, usage.ru_maxrss


def medians(commands: dict[str, list[str]], repeat: int, allowed: tuple[int, ...] = (0,)) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in commands}
    for cmd in commands.values():  # warm the file cache
        run(cmd, allowed)
    for _ in range(repeat):
        for name, cmd in commands.items():
            times[name].append(run(cmd, allowed)[0])
    return {k: statistics.median(v) for k, v in times.items()}


def ladder(quick: bool) -> None:
    import random

    import stepprop

    print("\nThe size ladder: the cost of one more epoch, against parameters x samples")
    print("(in-process; the one-off cost of recording and compiling the graph is shown apart)")
    print(f"{'network':>14} {'samples':>8} {'params':>7} {'setup s':>8} {'s/epoch':>11} {'ns per param-sample':>20}")
    rnd = random.Random(1)
    for shape, samples in [((2, 2, 2), 1), ((4, 8, 4), 8), ((8, 16, 16, 4), 32), ((8, 32, 32, 4), 64)]:
        layers = [
            {"weights": [[round(rnd.uniform(-0.5, 0.5), 3) for _ in range(a)] for _ in range(b)], "bias": [0.0] * b}
            for a, b in zip(shape, shape[1:])
        ]
        data = [
            {
                "inputs": [round(rnd.random(), 3) for _ in range(shape[0])],
                "targets": [round(rnd.random(), 3) for _ in range(shape[-1])],
            }
            for _ in range(samples)
        ]
        net = stepprop.Network.from_dict({"samples": data, "eta": 0.1, "batch_size": 16, "layers": layers})
        params = len(net.params)
        began = time.perf_counter()
        net.train(1)
        setup = time.perf_counter() - began
        epochs = 2
        while True:
            began = time.perf_counter()
            net.train(epochs)
            spent = time.perf_counter() - began
            if spent - setup > (0.3 if quick else 1.0) or epochs >= 1_000_000:
                break
            epochs *= 2
        per = max(spent - setup, 0.0) / (epochs - 1)
        print(
            f"{'-'.join(map(str, shape)):>14} {samples:>8} {params:>7} {setup:>8.3f} {per:>11.3g} "
            f"{per / (params * samples) * 1e9:>20.3g}"
        )


def classroom_config(samples: int) -> dict:
    """An iris-sized network (4-8-3, sigmoid then softmax, cross-entropy), with
    ``samples`` samples drawn once: the scale of a class's example."""
    import random

    rnd = random.Random(7)
    layers = [
        {"weights": [[round(rnd.uniform(-0.5, 0.5), 2) for _ in range(4)] for _ in range(8)], "bias": [0.0] * 8},
        {
            "weights": [[round(rnd.uniform(-0.5, 0.5), 2) for _ in range(8)] for _ in range(3)],
            "bias": [0.0] * 3,
            "activation": "softmax",
        },
    ]
    data = []
    for k in range(samples):
        target = [0, 0, 0]
        target[k % 3] = 1
        data.append({"inputs": [round(rnd.uniform(0, 8), 1) for _ in range(4)], "targets": target})
    return {"samples": data, "eta": 0.1, "loss": "cross_entropy", "layers": layers}


# four wrong answers, none of them a catalogued mistake: the most a check works out
WRONG = "out_o1[1]: 0.3527\nw5+: 0.3120\ndE/dw1: 0.01234\nE: 1.2345\n"


def check_figures(folder: Path, repeat: int) -> None:
    import json

    print(f"\nstepprop check (whole process, median of {repeat}, interleaved)")
    m = medians(
        {
            "check mazur-post-10000": [PY, "-m", "stepprop", "check", "mazur-post-10000", "--format", "json"],
            "train --epochs 10000": [PY, "-m", "stepprop", "train", "--epochs", "10000", "--format", "json"],
        },
        repeat,
        allowed=(0, 1),
    )
    for name, seconds in m.items():
        print(f"  {name:<26} {seconds * 1000:8.1f} ms")
    ratio = m["check mazur-post-10000"] / m["train --epochs 10000"]
    print(f"  check / train                          {ratio:6.2f}   (goal: at most 2)")

    answers = folder / "wrong.yaml"
    answers.write_text(WRONG)
    print("\nOne step of a 4-8-3 softmax network, four wrong answers (whole process, one run each):")
    print(f"{'samples':>9} {'seconds':>8} {'ms per sample':>14} {'peak MiB':>9}")
    for samples in (10, 50, 150):
        config = folder / f"iris-{samples}.json"  # JSON is YAML
        config.write_text(json.dumps(classroom_config(samples)))
        spent, peak = run([PY, "-m", "stepprop", "check", str(config), str(answers), "--format", "json"], (1,))
        print(f"{samples:>9} {spent:>8.2f} {spent / samples * 1000:>14.1f} {peak / 1024:>9.0f}")
    print("  (goal at 150 samples: under 5 s and 300 MB)")

    rows = ["student,out_h1,dE/dw5,w5+"]
    for k in range(200):
        rows.append(f"s{k},0.59{k % 10}3,0.0821{k % 7},0.35{k % 9}9")
    table = folder / "class.csv"
    table.write_text("\n".join(rows) + "\n")
    spent, peak = run([PY, "-m", "stepprop", "check", str(table), "--format", "json"], (0, 1))
    print(f"\nA class of 200 students, three answers each, the post's network: {spent:.2f} s, {peak / 1024:.0f} MiB")


def command_ladder(quick: bool) -> None:
    """Every command at growing sizes (in-process, through the library): the
    seconds, the microseconds per recorded node, and that cost against the
    smallest size's (flat: the cost grows linearly with nodes x samples)."""
    import json

    import stepprop

    sizes = [10, 40, 150] if quick else [10, 20, 40, 80, 150]
    folder = Path(tempfile.mkdtemp(prefix="stepprop-ladder-"))
    answers = folder / "wrong.yaml"
    answers.write_text(WRONG)

    def explain(net, fmt, samples=None):
        step = net.step()
        if fmt == "json":
            return json.dumps(step.to_dict())
        return step.render(fmt, samples=samples)

    commands = {
        "explain text": lambda net: explain(net, "text"),
        "explain text, all": lambda net: explain(net, "text", "all"),
        "explain json": lambda net: explain(net, "json"),
        "explain html": lambda net: explain(net, "html"),
        "check, 4 wrong": lambda net: stepprop.check(net, str(answers)).document(),
        "verify (no torch)": lambda net: stepprop.verify(net, use_torch=False),
        "train set-up": lambda net: net.train(1),
    }
    print("\nEvery command against the batch size (4-8-3 softmax network; in-process, one run each)")
    print(f"{'command':<18} {'samples':>8} {'nodes':>8} {'seconds':>8} {'us/node':>8} {'x smallest':>10}")
    for name, command in commands.items():
        first = None
        for samples in sizes:
            net = stepprop.Network.from_dict(classroom_config(samples))
            nodes = len(net.step().trace.graph.tape.nodes)
            began = time.perf_counter()
            command(net)
            spent = time.perf_counter() - began
            per = spent / nodes * 1e6
            first = first or per
            print(f"{name:<18} {samples:>8} {nodes:>8} {spent:>8.3f} {per:>8.1f} {per / first:>10.2f}")
    net = stepprop.Network.from_dict(classroom_config(sizes[-1]))
    began = time.perf_counter()
    net.train(1)
    one = time.perf_counter() - began
    began = time.perf_counter()
    net.train(21)
    epoch = (time.perf_counter() - began - one) / 20
    print(f"train at {sizes[-1]} samples: set-up {one:.3f} s, then {epoch * 1000:.1f} ms per epoch")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    repeat = 5 if args.quick else 15
    folder = Path(tempfile.mkdtemp(prefix="stepprop-bench-"))
    print(
        f"stepprop benchmark, {time.strftime('%Y-%m-%d')}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores"
    )
    commands = {
        "stepprop train": [PY, "-m", "stepprop", "train", "--epochs", "10000", "--format", "json"],
        "import click, rich, yaml": [PY, "-c", "import click, rich, yaml"],
        "hand-unrolled loop": [PY, str(script(HAND, 10_000, folder, "hand"))],
        "empty python": [PY, "-c", "pass"],
    }
    notes = []
    if importlib.util.find_spec("micrograd"):
        commands["micrograd"] = [PY, str(script(MICROGRAD, 10_000, folder, "micro"))]
    else:
        notes.append("micrograd is not installed here (pip install micrograd): skipped")
    if importlib.util.find_spec("torch"):
        commands["PyTorch eager"] = [PY, str(script(TORCH, 10_000, folder, "torch"))]
    else:
        notes.append("PyTorch is not installed here (pip install torch): skipped")
    m = medians(commands, repeat)
    print(f"\nThe post's network, 10,000 epochs, whole process (median of {repeat}, interleaved):")
    for name, seconds in m.items():
        print(f"  {name:<26} {seconds * 1000:8.1f} ms")
    for note in notes:
        print(f"  {note}")
    floor = m["import click, rich, yaml"] + m["hand-unrolled loop"] - m["empty python"]
    ours = m["stepprop train"]
    print("\nRatios:")
    print(f"  stepprop / (import floor + hand loop)   {ours / floor:6.2f}   (goal: at most 1.5)")
    if "PyTorch eager" in m:
        print(f"  PyTorch eager / stepprop                {m['PyTorch eager'] / ours:6.1f}   (goal: at least 25)")
    if "micrograd" in m:
        print(f"  micrograd / stepprop                    {m['micrograd'] / ours:6.1f}   (goal: at least 5)")

    spent, _ = run([PY, "-m", "stepprop", "train", "--epochs", "1000000", "--format", "json"])
    print(f"\n1,000,000 epochs of the post's network: {spent:.2f} s (whole process)")
    _, small = run([PY, "-m", "stepprop", "train", "--epochs", "1000", "--format", "json"])
    _, large = run([PY, "-m", "stepprop", "train", "--epochs", "1000000", "--format", "json"])
    print(
        f"Peak memory: {small / 1024:.1f} MiB at 1,000 epochs, {large / 1024:.1f} MiB at 1,000,000 "
        f"({(large - small) / small * 100:+.1f}%)"
    )
    ladder(args.quick)
    check_figures(folder, repeat)
    command_ladder(args.quick)


if __name__ == "__main__":
    main()

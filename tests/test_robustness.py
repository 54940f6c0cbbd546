"""Never crash, never lose work.

* Fuzzing: random and mutated YAML documents thrown at the loader, and random
  command lines thrown at the CLI.  The only acceptable outcomes are success
  or a clean error: a ConfigError from the loader; exit 0, 1 or 2 from the
  CLI with no traceback and no "internal error".  The long runs are marked
  slow (pytest -m slow, in CI); a quick run of each is in the default suite.
* Ctrl-C during `train`: results so far, marked as interrupted, a consistent
  --save file, exit 130.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import BUNDLED, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stepprop import config, network, training
from stepprop.errors import ConfigError

VALID = [config.bundled_text(name) for name in BUNDLED]


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )


def loads_or_fails_cleanly(text: str) -> None:
    try:
        cfg = config.parse(text, "fuzz.yaml")
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith("fuzz.yaml") and "\n" not in message.strip(), message
        return
    assert cfg.layers and cfg.samples


@fuzz(800)
@given(st.text(max_size=300))
def test_random_text(text):
    loads_or_fails_cleanly(text)


SPECIAL = list(":-[]{},#&*!|>'\"%@`\t\n ") + ["0", "1e-3", "no", ".nan", "- ", ": ", "!!python/object:os.system"]


ANSWERS = [open(config.bundled_answers(name), encoding="utf-8").read() for name in config.bundled_answer_names()]
CLASSES = ["student,out_h1,dE/dw5,w5+\nada,0.593269992,0.082167041,0.35891648\nbob,0.61,0.08434,0.35783\n"]


@st.composite
def mutated(draw, sources=VALID):
    text = draw(st.sampled_from(sources))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace-token", "duplicate-line", "swap-lines"]))
        lines = text.split("\n")
        if kind == "delete" and text:
            i = draw(st.integers(0, len(text) - 1))
            text = text[:i] + text[i + 1 :]
        elif kind == "insert":
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.sampled_from(SPECIAL)) + text[i:]
        elif kind == "replace-token":
            tokens = text.split(" ")
            i = draw(st.integers(0, len(tokens) - 1))
            tokens[i] = draw(st.sampled_from(SPECIAL + ["[[1, 2], [3]]", "softmax", "relu", "-5", "1e308", "0"]))
            text = " ".join(tokens)
        elif kind == "duplicate-line":
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        else:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@pytest.mark.slow
@fuzz(2000)
@given(mutated())
def test_mutated_configs(text):
    loads_or_fails_cleanly(text)


@fuzz(200)
@given(mutated())
def test_mutated_configs_quick(text):
    loads_or_fails_cleanly(text)


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(allow_nan=True), st.text(max_size=12)
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(list(config.TOP_KEYS) + list(config.LAYER_KEYS) + ["x"]), children, max_size=5),
    ),
    max_leaves=25,
)


@pytest.mark.slow
@fuzz(600)
@given(documents)
def test_random_documents(doc):
    loads_or_fails_cleanly(yaml.safe_dump(doc))


@fuzz(100)
@given(documents)
def test_random_documents_quick(doc):
    loads_or_fails_cleanly(yaml.safe_dump(doc))


OPTIONS = [
    [],
    ["--format", "json"],
    ["--format", "text"],
    ["--format", "markdown"],
    ["--format", "latex"],
    ["--format", "html"],
    ["--format", "svg"],
    ["--format", "nope"],
    ["--digits", "3"],
    ["--digits", "0"],
    ["--digits", "x"],
    ["--only", "w5"],
    ["--only", "w5", "b9"],
    ["--only"],
    ["--batch", "2"],
    ["--batch", "-1"],
    ["--round", "4"],
    ["--round", "99"],
    ["--names"],
    ["--epochs", "3"],
    ["--epochs", "0"],
    ["--epochs", "-5"],
    ["--epochs", "1e9"],
    ["--every", "1"],
    ["--every", "0"],
    ["--after"],
    ["--gradients"],
    ["--no-torch"],
    ["--fragment"],
    ["-n", "2"],
    ["--force"],
    ["--unknown"],
    ["--", "-x"],
]
ARGUMENTS = [[], *([name] for name in BUNDLED), ["no-such-file.yaml"], ["."], ["a", "b", "c"]]
COMMAND_LINES = (
    st.sampled_from(["explain", "train", "check", "diagram", "verify", "nosuch"]),
    st.sampled_from(ARGUMENTS),
    st.lists(st.sampled_from(OPTIONS), max_size=3),
)


def runs_or_fails_cleanly(args: list[str]) -> None:
    # conftest's run: no traceback, no exception but SystemExit, no "internal error"
    result = run(*args)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)


@pytest.mark.slow
@fuzz(300)
@given(*COMMAND_LINES)
def test_random_command_lines(command, arguments, options):
    runs_or_fails_cleanly([command] + arguments + [token for option in options for token in option])


@fuzz(60)
@given(*COMMAND_LINES)
def test_random_command_lines_quick(command, arguments, options):
    # train's default is 10,000 epochs: a given --epochs comes later and wins
    short = ["--epochs", "3"] if command == "train" else []
    runs_or_fails_cleanly([command] + arguments + short + [token for option in options for token in option])


RUNS = [
    ["explain"],
    ["explain", "--format", "json"],
    ["explain", "--format", "html"],
    ["train", "--epochs", "3"],
    ["diagram", "--format", "svg"],
    ["verify", "--no-torch"],
    ["check", "--template"],
]


def _mutated_run(tmp_path, text: str, command: list[str]) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    runs_or_fails_cleanly([*command, str(path)])


@pytest.mark.slow
@fuzz(300)
@given(mutated(), st.sampled_from(RUNS))
def test_mutated_configs_through_every_command(tmp_path_factory, text, command):
    """A mutated config that still loads is run, not only read: every command
    either works or says what is wrong."""
    _mutated_run(tmp_path_factory.mktemp("fuzz"), text, command)


@fuzz(25)
@given(mutated(), st.sampled_from(RUNS))
def test_mutated_configs_through_every_command_quick(tmp_path_factory, text, command):
    _mutated_run(tmp_path_factory.mktemp("fuzz"), text, command)


def _check_mutated(tmp_path, text: str, name: str, options: list[str]) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    runs_or_fails_cleanly(["check", str(path), *options])


CHECK_OPTIONS = st.lists(
    st.sampled_from([["--format", "json"], ["--format", "csv"], ["--epochs", "2"], ["--format", "html"]]), max_size=2
)


@pytest.mark.slow
@fuzz(300)
@given(mutated(ANSWERS), CHECK_OPTIONS)
def test_mutated_answers_files(tmp_path_factory, text, options):
    _check_mutated(tmp_path_factory.mktemp("fuzz"), text, "answers.yaml", [o for opt in options for o in opt])


@fuzz(25)
@given(mutated(ANSWERS), CHECK_OPTIONS)
def test_mutated_answers_files_quick(tmp_path_factory, text, options):
    _check_mutated(tmp_path_factory.mktemp("fuzz"), text, "answers.yaml", [o for opt in options for o in opt])


@pytest.mark.slow
@fuzz(200)
@given(mutated(CLASSES), CHECK_OPTIONS)
def test_mutated_class_files(tmp_path_factory, text, options):
    _check_mutated(tmp_path_factory.mktemp("fuzz"), text, "class.csv", [o for opt in options for o in opt])


@fuzz(15)
@given(mutated(CLASSES), CHECK_OPTIONS)
def test_mutated_class_files_quick(tmp_path_factory, text, options):
    _check_mutated(tmp_path_factory.mktemp("fuzz"), text, "class.csv", [o for opt in options for o in opt])


answer_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.floats(), max_size=2),
)
answer_names = st.one_of(st.sampled_from(["out_h1", "w5+", "dE/dw5", "E", "epochs", "δ_o1"]), st.text(max_size=8))


def _library_fails_cleanly(doc: object, answers: object) -> None:
    """The library: a document as a config, then answers for it; only
    stepprop's own errors may come out."""
    import stepprop

    try:
        net = stepprop.Network.from_dict(doc)
        net.step()
    except stepprop.StepPropError:
        net = stepprop.load()
    try:
        stepprop.check(net, answers)
    except stepprop.StepPropError:
        pass


@pytest.mark.slow
@fuzz(400)
@given(documents, st.dictionaries(answer_names, answer_values, max_size=4))
def test_the_library_with_random_configs_and_answers(doc, answers):
    _library_fails_cleanly(doc, answers)


@fuzz(40)
@given(documents, st.dictionaries(answer_names, answer_values, max_size=4))
def test_the_library_with_random_configs_and_answers_quick(doc, answers):
    _library_fails_cleanly(doc, answers)


# ------------------------------------------------------------ interrupts --


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_during_train_stops_cleanly(tmp_path):
    saved = tmp_path / "trained.yaml"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stepprop", "train", "--epochs", "100000000", "--save", str(saved)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(2.5)  # well into training
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    assert "interrupted at epoch" in err and "INTERRUPTED" in out
    epochs = int(err.split("interrupted at epoch ")[1].split()[0])
    assert 0 < epochs < 100_000_000
    # the saved file is a complete config of the network after exactly those epochs
    again = training.train(network.Net(config.load()), epochs)
    assert network.Net(config.load(saved)).values == again.values  # bit for bit
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_never_clobbers_the_input_without_asking(tmp_path):
    source = tmp_path / "mine.yaml"
    source.write_text(config.bundled_text("mazur"))
    before = source.read_text()
    result = run("train", str(source), "--epochs", "5", "--save", str(source), code=1)
    assert "--force" in result.stderr
    assert source.read_text() == before
    run("train", str(source), "--epochs", "5", "--save", str(source), "--force", code=0)
    assert config.load(source).layers[0].weights[0][0] != 0.15


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    from stepprop import files

    target = tmp_path / "out.md"
    target.write_text("old")

    def broken(fd, data):  # the disk fills up half way
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", lambda fd: broken(fd, b""))
    with pytest.raises(OSError):
        files.write_atomic(target, "new text")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]


def test_files_too_large_directories_and_unreadable_files(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (config.MAX_BYTES + 10))
    result = run("explain", str(big), code=1)
    assert "at most" in result.stderr
    result = run("explain", str(tmp_path), code=1)
    assert "directory" in result.stderr
    locked = tmp_path / "locked.yaml"
    locked.write_text(config.bundled_text("mazur"))
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as a user who can read any file (root), so no file is unreadable")
        result = run("explain", str(locked), code=1)
        assert "cannot read" in result.stderr
    finally:
        locked.chmod(0o644)


def test_absurd_epochs_are_a_usage_error():
    for value in ("-1", "0", "1000000000000", "ten"):
        result = run("train", "--epochs", value, code=2)
        assert "--epochs" in result.stderr, value


# ------------------------------------------- special files, caps, streams --

DEAD_RELU = """\
inputs: [1.0]
targets: [0.0]
eta: 1.0e+308
layers:
  - {weights: [[0.003]], bias: 0.0, activation: relu}
  - {weights: [[100]], bias: 0.0, activation: sigmoid}
"""


def test_a_parameter_that_overflows_stops_training_though_the_error_stays_finite(tmp_path):
    """dE/dw1 = delta_o1 * 100 * 1 is about 10: with eta = 1e308 the first update
    sends w1 to -inf, the ReLU dies, and the error stays finite (a sigmoid of b2)."""
    path = tmp_path / "dead.yaml"
    path.write_text(DEAD_RELU)
    saved = tmp_path / "saved.yaml"
    result = run("train", str(path), "--epochs", "5", "--save", str(saved), code=1)
    assert "diverged at epoch 1: w1 became -inf" in result.stderr
    assert "inf" not in result.stdout and not saved.exists()
    result = run("explain", str(path), code=1)
    assert "w1" in result.stderr and "-inf" in result.stderr and "inf" not in result.stdout


def test_writing_into_a_fifo_keeps_it_a_fifo(tmp_path):
    import stat
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    result = run("explain", "-o", str(fifo), code=0)
    reader.join(timeout=30)
    assert b"out_o1 = " in got[0] and "wrote" in result.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_writing_through_a_symbolic_link_keeps_the_link(tmp_path):
    target = tmp_path / "real.md"
    target.write_text("old")
    link = tmp_path / "link.md"
    link.symlink_to(target)
    run("explain", "-o", str(link), "--force", code=0)
    assert link.is_symlink() and target.read_text().startswith("# One step of backpropagation")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_disk_is_reported():
    result = run("explain", "-o", "/dev/full", code=1)
    assert "No space left on device" in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_an_endless_source_is_read_no_further_than_the_cap():
    for args in (["explain", "/dev/zero"], ["check", "/dev/zero"], ["check", "/dev/urandom"]):
        result = run(*args, code=1)
        assert "at most" in result.stderr, args


def test_a_fifo_fed_forever_is_read_no_further_than_the_cap(tmp_path):
    import threading

    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)

    def feed() -> None:
        try:
            with open(fifo, "w") as handle:
                while True:
                    handle.write("# " + "x" * 65536 + "\n")
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = run("explain", str(fifo), code=1)
    assert "at most" in result.stderr


def test_output_paths_are_checked_before_training(tmp_path):
    result = run("train", "--epochs", "100000000", "--save", str(tmp_path / "nodir" / "x.yaml"), code=1)
    assert "does not exist" in result.stderr and "Training" not in result.stdout
    same = str(tmp_path / "x.svg")
    result = run("train", "--epochs", "5", "--save", same, "--plot", same, code=2)
    assert "same file" in result.stderr


def test_the_results_are_shown_when_saving_fails(tmp_path, monkeypatch):
    from stepprop import files
    from stepprop.errors import StepPropError

    def full(path, text):
        raise StepPropError(f"{path}: the disk is full")

    monkeypatch.setattr(files, "write_atomic", full)
    result = run("train", "--epochs", "5", "--save", str(tmp_path / "x.yaml"), code=1)
    assert "The trained parameters" in result.stdout and "the disk is full" in result.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_standard_output_is_an_error():
    for args in (["--version"], ["--help"], ["explain"], ["explain", "--format", "json"]):
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [sys.executable, "-m", "stepprop", *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120
            )
        assert proc.returncode == 1, (args, proc.stderr)
        assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr, args


@pytest.mark.skipif(sys.platform == "win32", reason="closing a descriptor for a child is POSIX")
def test_a_closed_standard_output_is_an_error():
    proc = subprocess.run(
        [sys.executable, "-m", "stepprop", "explain"],
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.close(1),
    )
    assert proc.returncode == 1 and "standard output is closed" in proc.stderr


@pytest.mark.parametrize("where", ["make_context", "invoke"])
def test_an_interrupt_while_click_parses_is_an_interrupt_not_an_abort(monkeypatch, capsys, where):
    """Ctrl-C (or SIGTERM) that lands while click parses the command line, before
    a command's own handler, still ends with "interrupted" and status 130, not
    click's "Aborted!" and 1 (a slow machine met this in CI)."""
    from stepprop import _entry
    from stepprop.cli import main as cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(type(cli), where, interrupted)
    monkeypatch.setattr(_entry.signal, "signal", lambda *args: None)  # pytest keeps its own
    monkeypatch.setattr(_entry.gc, "set_threshold", lambda *args: None)
    monkeypatch.setattr(sys, "argv", ["stepprop", "explain"])
    with pytest.raises(SystemExit) as exit_:
        _entry.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 130
    assert "interrupted" in err and "Aborted" not in err


def _wait_for_the_handler(pid: int) -> None:
    """Start-up ends when stepprop has taken SIGTERM (before that, the
    interpreter's default applies): on Linux, wait until /proc says it is
    caught; elsewhere, give the interpreter a moment."""
    status = f"/proc/{pid}/status"
    if not os.path.exists(status):
        time.sleep(0.1)
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(status) as f:
            caught = next((line.split()[1] for line in f if line.startswith("SigCgt:")), "0")
        if int(caught, 16) & (1 << (signal.SIGTERM - 1)):
            return
        time.sleep(0.002)
    raise AssertionError("stepprop never took SIGTERM")


@pytest.mark.skipif(sys.platform == "win32", reason="signals to a child process are POSIX")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_early_interrupt_or_termination_is_clean(tmp_path, signum):
    """At any moment after start-up (from the instant stepprop takes SIGTERM,
    while click and the modules still load), Ctrl-C or SIGTERM: exit 130, no
    traceback, nothing half-written."""
    for delay in (0.0, 0.1, 0.3, 0.6):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stepprop",
                "train",
                "-n",
                "100000000",
                "--save",
                str(tmp_path / "t.yaml"),
                "--force",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        _wait_for_the_handler(proc.pid)
        time.sleep(delay)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (delay, err)
        assert "Traceback" not in err and "interrupted" in err, (delay, err)
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# ------------------------------------------------ sizes and numbers beyond --


def test_a_diagram_too_crowded_to_label_is_drawn_without_labels(tmp_path):
    """99 hidden neurons: 297 connections, more than any picture can label
    legibly; the SVG (and the HTML that holds it) draws them unlabelled and says
    where they are listed."""
    import json

    layers = [{"weights": [[0.1, 0.1]] * 99, "bias": 0.1}, {"weights": [[0.1] * 99], "bias": 0.1}]
    path = tmp_path / "wide.yaml"
    path.write_text(json.dumps({"inputs": [0.5, 0.5], "targets": [0.5], "eta": 0.1, "layers": layers}))
    svg = run("diagram", str(path), "--format", "svg", code=0).stdout
    assert svg.count("<line") == 2 * 99 + 99 + 99 + 1  # every connection: inputs, outputs, the two biases
    assert 'class="label"' not in svg and "too many connections to label" in svg
    assert "<svg" in run("explain", str(path), "--format", "html", code=0).stdout
    text = run("diagram", str(path), "--format", "text", code=0).stdout
    assert "h99 <- i1 (w197 = 0.1), i2 (w198 = 0.1)" in text


def test_the_posts_diagram_keeps_its_labels():
    svg = run("diagram", "--format", "svg", code=0).stdout
    assert svg.count('class="label"') == 8 and "too many connections" not in svg


@pytest.mark.parametrize(
    "written, words",
    [
        ("1e-999999999", "beyond the numbers"),
        ("1e999", "beyond the numbers"),
        ("0." + "5" * 5000, "longer than"),
        ("0." + "5" * 60, "more than 40 digits"),
        ("1/" + "7" * 5000, "longer than"),
    ],
)
def test_answers_beyond_what_can_be_checked(tmp_path, written, words):
    path = tmp_path / "answers.yaml"
    path.write_text(f"out_h1: {written}\n")
    result = run("check", str(path), code=1)
    assert words in result.stderr and ":1:9:" in result.stderr, result.stderr


def test_an_answers_files_epochs_are_capped(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("epochs: 100000000000\nout_h1: 0.5\n")
    result = run("check", str(path), code=1)
    assert "epochs must be 1 to 10,000,000" in result.stderr


def test_a_huge_whole_number_answer_in_python_is_refused_with_the_reason():
    import stepprop

    with pytest.raises(stepprop.StepPropError, match="longer than"):
        stepprop.check(stepprop.load(), {"out_h1": 10**400})


@pytest.mark.parametrize("value", [5e-324, 1.7300651187322896e-185, 2.5e-300])
def test_answers_with_hundreds_of_decimals_are_graded(value):
    """Found by the library fuzzer: a float answer this small has hundreds of
    decimals; grading it needs no more precision than it has."""
    import stepprop

    (graded,) = stepprop.check(stepprop.load(), {"out_h1": value}).graded
    assert graded.status == "wrong"


def test_every_epoch_reported_over_millions_of_epochs_is_refused_before_training():
    result = run("train", "--epochs", "100000000", "--every", "1", code=2)
    assert "--every 100 or more" in result.stderr and "Training" not in result.stdout
    assert run("train", "--epochs", "20", "--every", "1", "--format", "json", code=0)

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


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(VALID))
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

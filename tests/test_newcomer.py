"""A newcomer's first ten minutes: init, examples, help that teaches, completion."""

import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from stepprop import config, network
from stepprop.cli import main


def run(*args, **kw):
    result = CliRunner().invoke(main, list(args), **kw)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("shape", ["2-2-2", "2-3-1", "3-4-4-2", "1-1"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
@pytest.mark.parametrize("loss", ["half_squared_error", "mean_squared_error", "cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("bias", ["shared", "per-neuron", "none"])
def test_init_writes_a_valid_config(tmp_path, shape, activation, loss, bias):
    path = tmp_path / "mine.yaml"
    result = run(
        "init", shape, "--activation", activation, "--loss", loss, "--bias", bias, "--seed", "7", "-o", str(path)
    )
    assert result.exit_code == 0, result.output
    cfg = config.load(path)
    assert "-".join(map(str, cfg.shape)) == shape
    # for one output, the cross-entropy is the binary one (softmax needs two outputs)
    one_output = shape.endswith("-1") and shape.count("-") >= 1 and shape.split("-")[-1] == "1"
    assert cfg.loss == ("binary_cross_entropy" if loss == "cross_entropy" and one_output else loss)
    assert all(layer.bias is None for layer in cfg.layers) == (bias == "none")
    assert run("explain", str(path), "--format", "json").exit_code == 0


def test_init_comments_every_key_and_the_numbering(tmp_path):
    text = run("init", "2-3-1").stdout
    keys = [
        line.split(":")[0].strip()
        for line in text.splitlines()
        if re.match(r"^\s*(- )?[a-z_]+:", line) and not line.strip().startswith("#")
    ]
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("#", "- #")) or not stripped:
            continue
        key = stripped.split(":")[0]
        if key in keys and key != "layers":
            assert "#" in line, f"no comment on: {line}"
    # which weight connects which neurons, as explain names them
    assert "h1 <- i1, i2: w1, w2" in text and "o1 <- h1, h2, h3: w7, w8, w9" in text
    net = network.Net(config.parse(text))
    assert net.params["w8"].source == "h2" and net.params["w8"].targets == ("o1",)


def test_init_is_seeded():
    assert run("init", "2-2-2", "--seed", "3").stdout == run("init", "2-2-2", "--seed", "3").stdout
    assert run("init", "2-2-2", "--seed", "3").stdout != run("init", "2-2-2", "--seed", "4").stdout


def test_init_from_a_bundled_example(tmp_path):
    path = tmp_path / "xor.yaml"
    assert run("init", "--from", "xor", "-o", str(path)).exit_code == 0
    assert path.read_text() == config.bundled_text("xor")
    bad = run("init", "--from", "xorr")
    assert bad.exit_code == 1 and "did you mean 'xor'" in bad.stderr


def test_init_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("mine")
    result = run("init", "2-2-2", "-o", str(path))
    assert result.exit_code == 1 and "--force" in result.stderr and path.read_text() == "mine"
    assert run("init", "2-2-2", "-o", str(path), "--force").exit_code == 0
    assert path.read_text() != "mine"


@pytest.mark.parametrize("shape", ["2", "2-", "a-b", "2-0-1", "2-999-1", ""])
def test_init_bad_shapes(shape):
    result = run("init", shape)
    assert result.exit_code in (1, 2) and "Error" in result.stderr


def test_examples_lists_every_bundled_config():
    out = run("examples").stdout
    for name in config.bundled_names():
        assert re.search(rf"^{re.escape(name)}\s+\d+(-\d+)+\s+\S", out, re.M), name


def test_version():
    import stepprop

    for flag in ("--version", "-V"):
        result = run(flag)
        assert result.exit_code == 0 and stepprop.__version__ in result.stdout


COMMANDS = ["explain", "train", "check", "diagram", "verify", "init", "examples"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_ends_with_real_examples_that_run(command, tmp_path):
    text = run(command, "--help").stdout
    tail = text.split("Examples:")[1]
    examples = [line.strip() for line in tail.splitlines() if line.strip().startswith("stepprop ")]
    assert 2 <= len(examples) <= 5, examples
    for example in examples:
        args = example.split("#")[0].split()[1:]
        if "answers.yaml" in example or "after-training.yaml" in example or "mine.yaml" in " ".join(args[:1]):
            continue  # these name the user's own files
        args = [a for a in args]
        result = CliRunner().invoke(main, args, catch_exceptions=False) if "-o" not in args else None
        if result is not None:
            assert result.exit_code in (0, 1), (example, result.output)
            assert "Traceback" not in result.output


def test_shell_completion_script():
    env = {**os.environ, "_STEPPROP_COMPLETE": "bash_source"}
    proc = subprocess.run([sys.executable, "-m", "stepprop"], env=env, capture_output=True, text=True)
    assert "complete" in proc.stdout and "_STEPPROP_COMPLETE" in proc.stdout


def test_no_color_and_streams(tmp_path):
    # data on stdout, diagnostics on stderr
    path = tmp_path / "out.md"
    result = run("explain", "--format", "markdown", "-o", str(path))
    assert result.stdout == "" and f"wrote {path}" in result.stderr
    result = run("explain", env={"NO_COLOR": "1"})
    assert "\x1b[" not in result.stdout

"""A newcomer's first ten minutes: init, examples, help that teaches, completion."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CONFIGS, run

from stepprop import config, network
from stepprop.cli import main


@pytest.mark.parametrize("shape", ["2-2-2", "2-3-1", "3-4-4-2", "1-1"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
@pytest.mark.parametrize("loss", ["half_squared_error", "mean_squared_error", "cross_entropy", "binary_cross_entropy"])
@pytest.mark.parametrize("bias", ["shared", "per-neuron", "none"])
def test_init_writes_a_valid_config(tmp_path, shape, activation, loss, bias):
    path = tmp_path / "mine.yaml"
    run(
        "init",
        shape,
        "--activation",
        activation,
        "--loss",
        loss,
        "--bias",
        bias,
        "--seed",
        "7",
        "-o",
        str(path),
        code=0,
    )
    cfg = config.load(path)
    assert "-".join(map(str, cfg.shape)) == shape
    # for one output, the cross-entropy is the binary one (softmax needs two outputs)
    one_output = shape.split("-")[-1] == "1"
    assert cfg.loss == ("binary_cross_entropy" if loss == "cross_entropy" and one_output else loss)
    assert all(layer.bias is None for layer in cfg.layers) == (bias == "none")
    run("explain", str(path), "--format", "json", code=0)


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


def test_init_writes_the_textbooks_conventions():
    """--delta error --bias-input -1 --notation nielsen: the keys, commented, and
    the comments' names in the notation; the config loads with them."""
    text = run("init", "3-2-1", "--delta", "error", "--bias-input", "-1", "--notation", "nielsen").stdout
    cfg = config.parse(text)
    assert (cfg.delta, cfg.bias_input, cfg.notation) == ("error", -1, "nielsen")
    assert "a^2_1 <- x1, x2, x3: w^2_11, w^2_12, w^2_13" in text and "# C = the sum over outputs" in text
    assert not re.search(r"\b(w\d|h\d|i\d|E_total)\b", text)
    assert "E_total" in run("init", "3-2-1", "--delta", "error").stdout  # the post's names by default
    refused = run("init", "--from", "xor", "--notation", "nielsen", code=2).output
    assert "not --from EXAMPLE" in refused


def test_init_is_seeded():
    assert run("init", "2-2-2", "--seed", "3").stdout == run("init", "2-2-2", "--seed", "3").stdout
    assert run("init", "2-2-2", "--seed", "3").stdout != run("init", "2-2-2", "--seed", "4").stdout


def test_init_from_a_bundled_example(tmp_path):
    path = tmp_path / "xor.yaml"
    run("init", "--from", "xor", "-o", str(path), code=0)
    assert path.read_text() == config.bundled_text("xor")
    bad = run("init", "--from", "xorr")
    assert bad.exit_code == 1 and "did you mean 'xor'" in bad.stderr


def test_init_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("mine")
    result = run("init", "2-2-2", "-o", str(path))
    assert result.exit_code == 1 and "--force" in result.stderr and path.read_text() == "mine"
    run("init", "2-2-2", "-o", str(path), "--force", code=0)
    assert path.read_text() != "mine"


@pytest.mark.parametrize("shape", ["2", "2-", "a-b", "2-0-1", "2-999-1", ""])
def test_init_bad_shapes(shape):
    result = run("init", shape)
    assert result.exit_code in (1, 2) and "Error" in result.stderr


def test_examples_lists_every_bundled_config():
    out = run("examples").stdout
    for name in config.bundled_names():
        assert re.search(rf"^{re.escape(name)}\s+(\d+(-\d+)+|expression)\s+\S", out, re.M), name
    assert re.search(r"^staged\s+expression\s+f = \(x \+ y\) \* z", out, re.M)


def help_examples(command: str | None) -> list[list[str]]:
    """The command lines at the end of a command's --help (of stepprop's own for None)."""
    text = run(*([] if command is None else [command]), "--help", code=0).stdout
    tail = text.split("Examples:")[1]
    lines = [line.strip() for line in tail.splitlines() if line.strip().startswith("stepprop ")]
    # a comment follows the command after two spaces or more
    return [re.split(r"\s{2,}", line)[0].split()[1:] for line in lines]


def quick(args: list[str]) -> list[str] | None:
    """An example as the quick suite runs it: trained for 10 epochs, not 10,000
    (test_help_examples_run_as_written runs them as written); None to leave
    'check mazur-post-10000' to test_check.py, which grades it through the CLI."""
    if args[0] == "check" and "mazur-post-10000" in args:
        return None
    if args[0] != "train":
        return args
    if "--epochs" in args:
        k = args.index("--epochs") + 1
        return args[:k] + ["10"] + args[k + 1 :]
    return args + ["--epochs", "10"]


def run_example(args: list[str], folder: Path, monkeypatch) -> None:
    """Run an example in a fresh folder holding what it names: the repository's
    configs/, a user's mine.yaml (unless it writes one), answers.yaml and a
    class's class.csv."""
    folder.mkdir()
    (folder / "configs").mkdir()
    for path in CONFIGS:
        (folder / "configs" / path.name).write_text(path.read_text())
    writes = [args[k + 1] for k, arg in enumerate(args[:-1]) if arg in ("-o", "--save")]
    if "mine.yaml" not in writes:
        (folder / "mine.yaml").write_text(config.bundled_text("mazur"))
    (folder / "answers.yaml").write_text("out_h1: 0.593269992\n")
    (folder / "class.csv").write_text("student,out_h1\nada,0.593269992\nbob,0.5933\n")
    monkeypatch.chdir(folder)
    # the post's figures hold a wrong one (test_check.py): check says so with exit 1
    result = run(*args, code=1 if args[0] == "check" and args[1].startswith("mazur-post-") else 0)
    assert result.stdout or writes, args
    for name in writes:  # (quiz writes a folder)
        assert (folder / name).is_file() or (args[0] == "quiz" and (folder / name).is_dir()), (args, name)


@pytest.mark.parametrize("command", [None, *sorted(main.commands)])
def test_help_ends_with_real_examples_that_run(command, tmp_path, monkeypatch):
    examples = help_examples(command)
    assert 2 <= len(examples) <= 5, examples
    for k, args in enumerate(examples):
        if quick(args) is not None:
            run_example(quick(args), tmp_path / str(k), monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("command", [None, *sorted(main.commands)])
def test_help_examples_run_as_written(command, tmp_path, monkeypatch):
    for k, args in enumerate(help_examples(command)):
        if quick(args) != args:
            run_example(args, tmp_path / str(k), monkeypatch)


def test_shell_completion_script():
    env = {**os.environ, "_STEPPROP_COMPLETE": "bash_source"}
    proc = subprocess.run([sys.executable, "-m", "stepprop"], env=env, capture_output=True, text=True, timeout=60)
    assert "complete" in proc.stdout and "_STEPPROP_COMPLETE" in proc.stdout


def test_data_on_stdout_diagnostics_on_stderr_no_escapes_when_piped(tmp_path):
    path = tmp_path / "out.md"
    result = run("explain", "--format", "markdown", "-o", str(path), code=0)
    assert result.stdout == "" and f"wrote {path}" in result.stderr
    # CliRunner's stdout is not a terminal: plain text, whatever the environment
    assert "\x1b[" not in run("explain", code=0).stdout


def on_a_terminal(*args: str, **env: str) -> bytes:
    """What ``python -m stepprop ARGS`` writes to a terminal (a pseudo-terminal)."""
    import pty

    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE")}
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stepprop", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**base, "TERM": "xterm-256color", "COLUMNS": "100", **env},
    )
    os.close(follower)
    out = b""
    try:
        while chunk := os.read(leader, 65536):
            out += chunk
    except OSError:  # EIO: the child closed the terminal
        pass
    finally:
        os.close(leader)
    assert proc.wait(timeout=60) == 0, out
    return out


def colours(out: bytes) -> set[int]:
    """The colour codes (SGR 30-38, 40-48, 90-97, 100-107) among the escapes."""
    found = set()
    for params in re.findall(rb"\x1b\[([0-9;]*)m", out):
        codes = [int(p) for p in params.split(b";") if p]
        found |= {c for c in codes if 30 <= c <= 38 or 40 <= c <= 48 or 90 <= c <= 97 or 100 <= c <= 107}
    return found


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_no_color_on_a_terminal():
    # on a terminal explain is in colour (else this test could not fail) ...
    assert colours(on_a_terminal("explain", "--only", "w5"))
    # ... and NO_COLOR (https://no-color.org) takes the colour away, not the bold
    assert colours(on_a_terminal("explain", "--only", "w5", NO_COLOR="1")) == set()

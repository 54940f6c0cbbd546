"""The command line, driven for real through click's CliRunner.

Numbers are checked against Matt Mazur's "A Step by Step Backpropagation
Example" (the bundled default network), and the error paths are checked for
their exit status, their one-line 'Error:' message and the absence of any
traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import BUNDLED, REPO, run

import stepprop
from stepprop import config as cfg
from stepprop.cli import main

EXAMPLES = [name for name in BUNDLED if name != "mazur"]


def sections(text: str) -> list[str]:
    """The parameter names of the derivation sections ('w5: the weight ...')."""
    return re.findall(r"^([wb]\d+): the ", text, flags=re.M)


# ------------------------------------------------------------ explain text --


@pytest.fixture(scope="module")
def default_explain():
    return run("explain", code=0)


def test_explain_without_config_uses_the_posts_network(default_explain):
    result = default_explain
    assert result.stderr == ""
    out = result.stdout
    assert "net_h1 = w1 * i1 + w2 * i2 + b1 * 1" in out
    assert "w5+ = w5 - eta * dE_total/dw5 = 0.4 - 0.5 * 0.0821670406 = 0.35891648" in out
    assert "out_h1 = 1/(1 + e^-net_h1) = 1/(1 + e^-0.3775) = 0.593269992" in out
    assert "E_total = E_o1 + E_o2 = 0.274811083 + 0.0235600256 = 0.298371109" in out
    # every parameter of the post gets its section, in the post's order
    assert sections(out) == ["w5", "w6", "w7", "w8", "b2", "w1", "w2", "w3", "w4", "b1"]


def test_digits_changes_the_printed_numbers(default_explain):
    out = run("explain", "--digits", "4", code=0).stdout
    assert "= 1/(1 + e^-0.3775) = 0.5933\n" in out
    assert "0.593269992" not in out
    assert "0.593269992" in default_explain.stdout
    assert out != default_explain.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--only", "w5", "b2"],  # space separated, greedy
        ["--only", "b2", "w5"],  # the post's order, not the command line's
        ["--only", "w5,b2"],
        ["--only", "w5", "--only", "b2"],
        ["--only", "w5,", "b2"],
    ],
    ids=["spaces", "spaces-reversed", "comma", "repeated", "comma-then-space"],
)
def test_only_shows_exactly_the_named_sections(args):
    out = run("explain", *args, code=0).stdout
    assert sections(out) == ["w5", "b2"]
    assert "w5: the weight h1 -> o1" in out
    assert "b2: the bias of o1, o2" in out
    assert "w1: the weight" not in out
    assert "w1+ =" not in out


def test_only_greedy_names_stop_at_the_config_argument():
    out = run("explain", "--only", "w5", "b2", "xor", code=0).stdout
    assert "network 2-2-1 from the bundled xor.yaml" in out
    assert sections(out) == ["w5", "b2"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_only_unknown_name_fails_cleanly(fmt):
    result = run("explain", "--format", fmt, "--only", "w99", code=1)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: ")
    assert "no parameter 'w99'" in result.stderr
    # names the parameters that do exist, so the user can pick one
    assert "w1, w2, w3, w4, w5, w6, w7, w8, b1, b2" in result.stderr


def test_only_near_miss_suggests_the_close_name():
    result = run("explain", "--only", "w55", code=1)
    assert "(did you mean 'w5'?)" in result.stderr


def test_only_one_bad_name_among_good_ones_fails():
    result = run("explain", "--only", "w5,w99", code=1)
    assert "'w99'" in result.stderr


# ------------------------------------------------------------ explain json --


@pytest.fixture(scope="module")
def step_json():
    result = run("explain", "--format", "json", code=0)
    assert result.stderr == ""
    return json.loads(result.stdout)


def test_json_has_the_documented_keys(step_json):
    for key in ("values", "terms", "gradients", "updated", "error", "error_after", "layer_gradients", "layers"):
        assert key in step_json, key


def test_json_numbers_match_the_post(step_json):
    d = step_json
    assert d["values"]["out_h1"] == pytest.approx(0.593269992, abs=1e-9)
    assert d["values"]["out_o1"] == pytest.approx(0.75136507, abs=1e-8)
    assert d["values"]["E_total"] == pytest.approx(0.298371109, abs=1e-9)
    assert d["terms"]["dE_o2/dout_h1"] == pytest.approx(-0.0190491182, abs=1e-10)
    assert d["terms"]["delta_o1"] == pytest.approx(0.138498562, abs=1e-9)
    assert d["updated"]["w5"] == pytest.approx(0.35891648, abs=1e-8)
    assert d["updated"]["w1"] == pytest.approx(0.149780716, abs=1e-9)
    assert d["error"] == pytest.approx(0.298371109, abs=1e-9)


def test_json_error_after_is_exact_not_the_posts_rounded_figure(step_json):
    # the post prints 0.291027924 (it rounds along the way); the exact value differs
    assert step_json["error_after"] == pytest.approx(0.291027774, abs=1e-9)
    assert abs(step_json["error_after"] - 0.291027924) > 1e-7


def test_json_has_bias_gradients_but_fixed_biases(step_json):
    d = step_json
    assert set(d["gradients"]) == {"w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2"}
    assert d["gradients"]["b2"] == pytest.approx(0.100400325, abs=1e-9)
    assert d["updated"]["b1"] == 0.35
    assert d["updated"]["b2"] == 0.6
    assert d["network"]["update_biases"] is False


def test_json_has_the_input_gradients_and_the_changes(step_json):
    d = step_json
    # dE_total/di1 = delta_h1 * w1 + delta_h2 * w3, with the deltas the JSON gives
    delta = d["terms"]
    by_hand = {
        "i1": delta["delta_h1"] * 0.15 + delta["delta_h2"] * 0.25,
        "i2": delta["delta_h1"] * 0.2 + delta["delta_h2"] * 0.3,
    }
    assert d["input_gradients"] == pytest.approx(by_hand, rel=1e-12)
    assert d["input_gradients"]["i1"] == pytest.approx(0.00380426688, abs=1e-11)
    assert d["terms"]["dE_total/di1"] == d["input_gradients"]["i1"]
    # the change of each parameter: -eta * dE/dw, 0 for the fixed biases
    assert d["changes"]["w5"] == pytest.approx(-0.5 * 0.0821670406, abs=1e-10)
    assert d["changes"]["b1"] == d["changes"]["b2"] == 0.0
    for p in ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"):
        assert d["changes"][p] == -(d["network"]["eta"] * d["gradients"][p])


def test_a_batch_names_each_samples_input_gradients(tmp_path):
    config = tmp_path / "batch.yaml"
    config.write_text(
        "layers:\n  - {weights: [[0.1, 0.2]], bias: 0.1, activation: sigmoid}\n"
        "samples:\n  - {inputs: [1, 2], targets: [0]}\n  - {inputs: [3, -1], targets: [1]}\neta: 0.5\n"
    )
    d = json.loads(run("explain", str(config), "--format", "json").stdout)
    assert set(d["input_gradients"]) == {"i1[1]", "i2[1]", "i1[2]", "i2[2]"}
    # the batch error is the mean: each sample's share of its own dE_total/di
    for k in (1, 2):
        assert d["input_gradients"][f"i1[{k}]"] == pytest.approx(d["terms"][f"dE_total/di1[{k}]"] / 2, rel=1e-15)
    names = run("explain", str(config), "--names").stdout.split()
    assert "dE_total/di2[2]" in names and "change_w1" in names


def test_json_layers_have_the_config_shape(step_json):
    d = step_json
    u, g = d["updated"], d["gradients"]
    assert d["layers"] == [
        {"weights": [[u["w1"], u["w2"]], [u["w3"], u["w4"]]], "bias": 0.35},
        {"weights": [[u["w5"], u["w6"]], [u["w7"], u["w8"]]], "bias": 0.6},
    ]
    assert d["layer_gradients"] == [
        {"weights": [[g["w1"], g["w2"]], [g["w3"], g["w4"]]], "bias": g["b1"]},
        {"weights": [[g["w5"], g["w6"]], [g["w7"], g["w8"]]], "bias": g["b2"]},
    ]
    # a shared bias is a single number, as in the config
    assert isinstance(d["layers"][0]["bias"], float)


def test_json_only_still_prints_the_whole_step(step_json):
    assert json.loads(run("explain", "--format", "json", "--only", "w5", code=0).stdout) == step_json


# ------------------------------------------------------- bundled examples --


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_bundled_example_by_name(name, fmt):
    result = run("explain", name, "--format", fmt, code=0)
    assert result.stderr == ""
    if fmt == "json":
        assert json.loads(result.stdout)["network"]["source"] == f"the bundled {name}.yaml"
    else:
        assert f"from the bundled {name}.yaml" in result.stdout


@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("name", BUNDLED)
def test_example_by_relative_file_path(name, fmt, monkeypatch):
    monkeypatch.chdir(REPO)
    path = f"configs/{name}.yaml"
    result = run("explain", path, "--format", fmt, code=0)
    if fmt == "json":
        assert json.loads(result.stdout)["network"]["source"] == path
    else:
        assert f"from {path}" in result.stdout


def test_file_path_and_bundled_name_give_the_same_numbers():
    by_name = json.loads(run("explain", "xor", "--format", "json", code=0).stdout)
    by_path = json.loads(
        run("explain", str(REPO / "stepprop" / "configs" / "xor.yaml"), "--format", "json", code=0).stdout
    )
    for key in ("values", "terms", "gradients", "updated", "error", "error_after", "layers"):
        assert by_name[key] == by_path[key], key


def test_multi_sample_json_names_carry_sample_suffixes():
    d = json.loads(run("explain", "xor", "--format", "json", code=0).stdout)
    for k in range(1, 5):
        assert f"out_o1[{k}]" in d["values"]
        assert f"dE_total/dw1[{k}]" in d["terms"]
    assert "out_o1" not in d["values"]
    # the batch's gradient is dE/dw (the mean over the four samples), not dE_total/dw
    assert "dE_total/dw1" not in d["terms"]
    for p, grad in d["gradients"].items():
        assert d["terms"][f"dE/d{p}"] == grad
    mean = sum(d["terms"][f"dE_total/dw1[{k}]"] for k in range(1, 5)) / 4
    assert d["terms"]["dE/dw1"] == pytest.approx(mean, rel=1e-12)
    # a bias per neuron comes out as a list
    assert isinstance(d["layers"][0]["bias"], list) and len(d["layers"][0]["bias"]) == 2


def test_softmax_batches():
    first = json.loads(run("explain", "softmax", "--format", "json", code=0).stdout)
    assert "out_o1[2]" in first["values"] and "out_o1[3]" not in first["values"]
    assert [s["sample"] for s in first["samples"]] == [1, 2]
    # the second batch holds sample 3 alone: no suffixes
    second = json.loads(run("explain", "softmax", "--format", "json", "--batch", "2", code=0).stdout)
    assert [s["sample"] for s in second["samples"]] == [3]
    assert "out_o1" in second["values"]


# ------------------------------------------------------------------ train --


@pytest.fixture(scope="module")
def train_json():
    """A short run through the CLI (the post's 10,000 epochs are test_post's)."""
    return json.loads(run("train", "--epochs", "300", "--every", "100", "--format", "json", code=0).stdout)


def test_train_json_is_the_librarys(train_json):
    library = stepprop.load().train(300, every=100).to_dict()
    assert train_json == json.loads(json.dumps(library))
    assert train_json["epochs"] == 300
    assert train_json["interrupted"] is False


def test_train_every_adds_a_history(train_json):
    history = train_json["history"]
    assert [epoch for epoch, _ in history] == [100, 200, 300]
    errors = [error for _, error in history]
    assert errors == sorted(errors, reverse=True)  # the error keeps falling here
    assert errors[-1] == train_json["error"]


def test_train_without_every_has_no_history():
    d = json.loads(run("train", "--epochs", "5", "--format", "json", code=0).stdout)
    assert "history" not in d
    assert d["epochs"] == 5


def test_train_text_has_its_sections():
    result = run("train", "--epochs", "100", "--every", "50", code=0)
    out = result.stdout
    for title in ("Training", "The error every 50 epochs", "The error", "The outputs", "The trained parameters"):
        assert re.search(rf"^{re.escape(title)}\n[-=]+$", out, flags=re.M), title
    assert "100 epochs of 1 update each" in out
    assert result.stderr == ""


@pytest.mark.parametrize("name", EXAMPLES)
def test_train_bundled_examples(name):
    d = json.loads(run("train", name, "--epochs", "20", "--format", "json", code=0).stdout)
    assert d["epochs"] == 20
    assert len(d["outputs"]) == len(d["targets"]) == d["network"]["samples"]


# -------------------------------------------------------------- train --save --


def test_train_save_round_trip_and_overwrite_rules(workdir):
    first = run("train", "--epochs", "100", "--format", "json", "--save", "out.yaml", code=0)
    assert "saved the trained network to out.yaml" in first.stderr
    layers = json.loads(first.stdout)["layers"]
    saved = Path("out.yaml").read_bytes()

    # explain and train accept the saved config
    step = json.loads(run("explain", "out.yaml", "--format", "json", code=0).stdout)
    assert step["network"]["source"] == "out.yaml"
    run("train", "out.yaml", "--epochs", "3", code=0)

    # its weights are exactly the trained ones
    loaded = cfg.load("out.yaml").to_dict()
    assert loaded["layers"] == layers
    assert loaded["eta"] == 0.5 and loaded["update_biases"] is False

    # an existing file is not replaced without --force
    refused = run("train", "--epochs", "5", "--save", "out.yaml", code=None)
    assert refused.exit_code != 0
    assert refused.stderr.startswith("Error: ")
    assert "out.yaml exists" in refused.stderr
    assert Path("out.yaml").read_bytes() == saved

    # with --force it is
    forced = run("train", "--epochs", "5", "--format", "json", "--save", "out.yaml", "--force", code=0)
    assert Path("out.yaml").read_bytes() != saved
    assert cfg.load("out.yaml").to_dict()["layers"] == json.loads(forced.stdout)["layers"]

    assert sorted(os.listdir(workdir)) == ["out.yaml"]  # no temporary files left


def test_train_save_then_continue_equals_one_long_run(workdir, code=0):
    # numbers are written exactly: 50 + 50 epochs == 100 epochs, to the bit
    run("train", "xor", "--epochs", "50", "--save", "half.yaml", code=0)
    resumed = json.loads(run("train", "half.yaml", "--epochs", "50", "--format", "json", code=0).stdout)
    whole = json.loads(run("train", "xor", "--epochs", "100", "--format", "json", code=0).stdout)
    assert resumed["parameters"] == whole["parameters"]
    assert resumed["error"] == whole["error"]
    assert cfg.load("half.yaml").samples == cfg.load(str(REPO / "configs" / "xor.yaml")).samples


def test_train_save_into_a_missing_folder_fails_cleanly(workdir):
    result = run("train", "--epochs", "2", "--save", "nowhere/out.yaml", code=1)
    assert result.stderr.startswith("Error: ")
    assert "does not exist" in result.stderr
    assert os.listdir(".") == []


# --------------------------------------------------------- error handling --


@pytest.mark.parametrize("command", ["explain", "train", "diagram"])
def test_missing_file(command, workdir):
    result = run(command, "nope.yaml", code=1)
    assert result.stderr == "Error: nope.yaml: no such file\n"
    assert result.stdout == ""


def test_directory_instead_of_a_file(workdir):
    os.mkdir("conf")
    result = run("explain", "conf", code=1)
    assert result.stderr.startswith("Error: conf: is a directory")


def test_invalid_yaml_names_file_line_column(workdir):
    # line 2 "eta: 0.5: 1": the second ':' is the 9th character
    Path("bad.yaml").write_text("inputs: [0.05, 0.10]\neta: 0.5: 1\n")
    result = run("explain", "bad.yaml", code=1)
    assert result.stderr.startswith("Error: bad.yaml:2:9: not valid YAML")
    assert result.stderr.count("\n") == 1
    result = run("train", "bad.yaml", code=1)
    assert result.stderr.startswith("Error: bad.yaml:2:9: ")


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--epochs", "0"],
        ["train", "--epochs", "many"],
        ["train", "--every", "0"],
        ["explain", "--digits", "0"],
        ["explain", "--digits", "18"],
        ["explain", "--format", "yaml"],
        ["explain", "--batch", "0"],
        ["explain", "--bogus"],
        ["explain", "--only"],
        ["train", "--format", "html"],
        ["diagram", "--after", "--gradients"],
        ["frobnicate"],
    ],
    ids=lambda a: " ".join(a),
)
def test_usage_errors_exit_2(args):
    result = run(*args, code=2)
    assert "Error:" in result.stderr
    assert result.stdout == ""


# ---------------------------------------------------------- version, help --


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag):
    result = run(flag, code=0)
    assert result.stdout == f"stepprop, version {stepprop.__version__}\n"


@pytest.mark.parametrize("command", [None] + sorted(main.commands))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_for_every_command(command, flag):
    args = [flag] if command is None else [command, flag]
    result = run(*args, code=0)
    assert result.stdout.startswith("Usage: ")
    assert result.stderr == ""


def test_the_group_lists_its_commands():
    out = run("--help", code=0).stdout
    for name in ("explain", "train", "diagram", "check"):
        assert re.search(rf"^\s+{name}\s", out, flags=re.M), name


def test_python_dash_m():
    proc = subprocess.run([sys.executable, "-m", "stepprop", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage: stepprop ")
    assert "explain" in proc.stdout


# ----------------------------------------- what a newcomer types, as typed --

COMMANDS = ["explain", "diagram", "train", "check", "verify", "init", "examples"]


def help_examples(command: str) -> list[list[str]]:
    """The example command lines at the end of a command's help."""
    text = run(command, "--help", code=0).stdout
    found = []
    for line in text.split("Examples:")[1].splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("stepprop "):
            found.append(line.split()[1:])
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_help_examples_work_from_any_folder(command, workdir):
    """Every example that names no file of the user's own runs in an empty folder."""
    own = ("mine.yaml", "answers.yaml", "class.csv", "trained.yaml", "grades.csv")
    examples = help_examples(command)
    assert examples, command
    for args in examples:
        if any(word in own for word in args):
            continue
        if "--epochs" in args:  # the same, shorter
            args[args.index("--epochs") + 1] = "50"
        result = run(*args)
        assert result.exit_code in (0, 1), (args, result.output)
        assert "no such file" not in result.output, args


@pytest.mark.parametrize("written", ["1e3", "1E3", "1_000", "1000", "1.0e3"])
def test_epochs_as_people_write_them(written):
    data = json.loads(run("train", "--epochs", written, "--format", "json", code=0).stdout)
    assert data["epochs"] == 1000


@pytest.mark.parametrize("written", ["1.5", "1e-3", "2.5e0", "1e30"])
def test_epochs_that_are_not_a_whole_number_in_range(written):
    assert "--epochs" in run("train", "--epochs", written, code=2).stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["explain", "-o", "step.pdf"], ["does not write PDF", "-o step.tex"]),
        (["explain", "-o", "step.docx"], ["does not write .docx files", "--format"]),
        (["diagram", "-o", "net.png"], ["does not write PNG images", "net.svg"]),
        (["check", "mazur-post-step", "-o", "grades.xlsx"], ["does not write .xlsx files"]),
    ],
)
def test_an_output_name_the_command_cannot_write(args, words, workdir):
    result = run(*args, code=2)
    for word in words:
        assert word in result.stderr, (word, result.stderr)
    assert list(workdir.iterdir()) == []


def test_an_output_name_with_format_given_is_written_as_asked(workdir):
    run("explain", "-o", "step.docx", "--format", "markdown", code=0)
    assert (workdir / "step.docx").read_text().startswith("# One step")
    run("explain", "-o", "notes", code=0)  # no extension: the default format
    assert (workdir / "notes").read_text().startswith("One step")


def complete(words: str) -> list[str]:
    """What bash completion offers after ``words`` (click's protocol)."""
    env = {"COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}
    result = CliRunner().invoke(main, [], env={**env, "_STEPPROP_COMPLETE": "bash_complete"}, prog_name="stepprop")
    return result.stdout.split()


def test_completion_offers_bundled_names_and_files(workdir):
    (workdir / "xmas.yaml").write_text("")
    assert complete("stepprop explain x") == ["plain,xor", "plain,xmas.yaml"]
    assert complete("stepprop check mazur-post-s") == ["plain,mazur-post-step"]
    # no bundled name matches: the shell completes file names itself
    assert complete("stepprop train zz") == ["file,zz"]


@pytest.mark.parametrize(
    "option, written, meant",
    [("--activation", "logistic", "sigmoid"), ("--loss", "mse", "mean_squared_error"), ("--loss", "BCE", None)],
)
def test_init_suggests_the_name_for_a_common_other_name(option, written, meant, workdir):
    from stepprop.ops import ALIASES

    meant = meant or ALIASES[written.lower()]
    result = run("init", "2-2-1", option, written, code=2)
    assert f"did you mean '{meant}'?" in result.stderr
    assert list(workdir.iterdir()) == []


@pytest.mark.parametrize("fmt", ["text", "html", "markdown", "latex"])
def test_streamed_output_is_the_librarys_render(fmt, workdir):
    """The command line writes a long worked example in pieces as they come;
    to stdout and to -o they are exactly the library's whole render."""
    whole = stepprop.load("softmax").step().render(fmt)
    assert run("explain", "softmax", "--format", fmt, code=0).stdout == whole
    run("explain", "softmax", "--format", fmt, "-o", "out.txt", code=0)
    assert (workdir / "out.txt").read_text(encoding="utf-8") == whole

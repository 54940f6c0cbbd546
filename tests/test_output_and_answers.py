"""Output files, answers files and messages: the cases a newcomer's review found."""

import json
import subprocess
import sys

import pytest
from conftest import run

from stepprop import config
from stepprop.errors import ConfigError


@pytest.mark.parametrize(
    "suffix,start",
    [
        (".html", "<!DOCTYPE html>"),
        (".md", "# One step"),
        (".tex", "\\documentclass"),
        (".json", "{"),
        (".txt", "One step"),
    ],
)
def test_the_extension_of_o_picks_the_format(tmp_path, suffix, start):
    path = tmp_path / f"step{suffix}"
    assert run("explain", "-o", str(path)).exit_code == 0
    assert path.read_text().startswith(start)


def test_an_explicit_format_wins_over_the_extension(tmp_path):
    path = tmp_path / "step.html"
    assert run("explain", "--format", "markdown", "-o", str(path)).exit_code == 0
    assert path.read_text().startswith("# One step")


def test_dash_is_standard_output(workdir):
    result = run("explain", "-o", "-", code=0)
    assert result.stdout.startswith("One step")
    assert list(workdir.iterdir()) == []  # no file named '-' in the current folder


def test_the_diagram_refuses_a_non_svg_file(tmp_path):
    result = run("diagram", "-o", str(tmp_path / "net.png"))
    assert result.exit_code == 2 and ".svg" in result.stderr
    assert not (tmp_path / "net.png").exists()


def test_a_full_disk_is_an_error_not_a_bug():
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "stepprop", "explain"],
            stdout=full,
            capture_output=False,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert proc.returncode == 1
    assert "cannot write the output" in proc.stderr and "Traceback" not in proc.stderr


def test_batch_out_of_range_is_a_usage_error_everywhere():
    for command in ("explain", "verify"):
        result = run(command, "--batch", "9")
        assert result.exit_code == 2 and "this config has 1 batch" in result.stderr


def test_cross_entropy_needs_softmax():
    text = config.bundled_text("mazur").replace("update_biases: false", "update_biases: false\nloss: cross_entropy")
    with pytest.raises(ConfigError) as info:
        config.parse(text)
    assert "needs a softmax output layer" in info.value.message and "binary_cross_entropy" in info.value.message


def write(tmp_path, text):
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    return str(path)


def test_the_error_after_is_accepted_by_the_name_explain_shows(tmp_path):
    result = run("check", write(tmp_path, "E_total+: 0.291027774\n"), "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["answers"][0]["status"] == "correct"


def test_a_config_given_as_answers_is_explained(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(config.bundled_text("xor"))
    result = run("check", str(path))
    assert result.exit_code == 1 and "this is a config, not an answers file" in result.stderr
    result = run("check", "mazur")
    assert result.exit_code == 2 and "bundled config, not an answers file" in result.stderr


def test_epochs_in_the_answers_file(tmp_path):
    # the error of epoch 2 is E_total after the post's first step: 0.291027774
    # (test_post.py); without the epochs it would be the first one, 0.298371109
    path = write(tmp_path, "epochs: 2\nerror: 0.291027774\n")
    data = json.loads(run("check", path, "--format", "json", code=0).stdout)
    assert data["epochs"] == 2 and data["answers"][0]["status"] == "correct"
    path = write(tmp_path, "error: 0.291027774\n")
    assert json.loads(run("check", path, "--format", "json", code=1).stdout)["answers"][0]["status"] == "wrong"


def test_truncated_answers_are_told_so(tmp_path):
    # the exact dE_total/dw1 is 0.000438567734...: cut off at 6 decimals it reads 0.000438
    data = json.loads(run("check", write(tmp_path, "dE_total/dw1: 0.000438\n"), "--format", "json").stdout)
    answer = data["answers"][0]
    assert answer["status"] == "wrong" and "cut off" in answer["note"] and answer["mistake"] is None


def test_too_few_digits_are_ambiguous(tmp_path):
    # 0.4 is w5 before the update too (forgetting to update): one digit can't tell
    data = json.loads(run("check", write(tmp_path, "w5+: 0.4\n"), "--format", "json").stdout)
    answer = data["answers"][0]
    assert answer["status"] == "ambiguous" and "before_update" in answer["also_from"]
    assert "write more digits" in answer["note"]
    assert run("check", write(tmp_path, "w5+: 0.4\n")).exit_code == 0  # not wrong


def test_verify_allows_for_the_noise_of_finite_differences(tmp_path):
    path = tmp_path / "big-error.yaml"
    path.write_text(
        "inputs: [0.001, 100]\ntargets: [1000]\neta: 0.1\nactivation: linear\nlayers:\n  - weights: [[0.5, 0.5]]\n"
    )
    result = run("verify", str(path), "--no-torch")
    assert result.exit_code == 0 and "rounding noise" in result.stdout

"""A corpus of bad configs: each must be refused with the right file:line:column.

Every case is loaded twice, through ``stepprop.config.load`` (a ConfigError
carrying the position) and through the command line (exit status 1, a
one-line ``Error: path:line:column: ...`` on stderr, never a traceback).

The positions are 1-based and were counted by hand from the YAML below; the
comment on each case shows the count.  Most cases edit one numbered line of
the post's network (BASE) or of a small XOR-like network (SAMPLES), so the
line number is the one in the edit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run

from stepprop import config
from stepprop.errors import ConfigError

BASE = [
    "inputs: [0.05, 0.10]",  # 1
    "targets: [0.01, 0.99]",  # 2
    "eta: 0.5",  # 3
    "update_biases: false",  # 4
    "layers:",  # 5
    "  - weights: [[0.15, 0.20], [0.25, 0.30]]",  # 6
    "    bias: 0.35",  # 7
    "  - weights: [[0.40, 0.45], [0.50, 0.55]]",  # 8
    "    bias: 0.60",  # 9
]
# columns of line 6 (and 8): '-' 3, 'weights' 5, outer '[' 14, row 1 '[' 15,
# row 1 second number 22, row 2 '[' 29

SAMPLES = [
    "samples:",  # 1
    "  - {inputs: [0, 0], targets: [0]}",  # 2
    "  - {inputs: [0, 1], targets: [1]}",  # 3
    "eta: 2.0",  # 4
    "layers:",  # 5
    "  - weights: [[0.5, -0.4], [-0.3, 0.6]]",  # 6
    "    bias: [0.1, -0.2]",  # 7
    "  - weights: [[0.7, -0.5]]",  # 8
    "    bias: [0.2]",  # 9
]
# columns of line 2 (and 3): '{' 5, 'inputs' 6, its '[' 14, 'targets' 22, its '[' 31


def edit(base: list[str], changes: dict[int, str], sep: str = "\n") -> str:
    """``base`` with some 1-based lines replaced (a comment keeps the numbering)."""
    lines = list(base)
    for number, text in changes.items():
        lines[number - 1] = text
    return sep.join(lines) + sep


def base() -> str:
    return edit(BASE, {})


# the billion laughs: 9^8 'lol's if the aliases were expanded
LAUGHS = (
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
    + ["eta: *i"]
)

DEPTH = 10_000

# what the os.system payloads would create in the current folder (the tests run in
# conftest's workdir, a fresh empty one)
PWNED = "stepprop-pwned"


def case(id, text, line, column, *fragments, marks=()):
    return pytest.param(text, line, column, fragments, id=id, marks=marks)


CASES = [
    # -- not YAML at all
    # "eta: 0.5: 1": the second ':' is character 9
    case(
        "yaml-mapping-in-value",
        edit(BASE, {3: "eta: 0.5: 1"}),
        3,
        9,
        "not valid YAML",
        "mapping values are not allowed",
    ),
    # the unclosed '[' of line 1 is noticed at the ':' of "targets:" (line 2, character 8)
    case(
        "yaml-unclosed-bracket", edit(BASE, {1: "inputs: [0.05, 0.10"}), 2, 8, "not valid YAML", "expected ',' or ']'"
    ),
    # a tab cannot indent YAML: line 7, character 1
    case("yaml-tab-indent", edit(BASE, {7: "\tbias: 0.35"}), 7, 1, "not valid YAML", "'\\t'"),
    # -- not a mapping
    case("empty-file", "", None, None, "the file is empty"),
    case("only-comments", "# nothing here\n\n# still nothing\n", None, None, "the file is empty"),
    case(
        "top-level-list",
        "- inputs: [0.05, 0.10]\n- eta: 0.5\n",
        1,
        1,
        "expected the config (a mapping of keys to values), found a list",
    ),
    # the scalar starts line 2 (line 1 is a comment)
    case(
        "top-level-scalar",
        "# my network\njust some words\n",
        2,
        1,
        "expected the config",
        "found the text 'just some words'",
    ),
    # -- keys
    case("duplicate-key", edit(BASE, {4: "eta: 0.25"}), 4, 1, "duplicate key 'eta' (first given at line 3)"),
    # line 7 "    weights: ..." : the key is at character 5
    case(
        "duplicate-layer-key",
        edit(BASE, {7: "    weights: [[1, 2], [3, 4]]"}),
        7,
        5,
        "duplicate key 'weights' (first given at line 6)",
    ),
    case(
        "unknown-top-key",
        edit(BASE, {3: "etta: 0.5"}),
        3,
        1,
        "unknown key 'etta' in the config",
        "(did you mean 'eta'?)",
    ),
    # line 8 "  - weight: ...": the key is at character 5
    case(
        "unknown-layer-key",
        edit(BASE, {8: "  - weight: [[0.40, 0.45], [0.50, 0.55]]"}),
        8,
        5,
        "unknown key 'weight' in layer 2",
        "(did you mean 'weights'?)",
    ),
    # line 2 "  - {input: ...": '{' 5, the key 6
    case(
        "unknown-sample-key",
        edit(SAMPLES, {2: "  - {input: [0, 0], targets: [0]}"}),
        2,
        6,
        "unknown key 'input' in sample 1",
        "(did you mean 'inputs'?)",
    ),
    # a missing key is reported at the start of the config's mapping
    case("missing-layers", edit(BASE, {5: "#", 6: "#", 7: "#", 8: "#", 9: "#"}), 1, 1, "missing required key 'layers'"),
    case("missing-eta", edit(BASE, {3: "# eta: forgotten"}), 1, 1, "missing required key 'eta'"),
    # line 1 is a comment now, so the mapping starts at line 2
    case("missing-inputs", edit(BASE, {1: "# inputs: forgotten"}), 2, 1, "missing required key 'inputs'"),
    case("missing-targets", edit(BASE, {2: "# targets: forgotten"}), 1, 1, "missing required key 'targets'"),
    case(
        "missing-inputs-and-samples",
        edit(BASE, {1: "#", 2: "#"}),
        3,
        1,
        "missing required key 'inputs' (and 'targets'), or a list of 'samples'",
    ),
    # line 8 "  - bias: 0.60": the layer's mapping starts at character 5
    case("layer-without-weights", edit(BASE, {8: "  - bias: 0.60", 9: "#"}), 8, 5, "layer 2 has no 'weights'"),
    # line 10 is appended after the samples config
    case(
        "samples-and-inputs",
        edit(SAMPLES, {9: "    bias: [0.2]\ninputs: [1, 1]"}),
        10,
        1,
        "give either 'samples' or top-level 'inputs' and 'targets', not both",
    ),
    # -- shapes
    # row 1 of layer 1 has 3 numbers for 2 inputs: its '[' is character 15
    case(
        "first-layer-row-too-long",
        edit(BASE, {6: "  - weights: [[0.15, 0.20, 0.1], [0.25, 0.30]]"}),
        6,
        15,
        "expected 2 numbers for layer 1 weights row 1",
        "the 2 inputs",
        "found 3",
    ),
    # layer 1 has 3 neurons, so the rows of layer 2 (line 8) need 3 numbers
    case(
        "second-layer-row-mismatch",
        edit(BASE, {6: "  - weights: [[0.15, 0.20], [0.25, 0.30], [0.35, 0.40]]"}),
        8,
        15,
        "expected 3 numbers for layer 2 weights row 1",
        "layer 1 has 3",
        "found 2",
    ),
    # row 2 of layer 2 is short: its '[' is character 29
    case(
        "ragged-rows",
        edit(BASE, {8: "  - weights: [[0.40, 0.45], [0.50]]"}),
        8,
        29,
        "expected 2 numbers for layer 2 weights row 2",
        "found 1",
    ),
    # block style: lines 6-8 are "  - weights:", "      - [0.15, 0.20]", "      - [0.25]";
    # line 8's '[' is character 9
    case(
        "ragged-rows-block",
        edit(BASE, {6: "  - weights:\n      - [0.15, 0.20]\n      - [0.25]"}),
        8,
        9,
        "expected 2 numbers for layer 1 weights row 2",
        "found 1",
    ),
    # a flat list: row 1 is the number 0.15, at character 15
    case(
        "weights-not-rows",
        edit(BASE, {6: "  - weights: [0.15, 0.20, 0.25, 0.30]"}),
        6,
        15,
        "expected row 1 of the weights of layer 1 to be a list of 2 numbers",
    ),
    # line 7 "    bias: [0.35]": '[' is character 11
    case(
        "bias-list-too-short",
        edit(BASE, {7: "    bias: [0.35]"}),
        7,
        11,
        "expected 2 numbers for the biases of layer 1",
        "layer 1 has 2",
        "found 1",
    ),
    case(
        "bias-list-too-long",
        edit(BASE, {9: "    bias: [0.6, 0.6, 0.6]"}),
        9,
        11,
        "expected 2 numbers for the biases of layer 2",
        "found 3",
    ),
    # line 2 "targets: [0.01]": '[' is character 10
    case(
        "targets-vs-outputs",
        edit(BASE, {2: "targets: [0.01]"}),
        2,
        10,
        "expected 2 targets (one per output neuron), found 1",
    ),
    case(
        "targets-vs-outputs-samples",
        edit(SAMPLES, {2: "  - {inputs: [0, 0], targets: [0, 1]}", 3: "  - {inputs: [0, 1], targets: [1, 0]}"}),
        2,
        31,
        "expected 1 target (one per output neuron), found 2",
    ),
    case(
        "sample-inputs-differ",
        edit(SAMPLES, {3: "  - {inputs: [0, 1, 1], targets: [1]}"}),
        3,
        14,
        "the inputs of sample 2 (as many as in sample 1), found 3",
    ),
    case(
        "sample-targets-differ",
        edit(SAMPLES, {3: "  - {inputs: [0, 1], targets: [1, 0]}"}),
        3,
        31,
        "the targets of sample 2 (as many as in sample 1), found 2",
    ),
    case(
        "empty-layers",
        edit(BASE, {5: "layers: []", 6: "#", 7: "#", 8: "#", 9: "#"}),
        5,
        9,
        "expected a non-empty list of layers",
    ),
    # -- numbers
    # line 1 "inputs: [0.05, abc]": 'abc' is character 16
    case(
        "not-a-number",
        edit(BASE, {1: "inputs: [0.05, abc]"}),
        1,
        16,
        "expected a number for inputs[2], found the text 'abc'",
    ),
    case(
        "bias-not-a-number",
        edit(BASE, {9: "    bias: high"}),
        9,
        11,
        "expected a number for the bias of layer 2, found the text 'high'",
    ),
    # YAML 1.1 reads no and yes as booleans; 'no' is character 11
    case("boolean-targets", edit(BASE, {2: "targets: [no, yes]"}), 2, 11, "found 'no', which YAML reads as a boolean"),
    case("nan-eta", edit(BASE, {3: "eta: .nan"}), 3, 6, "expected a finite number for eta, found '.nan'"),
    # line 8: '.inf' is the second number of row 1, character 22
    case(
        "inf-weight",
        edit(BASE, {8: "  - weights: [[0.40, .inf], [0.50, 0.55]]"}),
        8,
        22,
        "expected a finite number for layer 2 weights row 1[2], found '.inf'",
    ),
    case(
        "minus-inf-input",
        edit(BASE, {1: "inputs: [0.05, -.inf]"}),
        1,
        16,
        "expected a finite number for inputs[2], found '-.inf'",
    ),
    # 1e999 overflows to infinity: refused, at character 10
    case(
        "overflowing-input",
        edit(BASE, {1: "inputs: [1e999, 0.10]"}),
        1,
        10,
        "expected a finite number for inputs[1], found '1e999'",
    ),
    case("eta-zero", edit(BASE, {3: "eta: 0"}), 3, 6, "eta (the learning rate) must be greater than 0, found 0"),
    case("eta-negative", edit(BASE, {3: "eta: -0.5"}), 3, 6, "must be greater than 0, found -0.5"),
    # the same with Windows line ends: a '\r' must not shift the count
    case("eta-zero-crlf", edit(BASE, {3: "eta: 0"}, sep="\r\n"), 3, 6, "must be greater than 0"),
    # line 4 "batch_size: 0": the value is character 13
    case("batch-size-zero", edit(BASE, {4: "batch_size: 0"}), 4, 13, "batch_size must be at least 1, found 0"),
    case("batch-size-fraction", edit(BASE, {4: "batch_size: 1.5"}), 4, 13, "expected a whole number for batch_size"),
    # -- activations and losses
    # line 7 "    activation: softmax": the value is character 17
    case(
        "softmax-hidden",
        edit(BASE, {7: "    activation: softmax"}),
        7,
        17,
        "softmax is only allowed on the output layer, not on hidden layer 1",
    ),
    # the top-level default reaches the hidden layer: reported at line 4, character 13
    case(
        "softmax-everywhere",
        edit(BASE, {4: "activation: softmax"}),
        4,
        13,
        "softmax is only allowed on the output layer",
    ),
    case(
        "cross-entropy-target-1.5",
        edit(BASE, {2: "targets: [0.01, 1.5]", 4: "loss: cross_entropy"}),
        2,
        10,
        "cross_entropy needs targets between 0 and 1",
    ),
    # line 4 "loss: cross_entropy": the value is character 7
    case(
        "cross-entropy-linear-output",
        edit(BASE, {4: "loss: cross_entropy", 9: "    activation: linear"}),
        4,
        7,
        "needs a softmax output layer",
    ),
    case(
        "unknown-activation",
        edit(BASE, {4: "activation: sigmoud"}),
        4,
        13,
        "unknown activation 'sigmoud' (did you mean 'sigmoid'?)",
    ),
    case("unknown-layer-activation", edit(BASE, {7: "    activation: tahn"}), 7, 17, "'tahn' (did you mean 'tanh'?)"),
    case(
        "unknown-loss",
        edit(BASE, {4: "loss: cross_entropi"}),
        4,
        7,
        "unknown loss 'cross_entropi' (did you mean 'cross_entropy'?)",
    ),
    case(
        "unknown-batch-error",
        edit(BASE, {4: "batch_error: average"}),
        4,
        14,
        "unknown batch_error 'average'",
    ),
    # -- hostile documents
    # the tag starts at character 6 of "eta: !!python/..."
    case(
        "python-tag-value",
        edit(BASE, {3: f'eta: !!python/object/apply:os.system ["touch {PWNED}"]'}),
        3,
        6,
        "the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
    case(
        "python-tag-root",
        f'!!python/object/apply:os.system ["touch {PWNED}"]\n',
        1,
        1,
        "python/object/apply:os.system' is not allowed",
    ),
    case(
        "python-tag-layer",
        edit(BASE, {7: f"    bias: !!python/object/apply:subprocess.call [[touch, {PWNED}]]"}),
        7,
        11,
        "python/object/apply:subprocess.call' is not allowed",
    ),
    case("local-tag", edit(BASE, {3: "eta: !half 0.5"}), 3, 6, "the tag '!half' is not allowed"),
    # "b: &b [*a": the first alias is character 8 of line 2
    case("billion-laughs", "\n".join(LAUGHS) + "\n", 2, 8, "anchors and aliases (*name) are not supported"),
    # "targets: *x": the alias is character 10
    case("alias", edit(BASE, {1: "inputs: &x [0.05, 0.10]", 2: "targets: *x"}), 2, 10, "anchors and aliases"),
    # "inputs: " is 8 characters; the mapping is level 1 and the k-th '[' (character 8 + k)
    # is level k + 1, so level 17 is the 16th '[', character 24
    case(
        "deep-flow-lists",
        edit(BASE, {1: "inputs: " + "[" * DEPTH + "]" * DEPTH}),
        1,
        24,
        "nested more than 16 levels deep",
    ),
    # "- - - ... 1": the k-th '-' is character 2k - 1 and level k; level 17 is character 33
    case("deep-block-lists", "- " * DEPTH + "1\n", 1, 33, "nested more than 16 levels deep"),
    # -- not UTF-8 text: the position is a byte offset
    # line 1 is 20 bytes + newline, line 2 21 + newline, "eta: 0.5  # " 12: the 0xe9 is byte 55
    # "eta: 0.5  # " is 12 characters: the e-acute is byte 13 of line 3
    case(
        "latin-1",
        edit(BASE, {3: "eta: 0.5  # \u00e9ta"}).encode("latin-1"),
        3,
        13,
        "not a UTF-8 text file (byte 0xe9 here)",
    ),
    case("utf-16", base().encode("utf-16"), 1, 1, "not a UTF-8 text file (byte 0xff here)"),
]


def write(folder: Path, text: str | bytes) -> Path:
    path = folder / "bad.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", newline="")
    return path


def test_the_bases_are_valid(tmp_path):
    # so that each case fails because of its edit, not because of its base
    assert config.load(write(tmp_path, base())).eta == 0.5
    assert config.load(write(tmp_path, edit(SAMPLES, {}))).shape == (2, 2, 1)


@pytest.mark.parametrize("text, line, column, fragments", CASES)
def test_load_reports_the_position(workdir, text, line, column, fragments):
    path = write(workdir, text)
    with pytest.raises(ConfigError) as info:
        config.load(path)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert err.path == str(path)
    for fragment in fragments:
        assert fragment in err.message
    assert not (workdir / PWNED).exists()


@pytest.mark.parametrize("text, line, column, fragments", CASES)
def test_cli_reports_the_position(workdir, text, line, column, fragments):
    path = write(workdir, text)
    result = run("explain", str(path), code=1)
    assert result.stdout == ""
    where = f"{path}:{line}:{column}" if line is not None else str(path)
    assert result.stderr.startswith(f"Error: {where}: "), result.stderr
    assert result.stderr.count("\n") == 1  # one line
    for fragment in fragments:
        assert fragment in result.stderr
    assert not (workdir / PWNED).exists()


@pytest.mark.parametrize("command", [["train", "--epochs", "1"], ["diagram"], ["explain", "--format", "json"]])
def test_other_commands_report_the_same_error(workdir, command):
    path = write(workdir, edit(BASE, {3: "etta: 0.5"}))
    result = run(*command, str(path), code=1)
    assert result.stderr.startswith(f"Error: {path}:3:1: unknown key 'etta'")


def test_python_tags_execute_nothing(workdir):
    # the same payload that the table refuses, checked once more through both doors
    text = edit(BASE, {3: f'eta: !!python/object/apply:os.system ["touch {PWNED}"]'})
    path = write(workdir, text)
    with pytest.raises(ConfigError):
        config.load(path)
    run("train", str(path), code=1)
    assert list(workdir.iterdir()) == [path]


def test_billion_laughs_is_refused_before_any_expansion(workdir):
    path = write(workdir, "\n".join(LAUGHS) + "\n")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    # at the first alias, the first one of line 2 (the 9th level would be 9^8 'lol's)
    assert (info.value.line, info.value.column) == (2, 8)
    assert "anchors and aliases" in info.value.message


@pytest.mark.parametrize("text", ["1e-3", "1E-3", "+1e-3", "0.001", "1.0e-3"])
def test_exponent_without_a_dot_is_a_number(workdir, text):
    # YAML 1.1 reads 1e-3 (no dot) as the text '1e-3'; stepprop takes it as 0.001
    path = write(workdir, edit(BASE, {3: f"eta: {text}"}))
    assert config.load(path).eta == 0.001
    result = run("explain", str(path), "--format", "json", code=0)
    assert json.loads(result.stdout)["network"]["eta"] == 0.001


def test_utf8_byte_order_mark_is_accepted(workdir):
    path = write(workdir, "\ufeff" + base())
    assert config.load(path).eta == 0.5


def test_control_character_is_a_config_error(workdir):
    # "eta: 0.5" is 8 characters; the BEL (0x07) after it is character 9 of line 3
    path = write(workdir, edit(BASE, {3: "eta: 0.5\x07"}))
    result = run("explain", str(path), code=1)
    assert result.stderr.startswith(f"Error: {path}:3:9: ")
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert (info.value.line, info.value.column) == (3, 9)


def test_yaml11_leading_zero_is_read_as_the_decimal_number_meant():
    # YAML 1.1 reads 010 as octal 8; a student who writes 010 means ten
    assert config.parse(edit(BASE, {3: "eta: 010"})).eta == 10.0


def test_yaml11_base60_number_is_explained():
    # "eta: " is 5 characters: the value starts at column 6 of line 3
    with pytest.raises(ConfigError) as info:
        config.parse(edit(BASE, {3: "eta: 1:30"}), "bad.yaml")
    assert "base-60" in info.value.message
    assert (info.value.line, info.value.column) == (3, 6)


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(
    "lines,changes,where,fragment",
    [
        (BASE, {3: "eta: *a"}, (3, 6), "aliases"),
        (BASE, {3: "eta: 0.5\x07"}, (3, 9), "not allowed"),
        (BASE, {4: "eta: 0.6"}, (4, 1), "duplicate key 'eta'"),
    ],
)
def test_both_yaml_parsers_give_the_same_positions(monkeypatch, libyaml, lines, changes, where, fragment):
    import yaml

    if libyaml and not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML was built without libyaml here")
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    with pytest.raises(ConfigError) as info:
        config.parse(edit(lines, changes), "bad.yaml")
    assert (info.value.line, info.value.column) == where
    assert fragment in info.value.message


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pure-python"])
def test_both_yaml_parsers_stop_deep_nesting(monkeypatch, libyaml):
    import yaml

    if libyaml and not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML was built without libyaml here")
    monkeypatch.setattr(yaml, "__with_libyaml__", libyaml)
    with pytest.raises(ConfigError) as info:
        config.parse("eta: " + "[" * DEPTH + "]" * DEPTH + "\n", "deep.yaml")
    assert "nested more than" in info.value.message

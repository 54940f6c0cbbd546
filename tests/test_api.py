"""The public Python API, used as a notebook or a script uses it.

``import stepprop`` and nothing else: ``load``, ``Network``, ``Step``,
``TrainResult``, ``check``, ``verify``, the errors.  The command line is a thin
layer over these, so every result is compared with what the real CLI prints
(``to_dict`` with ``--format json``, ``_repr_html_`` with ``--format html``).

"""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from conftest import BUNDLED, run
from rich.console import Console

import stepprop

# ------------------------------------------------------------------ helpers --


def cli_stdout(*args: str, exit_code: int = 0) -> str:
    result = run(*args)
    assert result.exit_code == exit_code, (args, result.output)
    return result.stdout


def as_json(data: dict) -> dict:
    """What a program reading the JSON gets (tuples become lists, and so on)."""
    return json.loads(json.dumps(data, allow_nan=False))


def rich_text(obj: object, **console: object) -> Console:
    """A console that has printed ``obj`` (recorded, into a string, not the terminal)."""
    out = Console(file=io.StringIO(), record=True, width=120, **console)
    out.print(obj)
    return out


VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "track", "embed"}


class PageParser(HTMLParser):
    """Checks that every element is closed in order, and keeps the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype: str | None = None
        self.tags: list[str] = []
        self.open: list[str] = []
        self.problems: list[str] = []
        self.text: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] not in ("style", "script"):
            self.text.append(data)


def complete_page(html: str) -> str:
    """Assert ``html`` is a whole, well-formed page; return its visible text."""
    page = PageParser()
    page.feed(html)
    page.close()
    assert page.doctype is not None and page.doctype.lower() == "doctype html"
    assert page.tags[:2] == ["html", "head"] and "body" in page.tags and "title" in page.tags
    assert page.problems == [] and page.open == []
    assert html.rstrip().endswith("</html>")
    return " ".join(page.text).replace("\u2212", "-")  # the page writes minus signs as U+2212


@pytest.fixture(scope="module")
def post():
    return stepprop.load()


@pytest.fixture(scope="module")
def step(post):
    return post.step()


@pytest.fixture(scope="module")
def trained(post):
    return post.train(200, every=50)


@pytest.fixture(scope="module")
def grades(post):
    """One right answer, one with a known mistake (the gradient added: 0.4 + 0.5 * 0.0821670406)."""
    return stepprop.check(post, {"out_o1": "0.75137", "w5+": "0.44108"})


@pytest.fixture(scope="module")
def verification(post):
    return stepprop.verify(post, use_torch=False)


# ------------------------------- 1. to_dict() is what --format json prints --

EXPLAIN_CASES = [
    (None, [], {}),
    *[(name, [], {}) for name in BUNDLED],
    ("softmax", ["--batch", "2"], {"batch": 2}),
    (None, ["--round", "4"], {"round": 4}),
    ("xor", ["--round", "3"], {"round": 3}),
    ("softmax", ["--batch", "2", "--round", "5"], {"batch": 2, "round": 5}),
]


def _ids(case: tuple) -> str:
    config, options, _ = case
    return " ".join([config or "post", *options])


@pytest.mark.parametrize("case", EXPLAIN_CASES, ids=_ids)
def test_step_to_dict_is_what_explain_prints_as_json(case):
    config, options, kwargs = case
    printed = cli_stdout("explain", *([config] if config else []), *options, "--format", "json")
    step = stepprop.load(config).step(**kwargs)
    assert json.loads(printed) == as_json(step.to_dict())
    assert step.render("json") == printed  # the very same text, not only the same data


TRAIN_CASES = [
    (None, ["--epochs", "200", "--every", "50"], {"epochs": 200, "every": 50}),
    *[(name, ["--epochs", "60", "--every", "20"], {"epochs": 60, "every": 20}) for name in BUNDLED],
    (None, ["--epochs", "20", "--round", "4"], {"epochs": 20, "round": 4}),
]


@pytest.mark.parametrize("case", TRAIN_CASES, ids=_ids)
def test_train_result_to_dict_is_what_train_prints_as_json(case):
    config, options, kwargs = case
    printed = cli_stdout("train", *([config] if config else []), *options, "--format", "json")
    result = stepprop.load(config).train(**kwargs)
    assert json.loads(printed) == as_json(result.to_dict())
    assert result.render("json") == printed


VERIFY_CASES = [
    (None, [], {}),
    *[(name, [], {}) for name in BUNDLED],
    ("softmax", ["--batch", "2"], {"batch": 2}),
]


@pytest.mark.parametrize("case", VERIFY_CASES, ids=_ids)
def test_verification_to_dict_is_what_verify_prints_as_json(case):
    config, options, kwargs = case
    printed = cli_stdout("verify", *([config] if config else []), *options, "--no-torch", "--format", "json")
    found = stepprop.verify(stepprop.load(config), use_torch=False, **kwargs)
    assert json.loads(printed) == as_json(found.to_dict())
    assert found.render("json") == printed
    assert found.ok and json.loads(printed)["ok"] is True


@pytest.mark.parametrize("answers", ["mazur-post-step", "mazur-post-10000"])
def test_grades_to_dict_is_what_check_prints_as_json(post, answers):
    # both bundled answer files hold a figure the post got wrong: check exits 1
    printed = cli_stdout("check", answers, "--format", "json", exit_code=1)
    grades = stepprop.check(post, answers)
    assert json.loads(printed) == as_json(grades.to_dict())
    assert grades.render("json") == printed
    assert grades.wrong == json.loads(printed)["counts"]["wrong"] >= 1


def test_grades_of_a_file_with_a_config_and_epochs_match_the_cli(tmp_path):
    answers = tmp_path / "answers.yaml"
    exact = stepprop.load("xor").train(2).network.step().names
    answers.write_text(f"out_o1[1]: {exact['out_o1[1]']:.6f}\nw5+: {exact['w5+']:.6f}\n")
    printed = cli_stdout("check", "xor", str(answers), "--epochs", "2", "--format", "json")
    grades = stepprop.check(stepprop.load("xor"), str(answers), epochs=2)
    assert json.loads(printed) == as_json(grades.to_dict())
    assert grades.to_dict()["counts"] == {
        "correct": 2,
        "rounded": 0,
        "carried": 0,
        "ambiguous": 0,
        "wrong": 0,
        "unanswered": 0,
    }


# ------------------------- 2. _repr_html_ is the --format html page's own part --


def page_part(page: str) -> str:
    """The part of an exported page a notebook shows: <div class="stepprop"> ... </div>."""
    start = page.index('<div class="stepprop">')
    return page[start : page.rindex("</div>") + len("</div>")]


@pytest.mark.parametrize(
    "config, options, kwargs",
    [(None, [], {}), ("xor", [], {}), ("softmax", ["--batch", "2"], {"batch": 2})],
    ids=["post", "xor", "softmax batch 2"],
)
def test_step_repr_html_is_the_page_explain_prints(config, options, kwargs):
    printed = cli_stdout("explain", *([config] if config else []), *options, "--format", "html")
    html = stepprop.load(config).step(**kwargs)._repr_html_()
    assert html == page_part(printed) and printed.startswith("<!DOCTYPE html>")
    assert "<svg" in html and "<style>" in html  # the diagram and the (scoped) styles are part of it


def test_post_step_html_is_a_complete_page_with_the_numbers(step):
    text = complete_page(step.render("html"))
    for number in ("0.75136507", "0.0821670406", "0.35891648"):
        assert number in text


def test_grades_repr_html_is_the_page_check_prints(grades, post):
    printed = cli_stdout("check", "mazur-post-step", "--format", "html", exit_code=1)
    assert stepprop.check(post, "mazur-post-step")._repr_html_() == page_part(printed)
    text = complete_page(grades.render("html"))
    assert "0.44108" in text and "0.35891648" in text and "gradient added" in text


def test_train_result_repr_html_is_a_complete_page_with_the_numbers(trained):
    assert trained._repr_html_() == page_part(trained.render("html"))
    text = complete_page(trained.render("html"))
    assert f"{trained.final_error:.9g}" in text  # 0.00831910693
    assert f"{trained.error:.9g}" in text
    assert f"{trained.values['w5']:.9g}" in text  # the trained w5
    for epoch, error in trained.history:
        assert f"{epoch} {error:.9g}" in text  # a row of the table


def test_verification_repr_html_is_a_complete_page_with_the_numbers(verification):
    assert verification._repr_html_() == page_part(verification.render("html"))
    text = complete_page(verification.render("html"))
    assert "every gradient agrees" in text
    for row in verification.rows:
        assert f"{row.engine:.9g}" in text


@pytest.mark.parametrize("command", ["train", "verify"])
def test_text_render_is_what_the_cli_prints_when_piped(command, trained, verification):
    # train and verify offer text and json only; text, piped, is render("text")
    options = ["--epochs", "200", "--every", "50"] if command == "train" else ["--no-torch"]
    result = trained if command == "train" else verification
    assert cli_stdout(command, *options) == result.render("text") == str(result)


# --------------------------------------------------- 3. __rich__ through rich --


def test_step_renders_through_rich_with_the_numbers_and_no_colour_when_recorded(step):
    text = rich_text(step).export_text()
    assert "\x1b" not in text
    for number in ("0.75136507", "0.0821670406", "0.35891648", "0.298371109"):
        assert number in text
    assert "w5+ = w5 - eta * dE_total/dw5 = 0.4 - 0.5 * 0.0821670406 = 0.35891648" in text


def test_rich_colours_a_terminal_and_the_plain_export_drops_them(step):
    console = rich_text(step, force_terminal=True, color_system="truecolor")
    assert "\x1b[" in console.export_text(styles=True, clear=False)
    plain = console.export_text()
    assert "\x1b" not in plain and "0.35891648" in plain


def test_results_render_through_rich_with_their_numbers(trained, verification, grades):
    train_text = rich_text(trained).export_text()
    assert f"{trained.final_error:.9g}" in train_text and f"{trained.values['w5']:.9g}" in train_text
    verify_text = rich_text(verification).export_text()
    assert "every gradient agrees" in verify_text and "0.0821670406" in verify_text
    grades_text = rich_text(grades).export_text()
    assert "wrong" in grades_text and "0.44108352" in grades_text  # what the mistake gives
    for text in (train_text, verify_text, grades_text):
        assert "\x1b" not in text


# ------------------------------------------------ 4. the post's numbers, briefly --


def test_the_posts_numbers_through_the_api(step):
    assert f"{step.values['out_o1']:.8f}" == "0.75136507"
    assert f"{step.terms['dE_total/dw5']:.9f}" == "0.082167041"
    assert f"{step.updated['w5']:.8f}" == "0.35891648"
    assert step.gradients["w5"] == step.terms["dE_total/dw5"]
    assert step.before["w5"] == 0.4
    assert step.error == step.values["E_total"] and step.error_after < step.error
    assert step.names["w5+"] == step.updated["w5"]


def test_a_steps_dicts_are_copies(post):
    step = post.step()
    step.values["out_o1"] = 0.0
    step.updated["w5"] = 0.0
    assert step.values["out_o1"] != 0.0 and step.updated["w5"] != 0.0


# ---------------------------------------------------------- 5. config errors --


def test_a_missing_file_is_a_config_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(stepprop.ConfigError) as caught:
        stepprop.load("missing.yaml")
    error = caught.value
    assert (error.path, error.line, error.column) == ("missing.yaml", None, None)
    assert error.message == "no such file" and str(error) == "missing.yaml: no such file"
    assert isinstance(error, stepprop.StepPropError)


BAD_ROW = """\
inputs: [0.05, 0.10]
targets: [0.01, 0.99]
eta: 0.5
layers:
  - weights: [[0.15, 0.20],
              [0.25]]
    bias: 0.35
  - weights: [[0.40, 0.45], [0.50, 0.55]]
    bias: 0.60
"""


@pytest.mark.parametrize("as_text", [True, False], ids=["str", "Path"])
def test_a_bad_line_is_a_config_error_at_its_line_and_column(tmp_path, as_text):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD_ROW)
    line = next(k for k, text in enumerate(BAD_ROW.splitlines(), 1) if "[0.25]" in text)
    column = BAD_ROW.splitlines()[line - 1].index("[0.25]") + 1
    with pytest.raises(stepprop.ConfigError) as caught:
        stepprop.load(str(path) if as_text else path)
    error = caught.value
    assert (error.path, error.line, error.column) == (str(path), line, column) == (str(path), 6, 15)
    assert "row 2" in error.message and "found 1" in error.message
    assert str(error).startswith(f"{path}:6:15: ")


def _post_dict() -> dict:
    return {
        "inputs": [0.05, 0.10],
        "targets": [0.01, 0.99],
        "eta": 0.5,
        "update_biases": False,
        "layers": [
            {"weights": [[0.15, 0.20], [0.25, 0.30]], "bias": 0.35},
            {"weights": [[0.40, 0.45], [0.50, 0.55]], "bias": 0.60},
        ],
    }


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d["layers"][0]["weights"].__setitem__(1, [0.25]), ["row 2", "found 1"]),
        (lambda d: d.__setitem__("etta", d.pop("eta")), ["'etta'", "did you mean 'eta'"]),
        (lambda d: d.__setitem__("eta", float("nan")), ["finite", "eta"]),
        (lambda d: d["layers"][1].__setitem__("activation", "sigmoyd"), ["sigmoyd", "sigmoid"]),
        (lambda d: d.pop("layers"), ["missing", "layers"]),
    ],
    ids=["short row", "misspelt key", "nan", "misspelt activation", "no layers"],
)
def test_from_dict_with_a_bad_mapping_names_the_problem_without_a_position(change, words):
    mapping = _post_dict()
    change(mapping)
    with pytest.raises(stepprop.ConfigError) as caught:
        stepprop.Network.from_dict(mapping)
    error = caught.value
    assert error.path == "<dict>" and error.line is None and error.column is None
    for word in words:
        assert word in error.message
    with pytest.raises(stepprop.ConfigError) as named:
        stepprop.Network.from_dict(mapping, source="my notebook")
    assert str(named.value).startswith("my notebook: ")


class FloatLike:
    """A NumPy-like float: a number only through ``__float__``."""

    def __init__(self, value: float):
        self.value = value

    def __float__(self) -> float:
        return float(self.value)


class IntLike(FloatLike):
    """A NumPy-like integer (numpy.int64 has __float__, __int__ and __index__)."""

    def __int__(self) -> int:
        return int(self.value)

    def __index__(self) -> int:
        return int(self.value)


def test_from_dict_takes_tuples_ints_and_numpy_like_floats(step):
    mapping = {
        "inputs": (FloatLike(0.05), FloatLike(0.10)),
        "targets": (0.01, 0.99),
        "eta": FloatLike(0.5),
        "update_biases": False,
        "layers": (
            {"weights": ((0.15, 0.20), (0.25, 0.30)), "bias": FloatLike(0.35)},
            {"weights": [[0.40, 0.45], (0.50, 0.55)], "bias": 0.60},
        ),
    }
    net = stepprop.Network.from_dict(mapping)
    assert repr(net) == "<stepprop.Network 2-2-2 from <dict>>"
    assert net.step().to_dict()["values"] == step.to_dict()["values"]
    assert net.step().updated == step.updated
    small = stepprop.Network.from_dict(
        {"inputs": [1, 0], "targets": [1], "eta": 1, "layers": [{"weights": [[1, 2]], "bias": 0}]}
    )
    assert small.step().values["net_o1"] == 1.0
    assert small.to_dict()["inputs"] == [1.0, 0.0]


def test_from_dict_of_to_dict_is_the_same_network(step):
    for name in BUNDLED:
        net = stepprop.load(name)
        again = stepprop.Network.from_dict(net.to_dict())
        assert again.step().to_dict()["values"] == net.step().to_dict()["values"]
        assert again.values == net.values


def test_from_dict_takes_a_numpy_like_integer():
    mapping = stepprop.load("xor").to_dict()
    mapping["batch_size"] = IntLike(2)
    net = stepprop.Network.from_dict(mapping)
    assert net.config.batch_size == 2 and len(net.config.batches()) == 2


# ---------------------------------------------------- 6. check with a mapping --


def test_check_a_mapping_right_and_wrong(grades, post):
    right, wrong = grades.to_dict()["answers"]
    assert (right["name"], right["status"], right["given_text"]) == ("out_o1", "correct", "0.75137")
    # 0.7514 is also what reading the weights the other way gives: four decimals can't tell
    (short,) = stepprop.check(post, {"out_o1": "0.7514"}).to_dict()["answers"]
    assert short["status"] == "ambiguous" and short["also_from"] == ["weights_transposed"]
    assert (wrong["name"], wrong["status"]) == ("w5+", "wrong")
    assert wrong["mistake"] == "gradient_added" and "gradient added" in wrong["note"]
    assert "instead of subtracting" in wrong["explanation"]
    assert grades.wrong == 1 and grades.to_dict()["answers_file"] == "the answers"
    assert repr(grades) == "<stepprop.Grades 1 correct, 0 rounded, 0 carried, 0 ambiguous, 1 wrong, 0 unanswered>"


def test_check_keeps_the_digits_of_text_and_the_repr_of_floats(post):
    # "0.75140" claims five decimals (the exact value is 0.75137); the float 0.75140 is 0.7514
    as_text = stepprop.check(post, {"out_o1": "0.75140"}).to_dict()["answers"][0]
    as_float = stepprop.check(post, {"out_o1": 0.75140}).to_dict()["answers"][0]
    assert (as_text["given_text"], as_text["status"]) == ("0.75140", "wrong")
    assert (as_float["given_text"], as_float["status"]) == ("0.7514", "ambiguous")
    exact = stepprop.check(post, {"out_o1": post.step().values["out_o1"]}).to_dict()["answers"][0]
    assert exact["status"] == "correct" and exact["given_text"] == "0.7513650695523157"


def test_check_an_unknown_name_is_a_config_error_without_a_position(post):
    with pytest.raises(stepprop.ConfigError) as caught:
        stepprop.check(post, {"out_o1": "0.7514", "out_o9": "0.7"})
    error = caught.value
    assert error.line is None and error.column is None and error.path == "the answers"
    assert "out_o9" in error.message and "did you mean" in error.message and "'out_o1'" in error.message


def test_check_a_bad_answers_file_is_a_config_error_at_its_line(post, tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text("out_o1: 0.7514\nout_o9: 0.7\n")
    with pytest.raises(stepprop.ConfigError) as caught:
        stepprop.check(post, path)
    assert (caught.value.path, caught.value.line, caught.value.column) == (str(path), 2, 1)


def test_check_after_epochs(post):
    after = post.train(1).network.step().values["out_o1"]
    assert after != post.step().values["out_o1"]
    answer = {"out_o1": f"{after:.9f}"}
    grades = stepprop.check(post, answer, epochs=1)
    (graded,) = grades.to_dict()["answers"]
    assert graded["exact"] == after and graded["status"] == "correct"
    assert grades.to_dict()["epochs"] == 1
    assert stepprop.check(post, answer).to_dict()["answers"][0]["status"] == "wrong"  # not after 0 epochs


@pytest.mark.parametrize("epochs", [1, "1"], ids=["int", "str"])
def test_check_a_mapping_with_epochs_like_an_answers_file(post, epochs):
    after = post.train(1).network.step().values["out_o1"]
    grades = stepprop.check(post, {"epochs": epochs, "out_o1": f"{after:.9f}"})
    assert grades.to_dict()["epochs"] == 1 and grades.wrong == 0


def test_check_an_answer_of_none_is_unanswered(post):
    """As a blank in an answers file (or a template left unfilled)."""
    (graded,) = stepprop.check(post, {"out_o1": None}).to_dict()["answers"]
    assert (graded["name"], graded["status"]) == ("out_o1", "unanswered")


# ------------------------------------------------- 7. the trained network --


def test_the_trained_network_is_new_and_the_original_is_unchanged(post, trained):
    before = post.to_dict()
    trained_net = trained.network
    assert isinstance(trained_net, stepprop.Network) and trained_net is not post
    assert trained_net.values == trained.values != post.values
    assert trained_net.step().before == trained.values  # its step starts where training ended
    assert post.to_dict() == before and post.values["w5"] == 0.4
    assert post.step().to_dict() == stepprop.load().step().to_dict()
    # training on continues from there: 200 epochs, then 100 more, are 300 epochs
    assert trained_net.train(100).values == post.train(300).values


@pytest.mark.parametrize("name", ["mazur", "xor", "softmax"])
def test_to_yaml_round_trips_through_load(tmp_path, name):
    trained = stepprop.load(name).train(30).network
    path = tmp_path / "trained.yaml"
    path.write_text(trained.to_yaml())
    again = stepprop.load(path)
    assert again.values == trained.values  # every number exact
    assert again.to_dict() == trained.to_dict()
    assert again.step().to_dict()["values"] == trained.step().to_dict()["values"]


def test_train_result_attributes(trained):
    assert trained.epochs == 200 and not trained.interrupted
    assert [epoch for epoch, _ in trained.history] == [50, 100, 150, 200]
    assert trained.history[-1][1] == trained.error and trained.final_error < trained.error
    assert len(trained.outputs) == len(trained.sample_errors) == 1 and len(trained.outputs[0]) == 2
    assert trained.curve and set(trained.values) == set(stepprop.load().values)
    assert repr(trained) == f"<stepprop.TrainResult 200 epochs, error {trained.error:.9g}>"
    with pytest.raises(AttributeError):
        trained.nonexistent  # noqa: B018


def test_train_can_be_stopped_and_reports_progress(post):
    seen: list[int] = []
    result = post.train(100_000, progress=seen.append, should_stop=lambda: bool(seen))
    assert result.interrupted and seen == [1] and result.epochs == 1  # asked first after epoch 1
    assert result.to_dict()["interrupted"] is True and result.to_dict()["epochs"] == result.epochs
    assert result.network.values == result.values


def test_a_diverging_run_raises_training_diverged():
    net = stepprop.Network.from_dict(
        {"inputs": [1.0], "targets": [1.0], "eta": 10.0, "activation": "linear", "layers": [{"weights": [[2.0]]}]}
    )
    with pytest.raises(stepprop.TrainingDiverged, match="smaller eta") as caught:
        net.train(1000)
    assert isinstance(caught.value, stepprop.StepPropError)


# --------------------------------------------------------- 8. render formats --


def test_render_every_format(step):
    text = step.render("text")
    assert text == str(step) and "w5+ = w5 - eta * dE_total/dw5" in text and "0.35891648" in text
    markdown = step.render("markdown")
    assert markdown.startswith("# One step of backpropagation") and "0.35891648" in markdown
    latex = step.render("latex")
    assert latex.startswith("\\documentclass") and "\\end{document}" in latex and "0.35891648" in latex
    body = step.render("latex", fragment=True)
    assert "\\documentclass" not in body and "0.35891648" in body
    assert page_part(step.render("html")) == step._repr_html_()
    assert json.loads(step.render("json")) == as_json(step.to_dict())
    assert "0.358916" in step.render("text", digits=6) and "0.35891648" not in step.render("text", digits=6)


@pytest.mark.parametrize("fmt", ["pdf", "JSON", ""])
def test_render_an_unknown_format_is_an_error_naming_the_formats(step, trained, grades, verification, fmt):
    for result in (step, trained, grades, verification):
        with pytest.raises(stepprop.StepPropError, match="text, json, markdown, latex, html"):
            result.render(fmt)


def test_render_only_shows_only_that_derivation(step):
    text = step.render("text", only=["w5"])
    headings = [line for line in text.splitlines() if re.match(r"^[wb]\d+: the ", line)]
    assert headings == ["w5: the weight h1 -> o1"]
    assert "w5+ = w5 - eta * dE_total/dw5" in text and "w6+ =" not in text and "w1+ =" not in text
    assert cli_stdout("explain", "--only", "w5", "--format", "markdown") == step.render("markdown", only=["w5"])
    assert json.loads(step.render("json", only=["w5"])) == as_json(step.to_dict())  # JSON: the whole step
    assert step.parameters(["w1", "w5"]) == ["w5", "w1"]  # in the post's order


@pytest.mark.parametrize("bad, suggestion", [("w99", None), ("W5", "w5"), ("b3", None)])
def test_an_unknown_parameter_is_an_error_with_a_suggestion(step, bad, suggestion):
    for call in (lambda: step.parameters([bad]), lambda: step.render("text", only=[bad])):
        with pytest.raises(stepprop.StepPropError) as caught:
            call()
        message = str(caught.value)
        assert f"'{bad}'" in message and "w1, w2, w3, w4, w5, w6, w7, w8, b1, b2" in message
        if suggestion:
            assert f"did you mean '{suggestion}'" in message


def test_diagram_modes(step):
    for mode in ("before", "after", "gradients"):
        assert step.diagram(mode) is not None


# ---------------------------------------------------- 9. import stepprop is cheap --


def test_import_stepprop_imports_neither_the_api_nor_click_nor_rich():
    code = "import stepprop; stepprop.__version__; stepprop.ConfigError"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    modules = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "stepprop" in modules and "stepprop.errors" in modules  # the output was read
    for heavy in ("stepprop.api", "stepprop.cli", "click", "rich", "yaml"):
        assert heavy not in modules, heavy


def test_the_exports_resolve_and_nothing_else():
    for name in stepprop.__all__:
        assert getattr(stepprop, name) is not None
    assert issubclass(stepprop.ConfigError, stepprop.StepPropError)
    assert issubclass(stepprop.TrainingDiverged, stepprop.StepPropError)
    with pytest.raises(AttributeError):
        stepprop.train  # noqa: B018


# ---------------------------------------------------------------- 10. errors --


def test_a_batch_that_does_not_exist_names_how_many_there_are(post):
    with pytest.raises(stepprop.StepPropError, match=r"^batch 5: this config has 1 batch$"):
        post.step(batch=5)
    with pytest.raises(stepprop.StepPropError, match=r"^batch 0: this config has 1 batch$"):
        post.step(batch=0)
    with pytest.raises(stepprop.StepPropError, match=r"^batch 3: this config has 2 batches$"):
        stepprop.load("softmax").step(batch=3)
    with pytest.raises(stepprop.StepPropError, match="this config has 1 batch"):
        stepprop.verify(post, batch=2, use_torch=False)


def test_train_needs_an_epoch(post):
    with pytest.raises(stepprop.StepPropError, match="at least 1"):
        post.train(0)


# ------------------------------------------------------------------ bugs --


@pytest.mark.parametrize("which", ["grades", "verification"])
def test_results_can_be_copied(which, request):
    result = request.getfixturevalue(which)
    assert copy.copy(result).to_dict() == result.to_dict()


def test_an_unknown_diagram_mode_is_a_stepprop_error(step):
    with pytest.raises(stepprop.StepPropError, match="before"):
        step.diagram("bogus")


@pytest.mark.parametrize("every", [0, -1])
def test_train_every_must_be_positive(post, every):
    with pytest.raises(stepprop.StepPropError):
        post.train(10, every=every)


@pytest.mark.parametrize("method", ["step", "train"])
def test_a_negative_rounding_is_an_error(post, method):
    with pytest.raises(stepprop.StepPropError):
        post.step(round=-1) if method == "step" else post.train(5, round=-1)


def test_render_with_impossible_digits_is_a_stepprop_error(step):
    with pytest.raises(stepprop.StepPropError):
        step.render("text", digits=-1)


def test_only_may_be_a_single_name(step):
    assert step.parameters("w5") == ["w5"]
    assert step.render("text", only="w5") == step.render("text", only=["w5"])


def test_a_networks_values_cannot_drift_from_its_config():
    net = stepprop.load()
    try:
        net.values["w5"] = 0.5
    except TypeError:  # read-only values would be a fine answer too
        return
    assert net.step().before["w5"] == net.to_dict()["layers"][1]["weights"][0][0]
    assert stepprop.verify(net, use_torch=False).to_dict()["gradients"][4]["engine"] == net.step().gradients["w5"]


def test_repr_html_styles_only_itself(step):
    css = "".join(re.findall(r"<style>(.*?)</style>", step._repr_html_(), re.S))
    assert css, "no style at all is fine too, but then this test needs updating"
    assert not re.search(r"(^|[{}])\s*(body|html|table|th|td|h[1-6]|figure)\b", css)


# ------------------------------------------------------ what a user expects --


def test_check_and_verify_take_a_path_or_a_bundled_name_too():
    by_name = stepprop.check("xor", {"out_o1[1]": "0.5"})
    assert by_name.to_dict()["config"] == "the bundled xor.yaml"
    assert stepprop.verify("xor", use_torch=False).ok


def test_library_errors_do_not_speak_of_command_line_flags(step, post):
    with pytest.raises(stepprop.StepPropError) as caught:
        step.parameters(["w99"])
    assert not str(caught.value).startswith("--only") and "no parameter 'w99'" in str(caught.value)
    with pytest.raises(stepprop.ConfigError, match=r"Step\.names"):
        stepprop.check(post, {"out_o9": "0.7"})


def test_results_list_their_attributes(trained, grades, verification):
    """dir() (a notebook's tab completion) shows what __getattr__ reaches."""
    assert {"epochs", "error", "history", "values"} <= set(dir(trained))
    assert {"graded", "wrong"} <= set(dir(grades))
    assert {"ok", "rows"} <= set(dir(verification))


def test_a_trained_network_says_it_was_trained(trained):
    said = f"the bundled mazur.yaml, trained {trained.epochs} epochs"
    assert repr(trained.network) == f"<stepprop.Network 2-2-2 from {said}>"
    assert trained.network.step().to_dict()["network"]["source"] == said


def test_a_misspelt_bundled_name_gets_a_suggestion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(stepprop.ConfigError) as caught:
        stepprop.load("xro")
    assert "no such file" in str(caught.value) and "'xor'" in str(caught.value)


def test_from_dict_names_a_value_it_cannot_take():
    with pytest.raises(stepprop.ConfigError, match="set"):
        stepprop.Network.from_dict({**_post_dict(), "inputs": {0.05, 0.1}})
    with pytest.raises(stepprop.ConfigError, match="not a number, text, list or mapping"):
        stepprop.Network.from_dict({**_post_dict(), "eta": object()})

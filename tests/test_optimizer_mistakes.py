"""check names the optimisers' common mistakes (catalogue number 12), from
numbers worked out by hand here, not by stepprop's rules."""

import math

import pytest

import stepprop


def _post(**extra):
    d = stepprop.load("mazur").to_dict()
    d.update(extra)
    return stepprop.Network.from_dict(d)


def _first_update():
    """w5's gradient and value before the first update (the same for every optimiser: from the
    plain step, which tests elsewhere hold to the post's numbers)."""
    step = _post().step()
    return step.gradients["w5"], step.before["w5"]


def _graded(net, answers, step=1):
    return {a["name"]: a for a in stepprop.check(net, answers, step=step).to_dict()["answers"]}


def test_adam_first_update_mistakes_by_hand():
    net = _post(optimizer="adam")
    g, w = _first_update()
    eta, b1, b2, eps = 0.5, 0.9, 0.999, 1e-8
    m, s = (1 - b1) * g, (1 - b2) * g * g
    right = w - eta * (m / (1 - b1)) / (math.sqrt(s / (1 - b2)) + eps)
    no_correction = w - eta * m / (math.sqrt(s) + eps)
    eps_inside = w - eta * (m / (1 - b1)) / math.sqrt(s / (1 - b2) + eps)
    graded = _graded(net, {"w5+": repr(right)})
    assert graded["w5+"]["status"] in ("correct", "ambiguous")  # (-0.100 is also a mistake's, to 3 decimals)
    assert _graded(net, {"w5+": repr(no_correction)})["w5+"]["mistake"] == "bias_correction_forgotten"
    assert _graded(net, {"m_hat_w5": repr(m)})["m_hat_w5"]["mistake"] == "bias_correction_forgotten"
    a = _graded(net, {"w5+": repr(eps_inside)})["w5+"]
    assert a["status"] == "wrong" and a["mistake"] == "epsilon_inside_root", a
    assert a["note"].startswith("mistake 12:")


def test_momentum_mistakes_at_the_second_update():
    d = stepprop.load("momentum")
    steps = d.steps(2)
    g1 = steps[0].gradients["w5"]
    g2 = steps[1].gradients["w5"]
    mu = 0.9
    right = mu * g1 + g2
    sign = -mu * g1 + g2
    classic = mu * (-0.5 * g1) - 0.5 * g2
    assert _graded(d, {"v_w5": repr(right)}, 2)["v_w5"]["status"] == "correct"
    assert _graded(d, {"v_w5": repr(sign)}, 2)["v_w5"]["mistake"] == "momentum_sign"
    assert _graded(d, {"v_w5": repr(classic)}, 2)["v_w5"]["mistake"] == "momentum_forms_confused"


def test_decay_mistakes():
    net = _post(optimizer="adamw", weight_decay=0.1, update_biases=True)
    right = net.step().updated
    biases = stepprop.Network.from_dict({**net.to_dict(), "regularize_biases": True}).step().updated
    assert biases["b2"] != right["b2"]
    assert _graded(net, {"b2+": repr(biases["b2"])})["b2+"]["mistake"] == "decay_on_biases"
    as_adam = stepprop.Network.from_dict({**net.to_dict(), "optimizer": "adam"}).steps(2)[1].updated
    a = _graded(net, {"w5+": repr(as_adam["w5"])}, 2)["w5+"]
    assert a["mistake"] == "adamw_decay_in_gradient", a
    l2 = _post(optimizer="sgd", weight_decay=0.1, penalty="l2")
    g, w = _first_update()
    assert _graded(l2, {"w5+": repr(w - 0.5 * (g + 0.1 * w))})["w5+"]["status"] == "correct"
    assert _graded(l2, {"w5+": repr(w - 0.5 * g)})["w5+"]["mistake"] == "l2_left_out_of_gradient"


def test_check_step_option_and_answers_file(tmp_path):
    from click.testing import CliRunner

    from stepprop.cli import main

    net = stepprop.load("adam")
    second = net.steps(2)[1].names
    path = tmp_path / "a.yaml"
    path.write_text(f"step: 2\nm_w5: {second['m_w5']!r}\ns_hat_w5: {second['s_hat_w5']!r}\n")
    result = CliRunner().invoke(main, ["check", "adam", str(path)])
    assert result.exit_code == 0, result.output
    assert "update 2 of consecutive training steps" in result.output
    result = CliRunner().invoke(main, ["check", "adam", str(path), "--step", "1"])
    assert result.exit_code == 1  # the first update's numbers differ
    path.write_text("step: 0\nm_w5: 0.1\n")
    result = CliRunner().invoke(main, ["check", "adam", str(path)])
    assert result.exit_code != 0 and "step must be 1 to 1,000" in result.output
    with pytest.raises(stepprop.StepPropError):
        stepprop.check(net, {"m_w5": "0.1"}, step=0)


def test_an_answer_to_few_decimals_is_graded_where_adam_cannot_be_worked_by_hand():
    # rounded to 3 decimals, Adam divides by 0 (epsilon rounds to 0): that rounding is no match, not an error
    net = stepprop.load("adam")
    exact = net.step().updated["w5"]
    graded = _graded(net, {"w5+": f"{exact:.3f}", "w6+": "0.123"})
    assert graded["w5+"]["status"] in ("correct", "ambiguous")  # (-0.100 is also a mistake's, to 3 decimals)
    assert graded["w6+"]["status"] == "wrong"

"""The post's numbers are the first fixture.

Every figure that "A Step by Step Backpropagation Example" prints is checked
to the digits it prints, with the quantity's stepprop name.  The expected
values below are copied from the post (../shared/reference/mazur-post.md),
not from stepprop's output.
"""

from decimal import Decimal

import pytest
from conftest import agrees

from stepprop import names

# (name, the figure as the post prints it)
FORWARD = [
    ("net_h1", "0.3775"),
    ("out_h1", "0.593269992"),
    ("out_h2", "0.596884378"),
    ("net_o1", "1.105905967"),
    ("out_o1", "0.75136507"),
    ("out_o2", "0.772928465"),
    ("E_o1", "0.274811083"),
    ("E_o2", "0.023560026"),
    ("E_total", "0.298371109"),
]
TERMS = [
    ("dE_total/dout_o1", "0.74136507"),
    ("dout_o1/dnet_o1", "0.186815602"),
    ("dnet_o1/dw5", "0.593269992"),
    ("dE_total/dw5", "0.082167041"),
    ("delta_o1", "0.138498562"),
    ("dE_o1/dnet_o1", "0.138498562"),
    ("dnet_o1/dout_h1", "0.40"),
    ("dE_o1/dout_h1", "0.055399425"),
    ("dE_total/dout_h1", "0.036350306"),
    ("dout_h1/dnet_h1", "0.241300709"),
    ("dnet_h1/dw1", "0.05"),
    ("dE_total/dw1", "0.000438568"),
]
UPDATED = [
    ("w5", "0.35891648"),
    ("w6", "0.408666186"),
    ("w7", "0.511301270"),
    ("w8", "0.561370121"),
    ("w1", "0.149780716"),
    ("w2", "0.19956143"),
    ("w3", "0.24975114"),
    ("w4", "0.29950229"),
]


@pytest.mark.parametrize("name,printed", FORWARD)
def test_forward_pass(post_step, name, printed):
    values = names.values_of(post_step.graph)
    assert agrees(values[name], printed), (name, values[name], printed)


@pytest.mark.parametrize("name,printed", TERMS)
def test_chain_rule_terms(post_step, name, printed):
    terms = names.terms_of(post_step)
    assert agrees(terms[name], printed), (name, terms[name], printed)


@pytest.mark.parametrize("name,printed", UPDATED)
def test_updated_weights(post_step, name, printed):
    assert agrees(post_step.updated[name], printed), (name, post_step.updated[name], printed)


def test_biases_stay_fixed_but_have_gradients(post_step):
    assert post_step.updated["b1"] == 0.35 and post_step.updated["b2"] == 0.6
    # dE/db2 = delta_o1 + delta_o2; dE/db1 = delta_h1 + delta_h2
    terms = names.terms_of(post_step)
    assert post_step.gradients["b2"] == pytest.approx(terms["delta_o1"] + terms["delta_o2"], rel=1e-15)
    assert post_step.gradients["b1"] == pytest.approx(terms["delta_h1"] + terms["delta_h2"], rel=1e-15)


def test_hidden_gradient_is_the_sum_over_both_outputs(post_step):
    terms = names.terms_of(post_step)
    assert terms["dE_total/dout_h1"] == pytest.approx(terms["dE_o1/dout_h1"] + terms["dE_o2/dout_h1"], rel=1e-15)


def test_de_o2_dout_h1_exact_value_differs_from_the_post_in_the_last_digit(post_step):
    """The post prints -0.019049119: it multiplied an already rounded delta_o2
    (-0.038098237 * 0.5 = -0.0190491185).  The exact value is -0.019049118."""
    terms = names.terms_of(post_step)
    exact = terms["dE_o2/dout_h1"]
    assert agrees(exact, "-0.019049118")
    assert not agrees(exact, "-0.019049119")
    rounded_delta = float(Decimal(repr(terms["delta_o2"])).quantize(Decimal("0.000000001")))
    assert agrees(rounded_delta * 0.5, "-0.019049119")


def test_error_after_the_first_round_is_exact_not_the_posts(post_step):
    """The post says 0.291027924; the step its text describes gives 0.291027774."""
    assert agrees(post_step.error_after, "0.291027774")
    assert not agrees(post_step.error_after, "0.291027924")


def test_error_after_10000_epochs(post_trained):
    result = post_trained
    assert agrees(result.error, "0.0000351085")
    # the post's outputs (0.015912196, 0.984065734) come from using updated
    # output weights in the hidden deltas; the exact procedure gives these:
    assert agrees(result.outputs[0][0], "0.015913620")
    assert agrees(result.outputs[0][1], "0.984064274")

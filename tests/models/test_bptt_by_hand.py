"""The hand-summed chain rule for cat / mat / rat equals autograd to 1e-10 in float64."""

import itertools

import numpy as np
import pytest
import torch

from models import build_model
from models.bptt_by_hand import EXAMPLE_CONFIG, PARAMETERS, encode, worked_example
from models.tasks import CatMatRat

SENTENCES = [" ".join(words) for words in itertools.product(CatMatRat.vocab, repeat=3)]


@pytest.mark.parametrize("sentence", SENTENCES)
def test_hand_gradients_equal_autograd(sentence):
    example = worked_example(sentence)
    for symbol in PARAMETERS:
        np.testing.assert_allclose(example.hand[symbol], example.autograd[symbol], rtol=0, atol=1e-10, err_msg=symbol)
    assert example.max_difference < 1e-10


def test_gradients_are_not_trivially_zero():
    example = worked_example()
    assert all(np.abs(example.hand[k]).max() > 1e-4 for k in PARAMETERS)


def test_forward_values_match_the_engine_model():
    example = worked_example("rat mat cat")
    model = build_model(EXAMPLE_CONFIG, 3).double()
    with torch.no_grad():
        states = model.rnn(torch.from_numpy(example.x)[None])[0].numpy()  # (3, H)
        logit = float(model(torch.from_numpy(example.x)[None]))
    np.testing.assert_allclose(example.h[1:], states, rtol=0, atol=1e-12)
    assert example.z == pytest.approx(logit, abs=1e-12)
    assert example.y == 1.0 and example.y_hat == pytest.approx(1 / (1 + np.exp(-logit)))


def test_chain_factors_compose():
    e = worked_example()
    assert e.dL_dz == pytest.approx(e.y_hat - e.y, abs=1e-14)  # ∂L/∂ŷ · ∂ŷ/∂z = ŷ − y for BCE
    np.testing.assert_allclose(e.dL_dh[0], e.dL_dh[2] @ e.jacobians[2] @ e.jacobians[1], atol=1e-15)
    np.testing.assert_allclose(e.hand["W_h"], sum(np.outer(e.delta[t], e.h[t]) for t in range(3)), atol=1e-15)


def test_label_rule_and_bad_sentences():
    assert encode("cat mat mat")[1] == 0.0 and encode("mat rat cat")[1] == 1.0
    with pytest.raises(ValueError, match="three words"):
        encode("cat dog rat")

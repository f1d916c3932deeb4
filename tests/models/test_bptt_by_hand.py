"""The hand-summed chain rule for cat / mat / rat equals autograd to 1e-10 in float64."""

import itertools
from pathlib import Path

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


def test_chain_factors_compose_as_column_vectors():
    e = worked_example()
    assert e.dL_dz == pytest.approx(e.y_hat - e.y, abs=1e-14)  # ∂L/∂ŷ · ∂ŷ/∂z = ŷ − y for BCE
    # ∂L/∂h_1 = (∂h_2/∂h_1)ᵀ (∂h_3/∂h_2)ᵀ ∂L/∂h_3, each Jacobian diag(1 − h_t²) W_h.
    np.testing.assert_allclose(e.dL_dh[0], e.jacobians[1].T @ e.jacobians[2].T @ e.dL_dh[2], atol=1e-15)
    np.testing.assert_allclose(e.jacobians[2], np.diag(1 - e.h[3] ** 2) @ e.params["W_h"], atol=1e-15)
    np.testing.assert_allclose(e.hand["W_h"], sum(np.outer(e.delta[t], e.h[t]) for t in range(3)), atol=1e-15)
    assert e.hand["W_h"].shape == e.params["W_h"].shape and e.hand["W_in"].shape == e.params["W_in"].shape


def test_one_sgd_step_equals_torch_and_lowers_this_loss():
    e = worked_example()
    model = build_model(EXAMPLE_CONFIG, 3).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=EXAMPLE_CONFIG.lr)
    x = torch.from_numpy(e.x)[None]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), torch.tensor([e.y], dtype=torch.float64))
    loss.backward()
    optimizer.step()
    named = dict(model.named_parameters())
    for symbol, name in PARAMETERS.items():
        np.testing.assert_allclose(e.updated[symbol], named[name].detach().numpy(), rtol=0, atol=1e-15, err_msg=symbol)
    with torch.no_grad():
        after = torch.nn.functional.binary_cross_entropy_with_logits(model(x), torch.tensor([e.y], dtype=torch.float64))
    assert e.lr == 0.1 and e.loss_after == pytest.approx(float(after), abs=1e-14)
    assert e.loss_after < e.loss


@pytest.mark.parametrize("sentence", SENTENCES)
def test_the_first_word_gets_less_gradient_than_the_last(sentence):
    norms = worked_example(sentence).gradient_norms
    assert norms[0] < norms[1] < norms[2]  # what the page says for every sentence it offers


def test_default_sentence_numbers_from_the_audit():
    norms = worked_example().gradient_norms  # ../shared/notes/teaching-audit.md: 0.028 vs 0.119
    assert round(norms[0], 3) == 0.028 and round(norms[2], 3) == 0.119


def test_label_rule_and_bad_sentences():
    assert encode("cat mat mat")[1] == 0.0 and encode("mat rat cat")[1] == 1.0
    with pytest.raises(ValueError, match="three words"):
        encode("cat dog rat")


def test_readme_states_the_pages_numbers():
    e = worked_example()
    text = (Path(__file__).resolve().parents[2] / "docs" / "lessons.md").read_text()
    section = text[text.index("### BPTT by hand"):text.index("### Theory next to measurement")]
    norms = e.gradient_norms
    for stated in (f"‖∂L/∂h_1‖ = {norms[0]:.3f}", f"‖∂L/∂h_3‖ = {norms[2]:.3f}", f"η = {e.lr:g}",
                   f"from {e.loss:.4f} to {e.loss_after:.4f}", "below 1e-15"):
        assert stated in section, stated
    assert e.max_difference < 1e-15

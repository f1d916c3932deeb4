"""The Jacobian chain predicts the measured profile exactly; Pascanu et al.'s bound lies above it."""

import numpy as np
import pytest
import torch

from models import RunConfig, build_model
from models.theory import predict, probe_batch

CASES = [
    ("rnn", "tanh", "default", 1.0),  # vanishes
    ("rnn", "relu", "orthogonal", 1.3),  # explodes
    ("rnn", "leaky_relu", "identity", 1.0),
    ("residual", "tanh", "default", 1.0),
    ("residual", "relu", "xavier", 0.8),
]


def _theory(model: str, activation: str, init: str, gain: float, seq_len: int = 25):
    config = RunConfig(model=model, activation=activation, init=init, recurrent_gain=gain, seq_len=seq_len,
                       hidden_size=8, batch_size=6, negative_slope=0.2, seed=4)
    x, y, loss = probe_batch(config)
    return predict(build_model(config, x.shape[-1]), x, y, loss)


@pytest.mark.parametrize(("model", "activation", "init", "gain"), CASES)
def test_exact_chain_equals_measured_profile(model, activation, init, gain):
    theory = _theory(model, activation, init, gain)
    np.testing.assert_allclose(theory.exact, theory.measured, rtol=1e-6, atol=0)
    assert theory.exact.dtype == np.float64 and np.count_nonzero(theory.exact) >= 20


@pytest.mark.parametrize(("model", "activation", "init", "gain"), CASES)
def test_bound_lies_above_exact_everywhere(model, activation, init, gain):
    theory = _theory(model, activation, init, gain)
    assert np.all(theory.bound >= theory.exact * (1 - 1e-12))
    assert theory.bound[-1] == pytest.approx(theory.exact[-1], rel=1e-12)  # t = T: nothing to bound yet


def test_bound_base_is_gamma_sigma_and_one_more_for_residual():
    plain, residual = _theory("rnn", "leaky_relu", "identity", 1.0), _theory("residual", "leaky_relu", "identity", 1.0)
    assert plain.gamma == 1.0 and plain.sigma_max == pytest.approx(1.0)  # W_h = I
    assert plain.base == pytest.approx(1.0) and residual.base == pytest.approx(2.0)


def test_vanishing_case_shows_how_loose_the_bound_is():
    theory = _theory("rnn", "tanh", "default", 1.0)
    assert theory.exact[0] / theory.exact[-1] < 1e-3  # vanishes
    assert theory.bound[0] > 10 * theory.exact[0]  # tanh' < 1 mostly, so the bound is far from tight


def test_probe_batch_leaves_a_trainer_stream_alone():
    config = RunConfig(seq_len=5, batch_size=3)
    first, second = probe_batch(config), probe_batch(config)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_lstm_is_refused():
    config = RunConfig(model="lstm", seq_len=5, hidden_size=3, batch_size=2)
    x, y, loss = probe_batch(config)
    with pytest.raises(ValueError, match="rnn and residual"):
        predict(build_model(config, x.shape[-1]), x, y, loss)

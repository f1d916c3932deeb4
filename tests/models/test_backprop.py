"""The engine's per-timestep profile and gradients equal independent autograd, in float64."""

import numpy as np
import pytest
import torch

from models import RunConfig, backprop, build_model, gradient_profile, make_task
from tests.models.reference import unrolled

MODELS = ["rnn", "lstm", "residual"]
ACTIVATIONS = ["tanh", "relu", "leaky_relu"]
RTOL = 1e-6


def _case(model: str, activation: str, task: str = "first_token", seq_len: int = 9, init: str = "default"):
    config = RunConfig(model=model, activation=activation, task=task, seq_len=seq_len, hidden_size=6,
                       batch_size=5, negative_slope=0.2, init=init, recurrent_gain=1.3, seed=3)
    task_ = make_task(config)
    net = build_model(config, task_.input_size).double()
    x, y = task_.sample(config.batch_size)
    return config, task_, net, x, y


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("model", MODELS)
def test_profile_matches_unrolled_autograd(model, activation):
    config, task, net, x, y = _case(model, activation)
    ref = unrolled(net.state_dict(), x, y, kind=model, activation=activation, slope=config.negative_slope)
    profile = gradient_profile(net, x, y, task.loss)
    assert profile.loss == pytest.approx(ref["loss"], rel=1e-12)
    _close(profile.hidden, ref["hidden"])
    _close(profile.weight_terms[1:], ref["weight_terms"][1:])
    assert profile.weight_terms[0] == ref["weight_terms"][0] == 0  # h_{-1} is the zero state
    if model == "lstm":
        _close(profile.cell, ref["cell"])
    else:
        assert profile.cell is None
    assert np.count_nonzero(profile.hidden) >= 5  # the comparison was not of zeros (dead ReLUs give a few)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("model", MODELS)
def test_parameter_gradients_match_unrolled_autograd(model, activation):
    config, task, net, x, y = _case(model, activation)
    ref = unrolled(net.state_dict(), x, y, kind=model, activation=activation, slope=config.negative_slope)
    grads = backprop(net, x, y, task.loss).grads
    assert grads.keys() == ref["grads"].keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref["grads"][name], rtol=RTOL, atol=1e-12, msg=name)


@pytest.mark.parametrize("model", MODELS)
def test_regression_loss_matches(model):
    _, task, net, x, y = _case(model, "tanh", task="adding", seq_len=12)
    assert task.loss == "mse"
    ref = unrolled(net.state_dict(), x, y, kind=model, activation="tanh", loss="mse")
    profile = gradient_profile(net, x, y, "mse")
    _close(profile.hidden, ref["hidden"])
    _close(profile.weight_terms[1:], ref["weight_terms"][1:])


@pytest.mark.parametrize("model", MODELS)
def test_weight_terms_sum_to_recurrent_gradient(model):
    """The source's 'sum over timesteps': Σ_t δ_tᵀ h_{t-1} is exactly ∂L/∂W_h."""
    _, task, net, x, y = _case(model, "tanh")
    grads = backprop(net, x, y, task.loss).grads
    ref = unrolled(net.state_dict(), x, y, kind=model, activation="tanh")
    torch.testing.assert_close(grads["rnn.weight_hh_l0"], ref["grads"]["rnn.weight_hh_l0"], rtol=RTOL, atol=1e-12)


def test_profile_leaves_model_untouched():
    _, task, net, x, y = _case("lstm", "tanh")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    gradient_profile(net, x, y, task.loss)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_float32_matches_float64_closely():
    """The float32 route that the dashboard trains with agrees with float64 to float32 precision."""
    config = RunConfig(task="first_token", seq_len=15, hidden_size=16, batch_size=8, seed=1)
    task = make_task(config)
    net = build_model(config, task.input_size)
    x, y = task.sample(8)
    single = gradient_profile(net, x, y)
    double = gradient_profile(net.double(), x, y)
    np.testing.assert_allclose(single.hidden, double.hidden, rtol=1e-4)


def test_unknown_loss_is_rejected():
    _, _, net, x, y = _case("rnn", "tanh")
    with pytest.raises(ValueError, match="bce, mse"):
        gradient_profile(net, x, y, "hinge")

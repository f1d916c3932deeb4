"""The sigmoid hidden activation: exact profile and gradients against the independent reference, its slope ≤ 1/4,
its initializer gain, and every model × activation pair trains a step."""

import itertools

import numpy as np
import pytest
import torch

from models import CHOICES, RunConfig, Trainer, backprop, build_model, gradient_profile, make_task
from models.cells import ACTIVATIONS, DERIVATIVES, DERIVATIVES_FROM_OUTPUT, MAX_SLOPE
from models.theory import predict, probe_batch
from tests.models.reference import unrolled

RTOL = 1e-6


def _case(model: str, task: str = "first_token"):
    config = RunConfig(model=model, activation="sigmoid", task=task, seq_len=9, hidden_size=6, batch_size=5,
                       init="orthogonal", recurrent_gain=1.3, seed=3)
    task_ = make_task(config)
    net = build_model(config, task_.input_size).double()
    x, y = task_.sample(config.batch_size)
    return task_, net, x, y


@pytest.mark.parametrize("model", CHOICES["model"])
@pytest.mark.parametrize("task", ["first_token", "adding"])
def test_profile_and_gradients_match_unrolled_autograd(model, task):
    task_, net, x, y = _case(model, task)
    ref = unrolled(net.state_dict(), x, y, kind=model, activation="sigmoid", loss=task_.loss)
    result = backprop(net, x, y, task_.loss)
    assert result.profile.loss == pytest.approx(ref["loss"], rel=1e-12)
    np.testing.assert_allclose(result.profile.hidden, ref["hidden"], rtol=RTOL, atol=0)
    np.testing.assert_allclose(result.profile.weight_terms[1:], ref["weight_terms"][1:], rtol=RTOL, atol=0)
    if model == "lstm":
        np.testing.assert_allclose(result.profile.cell, ref["cell"], rtol=RTOL, atol=0)
    for name, grad in result.grads.items():
        torch.testing.assert_close(grad, ref["grads"][name], rtol=RTOL, atol=1e-12, msg=name)
    assert np.count_nonzero(result.profile.hidden) == x.shape[1]  # σ' > 0 everywhere: no exact zeros


def test_slope_formulas_agree_with_autograd_and_peak_at_a_quarter():
    a = torch.linspace(-8, 8, 801, dtype=torch.float64, requires_grad=True)
    y = ACTIVATIONS["sigmoid"](a, 0.0)
    (autograd_slope,) = torch.autograd.grad(y.sum(), a)
    torch.testing.assert_close(DERIVATIVES["sigmoid"](a.detach(), 0.0), autograd_slope, rtol=0, atol=1e-15)
    torch.testing.assert_close(DERIVATIVES_FROM_OUTPUT["sigmoid"](y.detach(), 0.0), autograd_slope, rtol=0, atol=1e-15)
    assert MAX_SLOPE["sigmoid"](0.0) == 0.25 == float(autograd_slope.max())  # at a = 0, on the grid
    out = torch.empty(801, dtype=torch.float64)
    assert ACTIVATIONS["sigmoid"](a.detach(), 0.0, out=out) is out and torch.equal(out, y.detach())


def test_exact_chain_and_bound_use_a_quarter():
    config = RunConfig(activation="sigmoid", seq_len=15, hidden_size=8, batch_size=6, seed=2)
    x, y, loss = probe_batch(config)
    theory = predict(build_model(config, x.shape[-1]), x, y, loss)
    np.testing.assert_allclose(theory.exact, theory.measured, rtol=1e-6, atol=0)
    assert theory.gamma == 0.25 and np.all(theory.bound >= theory.exact * (1 - 1e-12))


def test_kaiming_uses_sigmoid_gain_one():
    # torch.nn.init.calculate_gain: 1 for sigmoid, 5/3 for tanh, so W_h's std is gain / sqrt(H).
    H = 256
    models = {act: build_model(RunConfig(activation=act, init="kaiming", hidden_size=H), 3)
              for act in ("sigmoid", "tanh")}
    stds = {act: float(model.rnn.weight_hh_l0.detach().std()) for act, model in models.items()}
    assert stds["sigmoid"] == pytest.approx(1 / np.sqrt(H), rel=0.02)
    assert stds["tanh"] == pytest.approx(5 / 3 / np.sqrt(H), rel=0.02)


@pytest.mark.parametrize(("model", "activation"), list(itertools.product(CHOICES["model"], CHOICES["activation"])))
def test_every_model_and_activation_trains_a_step(model, activation):
    record = Trainer(RunConfig(model=model, activation=activation, seq_len=6, hidden_size=4, batch_size=3,
                               steps=2)).step()
    assert not record.diverged and np.isfinite(record.hidden).all() and record.hidden.shape == (6,)


def test_sigmoid_profile_in_float32_matches_float64():
    config = RunConfig(activation="sigmoid", seq_len=12, hidden_size=8, batch_size=4, seed=1)
    task = make_task(config)
    net = build_model(config, task.input_size)
    x, y = task.sample(4)
    np.testing.assert_allclose(gradient_profile(net, x, y).hidden, gradient_profile(net.double(), x, y).hidden,
                               rtol=1e-4)

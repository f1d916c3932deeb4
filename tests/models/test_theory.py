"""The Jacobian chain predicts the measured profile exactly; Pascanu et al.'s bound lies above it; the split of
the decay into f′ and W_h adds up, and agrees with an independent autograd computation."""

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models import RunConfig, build_model
from models.lessons import LESSONS
from models.theory import predict, probe_batch, split, split_at_init
from models.trainer import spectral_radius

LESSONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "lessons.md"

CASES = [
    ("rnn", "tanh", "default", 1.0),  # vanishes
    ("rnn", "relu", "orthogonal", 1.3),  # explodes
    ("rnn", "leaky_relu", "identity", 1.0),
    ("residual", "tanh", "default", 1.0),
    ("residual", "relu", "xavier", 0.8),
]


def _model_and_batch(model: str, activation: str, init: str, gain: float, seq_len: int = 25):
    config = RunConfig(model=model, activation=activation, init=init, recurrent_gain=gain, seq_len=seq_len,
                       hidden_size=8, batch_size=6, negative_slope=0.2, seed=4)
    x, y, loss = probe_batch(config)
    return build_model(config, x.shape[-1]), x, y, loss


def _theory(model: str, activation: str, init: str, gain: float):
    return predict(*_model_and_batch(model, activation, init, gain))


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


SPLIT_CASES = [
    ("rnn", "tanh", "default", 1.0),
    ("rnn", "sigmoid", "xavier", 1.0),
    ("rnn", "leaky_relu", "orthogonal", 1.2),
    ("residual", "tanh", "default", 1.0),
    ("residual", "sigmoid", "orthogonal", 0.9),
]


def _autograd_gradients(net, x, y, loss):
    """Independent: unroll the textbook recurrence in float64 and keep ∂L/∂h_t and ∂L/∂a_t (each (B, H)) for every t."""
    p = {k: v.detach().double().requires_grad_() for k, v in net.state_dict().items()}
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "leaky_relu": lambda a: F.leaky_relu(a, 0.2)}[
        net.rnn.activation]
    x, y = x.double(), y.double()
    h = torch.zeros(x.shape[0], p["rnn.weight_hh_l0"].shape[0], dtype=torch.float64)
    hs, pre = [], []
    for t in range(x.shape[1]):
        a = x[:, t] @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + h @ p["rnn.weight_hh_l0"].T + p["rnn.bias_hh_l0"]
        a.retain_grad()
        h = act(a) + (h if net.rnn.residual else 0)
        h.retain_grad()
        hs.append(h), pre.append(a)
    z = (h @ p["head.weight"].T + p["head.bias"]).squeeze(1)
    value = F.binary_cross_entropy_with_logits(z, y) if loss == "bce" else ((z - y) ** 2).mean()
    value.backward()
    return [s.grad for s in hs], [a.grad for a in pre], p["rnn.weight_hh_l0"].detach()


@pytest.mark.parametrize(("model", "activation", "init", "gain"), SPLIT_CASES)
def test_split_parts_add_up_to_the_whole_decay(model, activation, init, gain):
    parts = split(*_model_and_batch(model, activation, init, gain))
    total = parts.slope.sum() + parts.weights.sum() + parts.skip.sum()
    assert total == pytest.approx(parts.log_ratio, abs=1e-9)
    assert parts.log_ratio == pytest.approx(np.log10(parts.exact[0] / parts.exact[-1]), abs=1e-12)
    assert list(parts.t) == list(range(2, 26)) and len(parts.exact) == len(parts.weights_only) == 25
    assert np.all(parts.slope <= 1e-12)  # |f′| ≤ 1 for these activations: the slope never adds decades
    assert np.all(parts.skip == 0) if model == "rnn" else np.any(parts.skip != 0)


@pytest.mark.parametrize(("model", "activation", "init", "gain"), SPLIT_CASES)
def test_split_matches_independent_autograd(model, activation, init, gain):
    net, x, y, loss = _model_and_batch(model, activation, init, gain)
    parts = split(net, x, y, loss)
    grad_h, delta, w_hh = _autograd_gradients(net, x, y, loss)
    norm = lambda v: float(torch.linalg.vector_norm(v))  # noqa: E731
    # 1e-7: the engine's leaky_relu slope 0.2 passes through float32 (DERIVATIVES builds it with torch.where).
    tol = 1e-7
    for i, t in enumerate(parts.t):  # step t: from ∂L/∂h_t back to ∂L/∂h_{t−1}; δ_t = ∂L/∂h_t ⊙ f′(a_t)
        g, d, g_prev = grad_h[t - 1], delta[t - 1], grad_h[t - 2]
        assert parts.slope[i] == pytest.approx(np.log10(norm(d) / norm(g)), abs=tol)
        assert parts.weights[i] == pytest.approx(np.log10(norm(d @ w_hh) / norm(d)), abs=tol)
        assert parts.skip[i] == pytest.approx(np.log10(norm(g_prev) / norm(d @ w_hh)), abs=tol)
    np.testing.assert_allclose(parts.exact, [norm(g) for g in grad_h], rtol=tol)


def test_weights_only_is_the_matrix_power():
    net, x, y, loss = _model_and_batch("rnn", "tanh", "default", 1.0)
    parts = split(net, x, y, loss)
    grad_h, _, w_hh = _autograd_gradients(net, x, y, loss)
    w, g_last = w_hh.numpy(), grad_h[-1].numpy()  # (H, H), (B, H) ∂L/∂h_T
    expected = [np.linalg.norm(g_last @ np.linalg.matrix_power(w, 25 - t)) for t in range(1, 26)]
    np.testing.assert_allclose(parts.weights_only, expected, rtol=1e-10)


def test_identity_and_orthogonal_weights_remove_no_decades():
    identity = split(*_model_and_batch("rnn", "leaky_relu", "identity", 1.0))
    assert np.all(identity.weights == 0)
    scaled = split(*_model_and_batch("rnn", "tanh", "orthogonal", 2.0))
    # Every step multiplies the norm by 2, up to the float32 orthogonality of the initialized matrix.
    np.testing.assert_allclose(scaled.weights, np.log10(2.0), rtol=0, atol=1e-6)


def test_split_refuses_the_lstm():
    with pytest.raises(ValueError, match="rnn and residual"):
        split_at_init(RunConfig(model="lstm", seq_len=5, hidden_size=3, batch_size=2))


def test_readme_states_lesson_2s_split():
    """Every number docs/lessons.md's 'Theory next to measurement' gives for lesson 2 at initialization, recomputed."""
    config = LESSONS["vanishing"].config
    parts = split_at_init(config)
    x, y, loss = probe_batch(config, 64)
    net = build_model(config, x.shape[-1])
    theory = predict(net, x, y, loss)
    rho, T = spectral_radius(net), config.seq_len
    text = LESSONS_DOC.read_text()
    section = text[text.index("### Theory next to measurement"):text.index("### Screenshots")]
    decades = parts.decades()
    stated = [f"{parts.exact[0] / parts.exact[-1]:.3g}", f"{-parts.log_ratio:.2f} decades",
              f"W_h removes {-decades['weights']:.2f}", f"tanh′ only {-decades['slope']:.2f}",
              f"{parts.weights_only[0] / parts.weights_only[-1]:.3g}", f"σ_max(W_h) = {theory.sigma_max:.3f}",
              f"(γσ_max)^{{T−1}} = {theory.bound[0] / theory.exact[-1]:.3f}", f"ρ(W_h) = {rho:.3f}",
              f"{rho:.3f}⁴⁹ = {rho ** (T - 1):.2g}"]
    missing = [s for s in stated if s not in section]
    assert not missing, missing
    assert decades["weights"] < decades["slope"] < 0 and theory.gamma == 1.0

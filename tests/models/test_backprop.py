"""The engine's per-timestep profile and gradients equal an independent unrolled autograd.

float64: every quantity to 1e-6 relative, element by element, for every model × activation,
on short and long (T = 60) sequences and under default (gain 1.3), identity, orthogonal and
orthogonal gain > 1 inits. float32 (what the app trains with): the same grid against the
float64 reference of the same weights, to a tolerance derived from float32's precision.
"""

import threading

import numpy as np
import pytest
import torch

from models import RunConfig, backprop, build_model, gradient_profile, make_task
from models.backprop import _workspace, free_scratch
from tests.models.reference import ACT, unrolled

MODELS = ["rnn", "lstm", "residual", "gru"]
ACTIVATIONS = list(ACT)
INITS = [("default", 1.3), ("identity", 1.0), ("orthogonal", 1.0), ("orthogonal", 1.6)]  # (init, recurrent_gain)
RTOL = 1e-6
HIDDEN, LONG = 8, 60
# float32 keeps 24 bits: unit roundoff u = 2^-24 ≈ 6e-8. A gradient at step t passes through
# up to T steps forward and back, each a length-H dot product adding at most ~H·u relative
# error (Higham's γ_H); to first order these add up to T·H·u (2.9e-5 at T = 60, H = 8). The
# factor 10 covers what float32 cannot do better: f′ = 1 - tanh² read from a saturated unit
# loses digits, and tanh at gain > 1 is chaotic, so its forward pass amplifies rounding.
# Measured worst case on this grid: 1.7e-5 (tanh RNN, orthogonal gain 1.6). Normwise, over
# each profile vector and gradient, because individual entries that float32 resolves as 0
# (saturated tanh: f′ < 6e-8) are exactly the ones float64 does not; the float64 tests check
# every entry.
RTOL32 = 10 * LONG * HIDDEN * 2.0**-24


def _case(model: str, activation: str, seq_len: int = 9, init: str = "default", gain: float = 1.3,
          task: str = "first_token", dtype: torch.dtype = torch.float64, seed: int = 3):
    config = RunConfig(model=model, activation=activation, task=task, seq_len=seq_len, hidden_size=HIDDEN,
                       batch_size=5, negative_slope=0.2, init=init, recurrent_gain=gain, seed=seed)
    task_ = make_task(config)
    net = build_model(config, task_.input_size).to(dtype)
    x, y = task_.sample(config.batch_size)
    ref = unrolled(net.state_dict(), x, y, kind=model, activation=activation, slope=0.2, loss=task_.loss)
    return net, x, y, task_.loss, ref


def _close(actual, expected):
    # Plus an absolute floor 1e-12 of the vector's largest entry: a saturated unit's slope
    # (sigmoid′ = s(1 − s), tanh′ = 1 − t² with s, t near 1) is known only to eps/(1 − s)
    # relative, so entries ten decades below the peak (residual sigmoid, T = 60: 1e-11 against
    # 0.3) carry absolute error ~eps × peak in any float64 computation, the reference's too.
    expected = np.asarray(expected)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-12 * np.abs(expected).max())


def _close32(actual, expected, name):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    error = np.linalg.norm(actual - expected) / np.linalg.norm(expected)
    assert error <= RTOL32, f"{name}: normwise relative error {error:.2e} > {RTOL32:.2e}"


def _check_profile(result, ref, model, close):
    profile = result.profile
    close(profile.hidden, ref["hidden"])
    close(profile.weight_terms[1:], ref["weight_terms"][1:])
    assert profile.weight_terms[0] == ref["weight_terms"][0] == 0  # h_{-1} is the zero state
    if model == "lstm":
        close(profile.cell, ref["cell"])
    else:
        assert profile.cell is None
    if model in ("lstm", "gru"):
        close(profile.gates, ref["gates"])
    else:
        assert profile.gates is None
    # The comparison was not of zeros (dead ReLUs give a few).
    assert np.count_nonzero(profile.hidden) >= min(5, len(profile.hidden))


@pytest.mark.parametrize(("seq_len", "init", "gain"), [(9, "default", 1.3)] + [(LONG, *init) for init in INITS])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("model", MODELS)
def test_profile_and_gradients_match_unrolled_autograd(model, activation, seq_len, init, gain):
    net, x, y, loss, ref = _case(model, activation, seq_len, init, gain)
    result = backprop(net, x, y, loss)
    assert result.profile.loss == pytest.approx(ref["loss"], rel=1e-12)
    _check_profile(result, ref, model, _close)
    assert result.grads.keys() == ref["grads"].keys()
    for name, grad in result.grads.items():
        torch.testing.assert_close(grad, ref["grads"][name], rtol=RTOL, atol=1e-12, msg=name)


@pytest.mark.parametrize(("init", "gain"), INITS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("model", MODELS)
def test_float32_matches_float64_reference(model, activation, init, gain):
    """The float32 path the app trains with, against the exact result for the same weights."""
    net, x, y, loss, ref = _case(model, activation, LONG, init, gain, dtype=torch.float32)
    result = backprop(net, x, y, loss)
    assert all(g.dtype == torch.float32 for g in result.grads.values())
    _check_profile(result, ref, model, lambda a, e: _close32(a, e, "profile"))
    for name, grad in result.grads.items():
        _close32(grad, ref["grads"][name], name)


@pytest.mark.parametrize("model", MODELS)
def test_regression_loss_matches(model):
    net, x, y, loss, ref = _case(model, "tanh", seq_len=12, task="adding")
    assert loss == "mse"
    _check_profile(backprop(net, x, y, loss), ref, model, _close)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("model", MODELS)
def test_weight_terms_sum_to_recurrent_gradient(model, activation):
    """The source's 'sum over timesteps': Σ_t δ_tᵀ h_{t-1} is ∂L/∂W_h, term by term.

    The reference forms each term matrix from its own δ_t = ∂L/∂a_t and h_{t-1}; their sum
    must be autograd's ∂L/∂W_h and the engine's, and the engine's profile their norms.
    """
    net, x, y, loss, ref = _case(model, activation, LONG, "orthogonal", 1.0)
    terms = ref["term_matrices"]  # (T, K, H)
    assert terms.shape == (LONG, net.rnn.weight_hh_l0.shape[0], HIDDEN)
    torch.testing.assert_close(terms.sum(0), ref["grads"]["rnn.weight_hh_l0"], rtol=1e-12, atol=1e-15)
    result = backprop(net, x, y, loss)
    torch.testing.assert_close(result.grads["rnn.weight_hh_l0"], terms.sum(0), rtol=RTOL, atol=1e-12)
    _close(result.profile.weight_terms[1:], torch.linalg.matrix_norm(terms[1:]).numpy())
    # The terms differ from step to step (not one matrix T times): the profile has a shape.
    assert np.ptp(result.profile.weight_terms[1:]) > 0.1 * result.profile.weight_terms.max()


@pytest.mark.parametrize("scale", [1e-25, 1e25])
@pytest.mark.parametrize("model", MODELS)
def test_float32_profile_keeps_extreme_sizes(model, scale):
    """A vanishing gradient reads as tiny, not 0, and an exploding one as huge, not inf.

    Scaling the readout scales every ∂L/∂h_t: entries ~1e-26 or ~1e24, whose float32
    squares underflow to 0 or overflow to inf.
    """
    net, x, y, loss, _ = _case(model, "tanh", LONG, dtype=torch.float32)
    with torch.no_grad():
        net.head.weight.mul_(scale)
    ref = unrolled(net.state_dict(), x, y, kind=model, activation="tanh", loss=loss)
    profile = gradient_profile(net, x, y, loss)
    assert ref["hidden"].max() < 1e-24 if scale < 1 else ref["hidden"].max() > 1e20
    _close32(profile.hidden, ref["hidden"], "hidden")
    _close32(profile.weight_terms, ref["weight_terms"], "weight_terms")
    if model == "lstm":
        _close32(profile.cell, ref["cell"], "cell")


def test_lstm_gates_are_the_forward_pass_gates():
    """Mean forget / input / output gate per timestep, against the reference's own sigmoids."""
    net, x, y, loss, ref = _case("lstm", "tanh", LONG, "default", 1.0)
    with torch.no_grad():
        net.rnn.bias_ih_l0[8:16] = 3.0  # a forget bias: the three gates must not be confused
    ref = unrolled(net.state_dict(), x, y, kind="lstm", activation="tanh", loss=loss)
    gates = gradient_profile(net, x, y, loss).gates
    assert gates.shape == (3, LONG)
    _close(gates, ref["gates"])
    assert gates[0].mean() > 0.9 > gates[1].max()  # forget first, as documented


def test_gru_gates_are_the_forward_pass_gates():
    """Mean update z and reset r gate per timestep, against the reference's own sigmoids."""
    net, x, y, loss, _ = _case("gru", "tanh", LONG, "default", 1.0)
    with torch.no_grad():
        net.rnn.bias_ih_l0[8:16] = 3.0  # an update bias (z is the second block, r, z, n): r and z must not be confused
    ref = unrolled(net.state_dict(), x, y, kind="gru", activation="tanh", loss=loss)
    gates = gradient_profile(net, x, y, loss).gates
    assert gates.shape == (2, LONG)
    _close(gates, ref["gates"])
    assert gates[0].mean() > 0.9 > gates[1].max()  # update first, as documented


def test_profile_leaves_model_untouched():
    net, x, y, loss, _ = _case("lstm", "tanh")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    gradient_profile(net, x, y, loss)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


@pytest.mark.parametrize("model", MODELS)
def test_scratch_buffers_are_reused_safely(model):
    """Results never alias the reused buffers, and a change of size or dtype reallocates them."""
    cases = [_case(model, "tanh", seq_len=T, dtype=dtype) for T, dtype in
             [(9, torch.float64), (14, torch.float64), (9, torch.float32), (9, torch.float64)]]
    first = backprop(*cases[0][:4])
    kept = {k: v.clone() for k, v in first.grads.items()}
    for net, x, y, loss, ref in cases[1:]:
        result = backprop(net, x, y, loss)
        close = _close if net.head.weight.dtype == torch.float64 else lambda a, e: _close32(a, e, "profile")
        _check_profile(result, ref, model, close)
    assert all(torch.equal(first.grads[k], v) for k, v in kept.items())
    assert first.logits.shape == (5,) and torch.isfinite(first.loss)
    free_scratch()
    assert not _workspace.buffers  # the memory is given back...
    net, x, y, loss, ref = cases[0]
    _check_profile(backprop(net, x, y, loss), ref, model, _close)  # ...and the next pass allocates anew


def test_threads_do_not_share_scratch_buffers():
    """Runs train in parallel on a shared server: two threads at once, each still exact."""
    cases = [_case(model, "tanh", LONG) for model in ("rnn", "lstm", "gru")]
    failures = []

    def work(net, x, y, loss, ref):
        try:
            for _ in range(20):
                np.testing.assert_allclose(backprop(net, x, y, loss).profile.hidden, ref["hidden"], rtol=RTOL)
        except AssertionError as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=case) for case in cases * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures


def test_shortest_sequence():
    """seq_len = 2: the first step's only later step is the last one."""
    for model in MODELS:
        net, x, y, loss, ref = _case(model, "tanh", seq_len=2)
        _check_profile(backprop(net, x, y, loss), ref, model, _close)


def test_unknown_loss_is_rejected():
    net, x, y, _, _ = _case("rnn", "tanh")
    with pytest.raises(ValueError, match="bce, mse"):
        gradient_profile(net, x, y, "hinge")


# Truncated BPTT: T = 9, so 1 keeps only the last step, 4 cuts mid-sequence, 9 (= T) and 15 are full.
WINDOWS = [1, 4, 9, 15]


def _truncated_case(model: str, window: int, activation: str = "tanh", seq_len: int = 9):
    net, x, y, loss, _ = _case(model, activation, seq_len)
    ref = unrolled(net.state_dict(), x, y, kind=model, activation=activation, slope=0.2, loss=loss, window=window)
    return net, x, y, loss, ref


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("model", MODELS)
def test_truncated_bptt_matches_detached_state_autograd(model, activation, window):
    """Profile and every gradient equal autograd with the state detached `window` steps back (float64)."""
    net, x, y, loss, ref = _truncated_case(model, window, activation)
    result = backprop(net, x, y, loss, window)
    _close(result.profile.hidden, ref["hidden"])
    _close(result.profile.weight_terms, ref["weight_terms"])
    if model == "lstm":
        _close(result.profile.cell, ref["cell"])
    for name, grad in result.grads.items():
        torch.testing.assert_close(grad, ref["grads"][name], rtol=RTOL, atol=1e-12, msg=name)
    # The reference really was cut (a window under T differs from full BPTT), or really was full.
    full = backprop(net, x, y, loss).grads["rnn.weight_hh_l0"]
    assert torch.equal(full, result.grads["rnn.weight_hh_l0"]) == (window >= 9)


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("model", MODELS)
def test_truncated_steps_are_marked_and_exactly_zero(model, window):
    """profile.truncated marks t < T - window (none for a window ≥ T); their norms are exactly 0, the rest not.
    A full pass of the same shapes runs first, so stale scratch buffers cannot pass for zeros."""
    for dtype in (torch.float64, torch.float32):
        net, x, y, loss, _ = _case(model, "tanh", seq_len=9, dtype=dtype)
        assert not backprop(net, x, y, loss).profile.truncated.any()
        profile = gradient_profile(net, x, y, loss, window)
        expected = np.arange(9) < 9 - window
        assert profile.truncated.dtype == bool
        np.testing.assert_array_equal(profile.truncated, expected)
        norms = [profile.hidden, profile.weight_terms] + ([profile.cell] if model == "lstm" else [])
        for values in norms:
            assert (values[expected] == 0).all()
        assert (profile.hidden[~expected] > 0).all()


def test_negative_window_is_rejected():
    net, x, y, loss, _ = _case("rnn", "tanh")
    with pytest.raises(ValueError, match="window"):
        backprop(net, x, y, loss, -1)

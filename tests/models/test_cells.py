import pytest
import torch

from models import RunConfig, build_model
from models.trainer import recurrent_matrix


def _batch(d: int = 5, t: int = 7, b: int = 4) -> torch.Tensor:
    return torch.randn(b, t, d, generator=torch.Generator().manual_seed(0))


def _recurrent_state(model) -> dict:
    return {k.removeprefix("rnn."): v for k, v in model.state_dict().items() if k.startswith("rnn.")}


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_torch_rnn_loads_our_weights_and_agrees(activation):
    model = build_model(RunConfig(model="rnn", activation=activation, hidden_size=6), input_size=5)
    reference = torch.nn.RNN(5, 6, nonlinearity=activation, batch_first=True)
    reference.load_state_dict(_recurrent_state(model))
    x = _batch()
    torch.testing.assert_close(model.rnn(x), reference(x)[0])
    torch.testing.assert_close(model(x), model.head(reference(x)[0][:, -1]).squeeze(-1))


def test_torch_lstm_loads_our_weights_and_agrees():
    model = build_model(RunConfig(model="lstm", hidden_size=6, forget_bias=2.0), input_size=5)
    reference = torch.nn.LSTM(5, 6, batch_first=True)
    reference.load_state_dict(_recurrent_state(model))
    x = _batch()
    torch.testing.assert_close(model.rnn(x), reference(x)[0])


def test_torch_gru_loads_our_weights_and_agrees():
    """torch.nn.GRU's gate order r, z, n and b_hn inside r ⊙ (…): any other layout gives other states."""
    model = build_model(RunConfig(model="gru", hidden_size=6), input_size=5)
    reference = torch.nn.GRU(5, 6, batch_first=True)
    reference.load_state_dict(_recurrent_state(model))
    x = _batch()
    torch.testing.assert_close(model.rnn(x), reference(x)[0])


def test_state_dict_uses_pytorch_names():
    names = set(build_model(RunConfig(model="lstm", hidden_size=3), 2).state_dict())
    assert names == {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                     "head.weight", "head.bias"}


@pytest.mark.parametrize("model", ["rnn", "lstm", "residual", "gru"])
def test_float64_and_output_shape(model):
    net = build_model(RunConfig(model=model, hidden_size=4), 5).double()
    out = net(_batch().double())
    assert out.shape == (4,) and out.dtype == torch.float64


def test_leaky_relu_differs_from_relu():
    x = _batch()
    relu = build_model(RunConfig(activation="relu", hidden_size=6), 5)
    leaky = build_model(RunConfig(activation="leaky_relu", negative_slope=0.3, hidden_size=6), 5)
    assert not torch.allclose(relu.rnn(x), leaky.rnn(x))


def test_residual_adds_the_previous_state():
    net = build_model(RunConfig(model="residual", hidden_size=6), 5)
    x = _batch()
    h = net.rnn(x)
    proj = net.rnn.input_projection(x)
    expected_h1 = h[:, 0] + torch.tanh(proj[:, 1] + h[:, 0] @ net.rnn.weight_hh_l0.T)
    torch.testing.assert_close(h[:, 1], expected_h1)


def test_same_seed_same_weights_other_seed_other_weights():
    a, b = (build_model(RunConfig(seed=4), 3) for _ in range(2))
    c = build_model(RunConfig(seed=5), 3)
    assert torch.equal(a.rnn.weight_hh_l0, b.rnn.weight_hh_l0)
    assert not torch.equal(a.rnn.weight_hh_l0, c.rnn.weight_hh_l0)


def test_build_model_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    build_model(RunConfig(), 3)
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_identity_init_with_gain(model):
    net = build_model(RunConfig(model=model, init="identity", recurrent_gain=1.5, hidden_size=5), 3)
    torch.testing.assert_close(recurrent_matrix(net), 1.5 * torch.eye(5))
    assert torch.all(net.rnn.weight_ih_l0.abs() < 0.01)


def test_orthogonal_init_has_unit_singular_values():
    net = build_model(RunConfig(init="orthogonal", hidden_size=16), 3)
    s = torch.linalg.svdvals(net.rnn.weight_hh_l0)
    torch.testing.assert_close(s, torch.ones(16), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("init", ["xavier", "kaiming", "normal"])
def test_named_inits_change_the_weights_and_zero_biases(init):
    default = build_model(RunConfig(hidden_size=16), 3)
    net = build_model(RunConfig(init=init, hidden_size=16, init_std=0.5), 3)
    assert not torch.allclose(default.rnn.weight_hh_l0, net.rnn.weight_hh_l0)
    assert torch.all(net.rnn.bias_ih_l0 == 0) and torch.all(net.rnn.bias_hh_l0 == 0)


def test_normal_init_uses_init_std():
    net = build_model(RunConfig(init="normal", init_std=0.5, hidden_size=128), 3)
    assert net.rnn.weight_hh_l0.std().item() == pytest.approx(0.5, rel=0.05)


def test_recurrent_gain_scales_w_h():
    base = build_model(RunConfig(hidden_size=8), 3)
    scaled = build_model(RunConfig(hidden_size=8, recurrent_gain=2.0), 3)
    torch.testing.assert_close(scaled.rnn.weight_hh_l0, 2 * base.rnn.weight_hh_l0)


def test_lstm_forget_bias():
    net = build_model(RunConfig(model="lstm", forget_bias=5.0, hidden_size=4), 3)
    total = net.rnn.bias_ih_l0 + net.rnn.bias_hh_l0
    assert torch.all(total[4:8] == 5.0)


def test_gru_update_bias_sets_z_alone_and_z_starts_at_its_sigmoid():
    """torch.nn.GRU's rows are (r, z, n): the bias lands on z only, and with zero weights z = σ(update_bias)."""
    net = build_model(RunConfig(model="gru", update_bias=3.0, hidden_size=4), 3)
    total = net.rnn.bias_ih_l0 + net.rnn.bias_hh_l0
    assert torch.all(total[4:8] == 3.0) and not torch.any(total[:4] == 3.0) and not torch.any(total[8:] == 3.0)
    with torch.no_grad():
        net.rnn.weight_ih_l0.zero_(), net.rnn.weight_hh_l0.zero_()
        _, z, _ = net.rnn.step(net.rnn.input_projection(torch.zeros(1, 1, 3))[:, 0], torch.zeros(1, 4))
    torch.testing.assert_close(z, torch.full((1, 4), torch.sigmoid(torch.tensor(3.0)).item()))
    default = build_model(RunConfig(model="gru", hidden_size=4), 3).rnn
    assert torch.all((default.bias_ih_l0 + default.bias_hh_l0)[4:8] == 0.0)  # RunConfig's default update_bias

"""Theory overlay, decay split, activation slopes and LSTM gates charts: long-form data, log axis without log(0),
valid specs."""

import numpy as np
import pytest

from dashboard.charts import FLOOR
from dashboard.theory_charts import (
    CURVES,
    GATES,
    PARTS,
    activation_chart,
    activation_frame,
    gates_chart,
    gates_frame,
    split_chart,
    split_frame,
    theory_frame,
    theory_overlay_chart,
)
from models import CHOICES, RunConfig, Trainer, build_model
from models.cells import MAX_SLOPE
from models.theory import Theory, predict, probe_batch, split_at_init


def _theory() -> Theory:
    config = RunConfig(seq_len=12, hidden_size=6, batch_size=4)
    x, y, loss = probe_batch(config)
    return predict(build_model(config, x.shape[-1]), x, y, loss)


def test_theory_frame_is_long_form_with_every_curve():
    df = theory_frame(_theory())
    assert set(df["curve"]) == set(CURVES) and len(df) == 3 * 12
    assert {"t", "plotted", "below", "value"} <= set(df.columns)


def test_zeros_sit_below_range_and_infinities_are_dropped():
    exact = np.array([0.0, 1e-3, 1.0])
    theory = Theory(measured=exact, exact=exact, bound=np.array([np.inf, 1.0, 1.0]), gamma=1.0, sigma_max=1e300,
                    base=1e300)
    df = theory_frame(theory)
    assert len(df) == 8 and df["plotted"].min() == FLOOR and df["below"].sum() == 2
    spec = theory_overlay_chart(theory).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    assert any("tooltip" in layer.get("encoding", {}) for layer in spec["layer"]) or "tooltip" in str(spec)


def test_gates_chart_from_an_lstm_record():
    record = Trainer(RunConfig(model="lstm", forget_bias=5.0, seq_len=8, hidden_size=4, batch_size=3)).step()
    gates, cell = gates_frame(record)
    assert set(gates["gate"]) == set(GATES) and len(gates) == 3 * 8 and len(cell) == 8
    assert gates[gates["gate"] == GATES[0]]["mean"].min() > 0.9  # σ(5) ≈ 0.993: the forget gate starts open
    spec = gates_chart(record).to_dict()
    assert len(spec["hconcat"]) == 2


def test_gates_chart_refuses_an_rnn_record():
    record = Trainer(RunConfig(seq_len=4, hidden_size=3, batch_size=2)).step()
    with pytest.raises(ValueError, match="LSTM"):
        gates_frame(record)


def _decades(df, part):
    return df[df["part"] == part].set_index("t")["decades"]


def test_split_frame_parts_add_up_to_the_total_at_every_t():
    parts = split_at_init(RunConfig(seq_len=30, hidden_size=8, batch_size=16, seed=1))
    df = split_frame(parts)
    assert set(df["part"]) == set(PARTS) - {PARTS[3]}  # no skip path in a plain RNN
    total, slope, weights = (_decades(df, p) for p in PARTS[:3])
    np.testing.assert_allclose(slope + weights, total, atol=1e-9)
    assert total.loc[30] == 0 and total.loc[1] == pytest.approx(parts.log_ratio, abs=1e-12)
    assert slope.loc[1] == pytest.approx(parts.decades()["slope"], abs=1e-12)
    assert _decades(df, PARTS[4]).loc[1] == pytest.approx(np.log10(parts.weights_only[0] / parts.weights_only[-1]))


def test_split_frame_keeps_the_skip_path_and_drops_dead_steps():
    residual = split_frame(split_at_init(RunConfig(model="residual", seq_len=12, hidden_size=6, batch_size=8)))
    total, slope, weights, skip = (_decades(residual, p) for p in PARTS[:4])
    np.testing.assert_allclose(slope + weights + skip, total, atol=1e-9)
    parts = split_at_init(RunConfig(seq_len=12, hidden_size=6, batch_size=8))
    dead = parts.__class__(**{**parts.__dict__, "slope": np.r_[-np.inf, parts.slope[1:]],
                              "weights": np.r_[np.nan, parts.weights[1:]]})
    df = split_frame(dead)
    assert np.isfinite(df["decades"]).all() and 1 not in set(df[df["part"] == PARTS[1]]["t"])


def test_split_chart_spec_names_each_factor():
    parts = split_at_init(RunConfig(seq_len=10, hidden_size=6, batch_size=8))
    spec = split_chart(parts).to_dict()
    assert spec["title"].startswith("Decay split by factor: f′ ") and f"{parts.log_ratio:+.2f}" in spec["title"]
    assert "tooltip" in str(spec) and len(spec["layer"]) == 2


def test_activation_frame_uses_the_engine_slopes():
    df = activation_frame(negative_slope=0.1)
    assert set(df["activation"]) == set(CHOICES["activation"]) == {"tanh", "sigmoid", "relu", "leaky_relu"}
    for name, group in df.groupby("activation"):
        assert group["slope"].max() == pytest.approx(MAX_SLOPE[name](0.1))  # the peak is on the grid (a = 0 or > 0)
        assert (group["max_slope"] == MAX_SLOPE[name](0.1)).all()
    at = df.set_index(["activation", "a"])["slope"]
    assert at[("tanh", 0.0)] == 1 and at[("sigmoid", 0.0)] == 0.25 and at[("relu", -1.0)] == 0
    assert at[("leaky_relu", -1.0)] == pytest.approx(0.1) and at[("relu", 2.0)] == 1


def test_activation_chart_labels_each_maximum():
    spec = activation_chart(0.01).to_dict()
    labels = spec["encoding"]["color"]["sort"]
    assert labels == ["tanh (max 1)", "sigmoid (max 0.25)", "relu (max 1)", "leaky_relu (max 1)"]

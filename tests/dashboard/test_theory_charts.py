"""Theory overlay, decay split and activation slopes charts: long-form data over t = 1..T, log axis without log(0),
short titles with the numbers in the captions."""

import numpy as np
import pytest

from dashboard.charts import LOG_FORMAT, T_AXIS
from dashboard.theory_charts import (
    BELOW,
    CURVES,
    PARTS,
    activation_caption,
    activation_chart,
    activation_frame,
    overlay_caption,
    split_caption,
    split_chart,
    split_frame,
    theory_frame,
    theory_overlay_chart,
)
from models import CHOICES, RunConfig, build_model
from models.cells import MAX_SLOPE
from models.theory import Theory, predict, probe_batch, split_at_init


def _theory() -> Theory:
    config = RunConfig(seq_len=12, hidden_size=6, batch_size=4)
    x, y, loss = probe_batch(config)
    return predict(build_model(config, x.shape[-1]), x, y, loss)


def _tooltip(layer: dict) -> list[tuple]:
    """A layer's tooltip rows as (field, type, title, format)."""
    return [(row["field"], row["type"], row.get("title"), row.get("format")) for row in layer["encoding"]["tooltip"]]


def test_theory_frame_is_long_form_with_every_curve_over_t_from_one():
    theory = _theory()
    df = theory_frame(theory)
    assert set(df["curve"]) == set(CURVES) and len(df) == 3 * 12
    assert {"t", "plotted", "below", "value"} <= set(df.columns)
    bound = df[df["curve"] == CURVES[2]].sort_values("t")
    assert bound["t"].tolist() == list(range(1, 13))
    # "(γσ_max)^(T−t)": the bound at t is ‖∂L/∂h_T‖ base^(T−t), so it equals ‖∂L/∂h_T‖ at t = T.
    np.testing.assert_allclose(bound["norm"], theory.exact[-1] * theory.base ** (12 - bound["t"].to_numpy()))
    assert CURVES[2] == "bound (γσ_max)^(T−t)"


def test_zeros_sit_below_the_lowest_point_and_infinities_are_dropped():
    exact = np.array([0.0, 1e-3, 1.0])
    theory = Theory(measured=exact, exact=exact, bound=np.array([np.inf, 1.0, 1.0]), gamma=1.0, sigma_max=1e300,
                    base=1e300)
    df = theory_frame(theory)
    assert len(df) == 8 and df["below"].sum() == 2 and (df.loc[df["below"], "plotted"] == 1e-4).all()
    spec = theory_overlay_chart(theory).to_dict()
    y = spec["layer"][0]["encoding"]["y"]
    assert y["scale"]["type"] == "log" and y["axis"]["format"] == LOG_FORMAT
    assert spec["layer"][0]["encoding"]["x"]["title"] == T_AXIS
    # Every mark (line points and ▼) names its curve, its t and its value; a zero's value says it is exactly 0.
    for layer in spec["layer"]:
        assert _tooltip(layer) == [("curve", "nominal", None, None), ("t", "quantitative", None, None),
                                   ("value", "nominal", "norm", None)]
    assert (df.loc[df["below"], "value"] == BELOW).all() and df.loc[~df["below"], "value"].tolist() == [
        "0.001", "1", "0.001", "1", "1", "1"]


def test_overlay_title_is_short_and_its_caption_carries_the_numbers():
    theory = _theory()
    assert theory_overlay_chart(theory).to_dict()["title"] == "Theory vs measurement"
    caption = overlay_caption(theory, step=7)
    assert caption.startswith("Step 7's weights") and f"σ_max(W_h) = {theory.sigma_max:.3g}" in caption
    assert f"γ = max f′ = {theory.gamma:g}" in caption and "(γσ_max)^(T−t)" in caption


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


def test_split_chart_spec_names_each_factor_and_its_caption_the_totals():
    parts = split_at_init(RunConfig(seq_len=10, hidden_size=6, batch_size=8))
    spec = split_chart(parts).to_dict()
    assert spec["title"] == "Where the decay comes from"
    assert len(spec["layer"]) == 2 and "tooltip" not in spec["layer"][0].get("encoding", {})  # the 0 rule has none
    assert _tooltip(spec["layer"][1]) == [("part", "nominal", None, None), ("t", "quantitative", None, None),
                                          ("decades", "quantitative", None, ".3f")]
    assert spec["layer"][1]["encoding"]["x"]["axis"]["format"] == "d"
    caption = split_caption(parts, step=1)
    totals = parts.decades()
    assert f"{parts.log_ratio:+.2f} decades" in caption and f"f′ {totals['slope']:+.2f}" in caption
    assert f"W_h {totals['weights']:+.2f}" in caption and "skip" not in caption
    residual = split_at_init(RunConfig(model="residual", seq_len=10, hidden_size=6, batch_size=8))
    assert f"the skip path {residual.decades()['skip']:+.2f}" in split_caption(residual, step=1)


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
    assert spec["title"] == "Slopes f′(a) of the activations"


def test_activation_caption_numbers_come_from_the_engines_slopes():
    caption = activation_caption("sigmoid", 0.2)
    assert "at most 0.25" in caption and "at least 0.60 decades per step back" in caption  # −log10(1/4) = 0.602
    assert "leaky ReLU keeps 0.2 there" in caption and caption.endswith("This run uses sigmoid.")


def _legends(spec: object) -> list[dict]:
    """Every colour legend in a spec, at any depth."""
    if isinstance(spec, dict):
        colour = spec.get("encoding", {}).get("color", {})
        own = [colour["legend"]] if isinstance(colour, dict) and colour.get("legend") else []
        return own + [legend for value in spec.values() for legend in _legends(value)]
    if isinstance(spec, list):
        return [legend for value in spec for legend in _legends(value)]
    return []


def test_theory_legends_sit_below_the_plot_with_every_label_whole():
    # On top in one row, "bound (γσ…" was cut and the green W_h entry pushed out of the chart.
    charts = (theory_overlay_chart(_theory()), split_chart(split_at_init(RunConfig(seq_len=10, hidden_size=6,
                                                                                     batch_size=8))))
    for chart in charts:
        legends = _legends(chart.to_dict())
        assert legends and all(legend == {"orient": "bottom", "columns": 2, "labelLimit": 0} for legend in legends)

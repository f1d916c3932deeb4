"""Compare runs: pinned runs of a session, labelled by what differs, overlaid in Altair."""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from models import RunConfig

MODEL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "residual": "residual RNN"}
SHORT = {"recurrent_gain": "gain", "clip_threshold": "clip at", "negative_slope": "slope", "seq_len": "T",
         "hidden_size": "H", "batch_size": "B", "forget_bias": "forget bias"}
MAX_PINS = 8
MAX_OVERLAY = 4


@dataclass(frozen=True)
class PinnedRun:
    """What a finished (or diverged) run leaves for comparison: small arrays only."""

    config: RunConfig
    steps: np.ndarray  # (n,) training steps kept
    loss: np.ndarray  # (n,)
    hidden: np.ndarray  # (T,) ‖∂L/∂h_t‖ of the last step
    final_step: int
    state: str  # done | diverged | paused


def _network(config: RunConfig) -> str:
    name = MODEL_NAMES[config.model]
    return name if config.model == "lstm" and config.activation == "tanh" else f"{config.activation} {name}"


def difference_labels(configs: list[RunConfig]) -> list[str]:
    """A legend entry per run naming only what differs, e.g. "tanh RNN" vs "LSTM"."""
    if not configs:
        return []
    rows = [c.to_dict() for c in configs]
    differing = [k for k in rows[0] if len({r[k] for r in rows}) > 1]
    labels = []
    for config, row in zip(configs, rows, strict=True):
        parts = [_network(config)] if {"model", "activation"} & set(differing) else []
        parts += [f"{SHORT.get(k, k)}={row[k]:g}" if isinstance(row[k], float) else f"{SHORT.get(k, k)}={row[k]}"
                  for k in differing if k not in ("model", "activation")]
        labels.append(", ".join(parts) or "same settings")
    return [f"#{i + 1} {label}" for i, label in enumerate(labels)]


def overlay_frames(pins: list[PinnedRun]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long-form (loss per step, gradient per timestep) frames with a `run` column."""
    labels = difference_labels([p.config for p in pins])
    loss = pd.concat([pd.DataFrame({"run": label, "step": p.steps, "loss": p.loss})
                      for label, p in zip(labels, pins, strict=True)], ignore_index=True)
    profile = pd.concat([pd.DataFrame({"run": label, "t": np.arange(len(p.hidden)), "norm": p.hidden})
                         for label, p in zip(labels, pins, strict=True)], ignore_index=True)
    profile["below"] = profile["norm"] == 0
    profile.loc[profile["below"], "norm"] = np.nan  # never log(0): listed as below range instead
    return loss, profile


def overlay_charts(pins: list[PinnedRun]) -> alt.HConcatChart:
    loss, profile = overlay_frames(pins)
    colour = alt.Color("run:N", legend=alt.Legend(orient="bottom", columns=1, labelLimit=400))
    loss_chart = alt.Chart(loss, title="Loss").mark_line().encode(
        x=alt.X("step:Q", title="training step"),
        y=alt.Y("loss:Q", scale=alt.Scale(type="log"), title="loss (log)"),
        color=colour, tooltip=["run", "step", alt.Tooltip("loss:Q", format=".4g")],
    )
    profile_chart = alt.Chart(profile.dropna(subset=["norm"]), title="‖∂L/∂h_t‖ at the last step").mark_line(
        point=True).encode(
        x=alt.X("t:Q", title="timestep t"),
        y=alt.Y("norm:Q", scale=alt.Scale(type="log"), title="‖∂L/∂h_t‖ (log)"),
        color=colour, tooltip=["run", "t", alt.Tooltip("norm:Q", format=".4g")],
    )
    return alt.hconcat(loss_chart.properties(height=260), profile_chart.properties(height=260))

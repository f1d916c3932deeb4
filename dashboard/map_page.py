"""Trainability map page: where, at initialization, gradients vanish or explode (models/sweep.py).

One cached sweep per (model, activation, init), drawn with its zero contour (the edge of chaos);
clicking a cell opens the lab with that configuration, in the URL from the first moment.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.state import LESSON, apply_config, config_values, go_to, lab_query, read_config
from models import CHOICES, RunConfig
from models.sweep import crossings, gain_grid, trainability_map

GAINS = gain_grid(0.5, 2.0, 16)
GAIN_STEP = GAINS[1] - GAINS[0]  # a cell's width on the gain axis
SEQ_LENS = (5, 10, 20, 50, 100, 200)
SATURATE = 8.0  # |log10 ratio| where the colour saturates (tanh, orthogonal, T = 200 spans −65 … +12)
BELOW, ABOVE = "#9e9e9e", "#000000"  # outside every colour of the red-blue scale
LABELS = {"model": "Network", "activation": "Activation", "init": "Initializer (kaiming = He)"}
KEYS = {name: f"map_{name}" for name in LABELS}


@st.cache_data(show_spinner=f"Measuring the gradient of {len(GAINS) * len(SEQ_LENS)} untrained networks…",
               max_entries=64)
def sweep(model: str, activation: str, init: str) -> pd.DataFrame:
    """The map for the lesson's defaults with this model / activation / init; cached across sessions."""
    # One job: the whole grid takes about a second (LSTM a few), and the server's cores train other sessions.
    return trainability_map(RunConfig(model=model, activation=activation, init=init), GAINS, SEQ_LENS)


def status(frame: pd.DataFrame) -> pd.Series:
    """A word per cell for the tooltip."""
    words = pd.Series("exploding", index=frame.index).where(frame["log_ratio"] > 0, "vanishing")
    words = words.mask(frame["below_range"], "below range: ‖∂L/∂h_1‖ underflowed to 0 (float64)")
    return words.mask(frame["above_range"], "above range: overflow to ∞ / NaN (float64)")


def edge(frame: pd.DataFrame) -> pd.DataFrame:
    """The zero contour: per sequence length, the gain where the log-ratio crosses 0 (interpolated)."""
    gains = crossings(frame).dropna()
    return pd.DataFrame({"seq_len": gains.index.astype(int), "gain": gains.to_numpy(),
                         "curve": "edge of chaos: log ratio = 0"})


def heatmap(frame: pd.DataFrame) -> alt.LayerChart:
    """gain × seq_len, diverging colour centred at 0 with its zero contour drawn; out-of-range cells grey / black;
    a click selects a cell."""
    cell = alt.selection_point(name="cell", fields=["gain", "seq_len"], on="click")
    scale = alt.Scale(scheme="redblue", reverse=True, domain=[-SATURATE, SATURATE], domainMid=0, clamp=True)
    out_of_range = alt.expr(f"datum.below_range ? '{BELOW}' : '{ABOVE}'")  # Vega-Lite takes one value condition
    colour = alt.when("datum.below_range || datum.above_range").then(alt.value(out_of_range)).otherwise(
        alt.Color("log_ratio:Q", scale=scale, title=["log10 ‖∂L/∂h_1‖", "/ ‖∂L/∂h_T‖"]))
    x = alt.X("left:Q", title="recurrent gain (× W_h)", scale=alt.Scale(domain=[GAINS[0] - GAIN_STEP / 2,
              GAINS[-1] + GAIN_STEP / 2], nice=False), axis=alt.Axis(values=list(GAINS), format=".1f"))
    y = alt.Y("seq_len:O", title="sequence length T", sort="descending")
    cells = alt.Chart(frame.assign(status=status(frame), left=frame["gain"] - GAIN_STEP / 2,
                                   right=frame["gain"] + GAIN_STEP / 2)).mark_rect(stroke="#ffbf00").encode(
        x=x, x2="right:Q", y=y, color=colour,
        strokeWidth=alt.when(cell, empty=False).then(alt.value(3)).otherwise(alt.value(0)),
        tooltip=[
            alt.Tooltip("gain:Q", title="gain"), alt.Tooltip("seq_len:Q", title="T"),
            alt.Tooltip("log_ratio:Q", title="log10 ratio", format=".4f"),
            alt.Tooltip("grad_first:Q", title="‖∂L/∂h_1‖", format=".4e"),
            alt.Tooltip("grad_last:Q", title="‖∂L/∂h_T‖", format=".4e"), "status:N",
        ],
    ).add_params(cell)
    contour = alt.Chart(edge(frame)).mark_line(color="black", strokeWidth=3, point=alt.OverlayMarkDef(
        color="black", size=50)).encode(
        x=alt.X("gain:Q"), y=y, order="seq_len:Q",
        stroke=alt.Stroke("curve:N", scale=alt.Scale(range=["black"]), title=None,
                          legend=alt.Legend(orient="top", labelFontSize=13, symbolType="stroke", symbolStrokeWidth=3)),
        tooltip=[alt.Tooltip("seq_len:Q", title="T"), alt.Tooltip("gain:Q", title="gain at log ratio = 0",
                                                                 format=".2f")])
    # SVG: 96 cells and a line redraw only when the sweep changes; each cell gets a DOM node with an aria-label
    # naming its gain and length (screen readers; the browser test clicks one).
    return alt.layer(cells, contour).properties(height=340, usermeta={"embedOptions": {"renderer": "svg"}})


def controls() -> RunConfig:
    """Model, activation and init; on entering the page they start at the lab's current choices."""
    lab = read_config()
    for name, key in KEYS.items():
        if key not in st.session_state:  # on each visit: Streamlit drops these keys while the lab is shown
            st.session_state[key] = getattr(lab, name)
    cols = st.columns(len(KEYS))
    values = {name: col.selectbox(LABELS[name], CHOICES[name], key=KEYS[name])
              for name, col in zip(KEYS, cols, strict=True)}
    return RunConfig(**values)


def picked_config(base: RunConfig, selection: dict[str, Any]) -> RunConfig | None:
    """The configuration of the clicked cell (None when the click cleared the selection)."""
    points = selection.get("cell") or []
    if not points:
        return None
    return base.replace(recurrent_gain=float(points[0]["gain"]), seq_len=int(points[0]["seq_len"]))


def open_in_lab(config: RunConfig) -> None:
    """Callback: load `config` into the lab's sidebar (no lesson: the cell is not one); the next run opens the lab
    with `config` in the URL, so the address bar reproduces it from the first moment."""
    apply_config(config)
    st.session_state[LESSON] = None
    go_to("lab", lab_query(RunConfig(**config_values(config))), note=(
        f"**Opened from the trainability map:** the cell at recurrent gain {config.recurrent_gain:g} and "
        f"sequence length {config.seq_len}, with the map's {config.model} / {config.activation} / {config.init} "
        "init and every other setting at its default. The cell's colour was this untrained network's "
        "‖∂L/∂h_1‖ / ‖∂L/∂h_T‖; press **Train** to see what training does."))


def _on_select(base: RunConfig) -> None:
    # Runs before the page, and only when the selection changed, so returning here never bounces back.
    config = picked_config(base, st.session_state["map_chart"].selection)
    if config is not None:
        open_in_lab(config)


def render() -> None:
    """The page: controls, the heatmap, and a caption; a clicked cell opens the lab with its settings."""
    st.title("Trainability map")
    base = controls()
    frame = sweep(base.model, base.activation, base.init)
    st.altair_chart(heatmap(frame), key="map_chart", on_select=lambda: _on_select(base), selection_mode="cell",
                    width="stretch")
    edges = ", ".join(f"{g:.2f} (T = {t})" for t, g in crossings(frame).dropna().items())
    st.caption(
        f"Each cell: an untrained network (hidden size {base.hidden_size}, the {base.task} task, seed {base.seed}) "
        "reads one batch; the colour is log10 of how much gradient reaches the first word's state h_1 relative to "
        "the last one's, ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖. Blue (below 0): gradients **vanish** with distance, so the first "
        "word barely moves the weights; red (above 0): they **explode**. The black line between them, where the "
        "ratio is 1 (interpolated between cells), is the *edge of chaos*"
        + (f" — here at gain ≈ {edges}." if edges else " (not crossed on this grid).")
        + f" Colours saturate at ±{SATURATE:g} (the tooltip shows the exact value); grey cells underflowed to 0 "
        "even in float64, black ones overflowed. Click a cell to open the lab with that gain and sequence length."
    )

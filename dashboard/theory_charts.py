"""Pure functions: theory and LSTM-gate data -> long-form pandas -> Altair chart. Nothing here calls st.*.

Zeros (a gradient that underflowed to exactly 0) are drawn at FLOOR with a triangle and say so in
the tooltip, as on the lab's own profile chart; a bound that overflowed to inf is left out.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from dashboard.charts import FLOOR, HEIGHT
from models.theory import Theory
from models.trainer import StepRecord

CURVES = ("measured", "exact Jacobian chain", "bound (γσ_max)^(T−1−t)")
GATES = ("forget gate f_t", "input gate i_t", "output gate o_t")
BELOW = "exactly 0 (drawn at the floor)"
# Streamlit fits a stretched chart's title, legend and axes inside its height: leave room for the plot.
OVERLAY_HEIGHT = 400


def _log_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Drop non-finite norms; add `plotted` (zeros raised to FLOOR), `below` and tooltip text `value`."""
    df = df[np.isfinite(df["norm"])]
    below = df["norm"].to_numpy() == 0
    return df.assign(plotted=np.where(below, FLOOR, df["norm"]), below=below,
                     value=[BELOW if b else f"{v:.4g}" for v, b in zip(df["norm"], below, strict=True)])


def theory_frame(theory: Theory) -> pd.DataFrame:
    """Long form: one row per (curve, t), with `plotted`, `below` and tooltip `value` columns."""
    frames = [
        pd.DataFrame({"t": np.arange(len(values)), "curve": name, "norm": np.asarray(values, dtype=np.float64)})
        for name, values in zip(CURVES, (theory.measured, theory.exact, theory.bound), strict=True)
    ]
    return _log_ready(pd.concat(frames, ignore_index=True))


def _by_curve(channel: type, values: list, **kw: object) -> object:
    """An encoding channel keyed by curve name, with one fixed value per curve."""
    return channel("curve:N", scale=alt.Scale(domain=list(CURVES), range=values), **kw)


def theory_overlay_chart(theory: Theory) -> alt.LayerChart:
    """Measured profile, the exact chain that reproduces it, and Pascanu et al.'s (2013) bound above both."""
    df = theory_frame(theory)
    base = alt.Chart(df).encode(
        x=alt.X("t:Q", title="timestep t (0 = first word)"),
        y=alt.Y("plotted:Q", title="‖∂L/∂h_t‖ (log)", scale=alt.Scale(type="log")),
        # The exact chain lies on the measurement: draw the measurement wide and pale, the chain dashed on top.
        color=_by_curve(alt.Color, ["#1f77b4", "#ff7f0e", "#7f7f7f"], title=None, legend=alt.Legend(orient="top")),
        strokeDash=_by_curve(alt.StrokeDash, [[1, 0], [6, 3], [2, 2]], legend=None),
        strokeWidth=_by_curve(alt.StrokeWidth, [6, 2, 2], legend=None),
        opacity=_by_curve(alt.Opacity, [0.45, 1, 1], legend=None),
        tooltip=["curve:N", "t:Q", alt.Tooltip("value:N", title="norm")],
    )
    lines = base.mark_line(point=alt.OverlayMarkDef(size=14))  # points carry the tooltips
    below = base.transform_filter("datum.below").mark_point(shape="triangle-down", size=60, filled=True)
    title = f"Theory vs measurement (γ = {theory.gamma:g}, σ_max(W_h) = {theory.sigma_max:.3g}, base {theory.base:.3g})"
    return alt.layer(lines, below).properties(title=title, height=OVERLAY_HEIGHT)


def gates_frame(record: StepRecord) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(gate means per t, long form) and (‖∂L/∂c_t‖ per t, with floor columns) from an LSTM StepRecord."""
    if record.gates is None or record.cell is None:
        raise ValueError("gates and cell gradients exist only for LSTM runs")
    steps = np.arange(record.gates.shape[1])
    gates = pd.concat([pd.DataFrame({"t": steps, "gate": name, "mean": record.gates[row].astype(np.float64)})
                       for row, name in enumerate(GATES)], ignore_index=True)
    cell = pd.DataFrame({"t": steps, "norm": record.cell.astype(np.float64)})
    return gates, _log_ready(cell)


def gates_chart(record: StepRecord) -> alt.HConcatChart:
    """Mean forget / input / output gates over timesteps, next to ‖∂L/∂c_t‖: f_t ≈ 1 keeps the cell gradient."""
    gates, cell = gates_frame(record)
    left = alt.Chart(gates).mark_line(point=alt.OverlayMarkDef(size=14)).encode(
        x=alt.X("t:Q", title="timestep t"),
        y=alt.Y("mean:Q", title="mean gate activation", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("gate:N", title=None, scale=alt.Scale(domain=list(GATES),
                                                               range=["#2ca02c", "#9467bd", "#8c564b"]),
                        legend=alt.Legend(orient="top")),
        tooltip=["gate:N", "t:Q", alt.Tooltip("mean:Q", format=".4f")],
    ).properties(title=f"LSTM gates at step {record.step} (mean over batch and units)", height=HEIGHT)
    base = alt.Chart(cell).encode(
        x=alt.X("t:Q", title="timestep t"),
        y=alt.Y("plotted:Q", title="‖∂L/∂c_t‖ (log)", scale=alt.Scale(type="log")),
        tooltip=["t:Q", alt.Tooltip("value:N", title="‖∂L/∂c_t‖")],
    )
    right = alt.layer(
        base.mark_line(color="#ff7f0e", point=alt.OverlayMarkDef(size=14)),
        base.transform_filter("datum.below").mark_point(shape="triangle-down", size=60, filled=True),
    ).properties(title="Gradient reaching each cell state c_t", height=HEIGHT)
    return alt.hconcat(left, right)

"""Pure functions: theory, LSTM-gate and activation data -> long-form pandas -> Altair chart. Nothing here calls st.*.

Zeros (a gradient that underflowed to exactly 0) are drawn at FLOOR with a triangle and say so in
the tooltip, as on the lab's own profile chart; a bound that overflowed to inf is left out.
The split and slope charts count timesteps the textbook's way, t = 1..T (h_0 = 0 is the initial state).
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import torch

from dashboard.charts import FLOOR, HEIGHT
from models.cells import DERIVATIVES, MAX_SLOPE
from models.config import CHOICES, RunConfig
from models.theory import Split, Theory
from models.trainer import StepRecord

# The overlay and gates charts still count timesteps from 0 like the Lab's other charts (index i is h_{i+1});
# the lead moves them to t = 1..T together with the rest of the dashboard (tests/dashboard/test_insight.py
# reads this bound's name).
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


# Cumulative decades from the last word back to word t, cut at each factor (models.theory.split).
PARTS = ("total, ‖∂L/∂h_t‖/‖∂L/∂h_T‖", "from f′ (the slope)", "from W_h", "from the skip path",
         "W_h alone (f′ := 1)")
PART_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#7f7f7f"]


def split_frame(split: Split) -> pd.DataFrame:
    """Long form: one row per (part, t) with `decades` = that part's sum over the steps back from T to t.

    At every t the slope, W_h and skip rows add up to the total row; the skip part appears only for the
    residual RNN. Rows that are not finite (a step on which every slope was 0) are dropped.
    """
    T = len(split.exact)
    back = lambda per_step: np.concatenate([np.cumsum(per_step[::-1])[::-1], [0.0]])  # noqa: E731, (T,) t = 1..T
    with np.errstate(divide="ignore"):
        curves = {
            PARTS[0]: np.log10(split.exact / split.exact[-1]),
            PARTS[1]: back(split.slope),
            PARTS[2]: back(split.weights),
            PARTS[3]: back(split.skip),
            PARTS[4]: np.log10(split.weights_only / split.weights_only[-1]),
        }
    if not np.any(split.skip):
        del curves[PARTS[3]]
    df = pd.concat([pd.DataFrame({"t": np.arange(1, T + 1), "part": name, "decades": values})
                    for name, values in curves.items()], ignore_index=True)
    return df[np.isfinite(df["decades"])].reset_index(drop=True)


def split_chart(split: Split) -> alt.LayerChart:
    """Where the gradient's decay comes from: decades lost (or gained) between h_T and h_t, by factor."""
    df = split_frame(split)
    parts = [p for p in PARTS if p in set(df["part"])]
    totals = split.decades()
    base = alt.Chart(df).encode(
        x=alt.X("t:Q", title="timestep t (1 = first word)"),
        y=alt.Y("decades:Q", title="decades between h_t and h_T (log10)"),
        color=alt.Color("part:N", title=None, legend=alt.Legend(orient="top", columns=3, labelLimit=260),
                        scale=alt.Scale(domain=parts, range=[PART_COLOURS[PARTS.index(p)] for p in parts])),
        strokeDash=alt.condition(alt.datum.part == PARTS[4], alt.value([4, 3]), alt.value([1, 0])),
        tooltip=["part:N", "t:Q", alt.Tooltip("decades:Q", format=".3f")],
    )
    title = (f"Decay split by factor: f′ {totals['slope']:+.2f}, W_h {totals['weights']:+.2f}"
             + (f", skip {totals['skip']:+.2f}" if PARTS[3] in parts else "")
             + f" decades = {split.log_ratio:+.2f} in all")
    zero = alt.Chart(pd.DataFrame({"decades": [0.0]})).mark_rule(color="#bbbbbb").encode(y="decades:Q")
    return alt.layer(zero, base.mark_line(point=alt.OverlayMarkDef(size=14))).properties(
        title=title, height=OVERLAY_HEIGHT)


def activation_frame(negative_slope: float = RunConfig().negative_slope, lo: float = -4.0, hi: float = 4.0,
                     n: int = 161) -> pd.DataFrame:
    """Long form: f′(a) of every hidden activation over [lo, hi], from the same DERIVATIVES the engine uses."""
    a = lo + (hi - lo) * torch.arange(n, dtype=torch.float64) / (n - 1)  # (n,), hits a = 0 exactly for odd n
    frames = [pd.DataFrame({"a": a.numpy(), "activation": name, "max_slope": MAX_SLOPE[name](negative_slope),
                            "slope": DERIVATIVES[name](a, negative_slope).numpy()})
              for name in CHOICES["activation"]]
    return pd.concat(frames, ignore_index=True)


def activation_chart(negative_slope: float = RunConfig().negative_slope) -> alt.Chart:
    """The slope f′(a) of tanh, sigmoid, ReLU and leaky ReLU: the per-step factor diag(f′) puts on the gradient."""
    df = activation_frame(negative_slope)
    names = list(CHOICES["activation"])
    labels = {name: f"{name} (max {MAX_SLOPE[name](negative_slope):g})" for name in names}
    df = df.assign(label=df["activation"].map(labels))
    order = [labels[n] for n in names]
    return alt.Chart(df).mark_line(strokeWidth=2).encode(
        x=alt.X("a:Q", title="pre-activation a"),
        y=alt.Y("slope:Q", title="slope f′(a)", scale=alt.Scale(domain=[0, 1.05])),
        color=alt.Color("label:N", title=None, sort=order, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=order, range=["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"])),
        # leaky_relu lies on relu for a > 0: dash it so both stay visible.
        strokeDash=alt.condition(alt.datum.activation == "leaky_relu", alt.value([6, 3]), alt.value([1, 0])),
        tooltip=["activation:N", alt.Tooltip("a:Q", format=".2f"), alt.Tooltip("slope:Q", format=".4f")],
    ).properties(title=f"Slopes of the activations (leaky_relu's negative slope {negative_slope:g})",
                 height=HEIGHT)

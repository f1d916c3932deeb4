"""Pure functions: theory, decay-split and activation data -> long-form pandas -> Altair chart, and the captions
that carry their numbers (titles stay short, so they never truncate). Nothing here calls st.*.

Zeros (a gradient that is exactly 0) are drawn as ▼ a decade below the lowest nonzero value and say so
in the tooltip, as on the lab's own profile chart; a bound that overflowed to inf is left out.
Timesteps are the textbook's, t = 1..T (h_0 = 0 is the initial state), as on every chart of the lab.
"""

from __future__ import annotations

from functools import lru_cache

import altair as alt
import numpy as np
import pandas as pd
import torch

from dashboard.charts import HEIGHT, floored, log_y_axis, timesteps_x
from models.cells import DERIVATIVES, MAX_SLOPE
from models.config import CHOICES, RunConfig
from models.theory import Split, Theory

# Slopes whose activation spec is kept: every lesson uses 0.01, and a slope comes from the sidebar or a link, so
# any float in [0, 1] can arrive and an unbounded cache grew the server by one entry per new value. 16 covers a
# class trying slopes side by side; a slope pushed out is rebuilt on its next rerun.
ACTIVATION_SPECS = 16
CURVES = ("measured", "exact Jacobian chain", "bound (γσ_max)^(T−t)")
BELOW = "exactly 0 (drawn below the lowest point)"
# Streamlit fits a stretched chart's title, legend and axes inside its height: leave room for the plot.
OVERLAY_HEIGHT = HEIGHT + 60
# Below the plot, two entries a row, labels never cut: on top, a row of three cut "bound (γσ…" and pushed an entry
# (the green W_h line's) out of the chart.
LEGEND = alt.Legend(orient="bottom", columns=2, labelLimit=0)


def _log_ready(df: pd.DataFrame) -> pd.DataFrame:
    """Drop non-finite norms; add `plotted` (zeros raised to the floor), `below` and tooltip text `value`."""
    df = df[np.isfinite(df["norm"])]
    plotted, below = floored(df["norm"].to_numpy())
    return df.assign(plotted=plotted, below=below,
                     value=[BELOW if b else f"{v:.4g}" for v, b in zip(df["norm"], below, strict=True)])


def theory_frame(theory: Theory) -> pd.DataFrame:
    """Long form: one row per (curve, t), with `plotted`, `below` and tooltip `value` columns."""
    frames = [
        pd.DataFrame({"t": np.arange(1, len(values) + 1), "curve": name, "norm": np.asarray(values, dtype=np.float64)})
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
        x=timesteps_x(),
        y=log_y_axis("plotted:Q", "‖∂L/∂h_t‖ (log)"),
        # The exact chain lies on the measurement: draw the measurement wide and pale, the chain dashed on top.
        color=_by_curve(alt.Color, ["#1f77b4", "#ff7f0e", "#7f7f7f"], title=None, legend=LEGEND),
        strokeDash=_by_curve(alt.StrokeDash, [[1, 0], [6, 3], [2, 2]], legend=None),
        strokeWidth=_by_curve(alt.StrokeWidth, [6, 2, 2], legend=None),
        opacity=_by_curve(alt.Opacity, [0.45, 1, 1], legend=None),
        tooltip=["curve:N", "t:Q", alt.Tooltip("value:N", title="norm")],
    )
    lines = base.mark_line(point=alt.OverlayMarkDef(size=14))  # points carry the tooltips
    below = base.transform_filter("datum.below").mark_point(shape="triangle-down", size=60, filled=True)
    return alt.layer(lines, below).properties(title="Theory vs measurement", height=OVERLAY_HEIGHT)


def overlay_caption(theory: Theory, step: int) -> str:
    """What the overlay shows, with the numbers its bound uses."""
    return (f"Step {step}'s weights on a fixed batch. The dashed exact chain ∂L/∂h_T·Π diag(f′(a_k)) W_h lies on "
            f"the measurement; the dotted bound ‖∂L/∂h_T‖·(γσ_max)^(T−t) (Pascanu, Mikolov & Bengio 2013), with "
            f"γ = max f′ = {theory.gamma:g} and σ_max(W_h) = {theory.sigma_max:.3g} (base {theory.base:.3g}), lies "
            "above it: tight only when f′ ≈ γ and W_h's top singular direction dominates.")


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
    base = alt.Chart(df).encode(
        x=timesteps_x(),
        y=alt.Y("decades:Q", title="decades between h_t and h_T (log10)"),
        color=alt.Color("part:N", title=None, legend=LEGEND,
                        scale=alt.Scale(domain=parts, range=[PART_COLOURS[PARTS.index(p)] for p in parts])),
        strokeDash=alt.condition(alt.datum.part == PARTS[4], alt.value([4, 3]), alt.value([1, 0])),
        tooltip=["part:N", "t:Q", alt.Tooltip("decades:Q", format=".3f")],
    )
    zero = alt.Chart(pd.DataFrame({"decades": [0.0]})).mark_rule(color="#bbbbbb").encode(y="decades:Q")
    return alt.layer(zero, base.mark_line(point=alt.OverlayMarkDef(size=14))).properties(
        title="Where the decay comes from", height=OVERLAY_HEIGHT)


def split_caption(split: Split, step: int) -> str:
    """The split's totals: how many decades each factor removes (negative) or adds between h_T and h_1."""
    totals = split.decades()
    skip = f", the skip path {totals['skip']:+.2f}" if np.any(split.skip) else ""
    return (f"Step {step}'s weights on the same batch. From h_T back to h_1 the gradient changes by "
            f"{split.log_ratio:+.2f} decades: the slopes f′ {totals['slope']:+.2f}, "
            f"W_h {totals['weights']:+.2f}{skip}. "
            "Each step back is cut at its two factors, ‖g_t D_t‖/‖g_t‖ (the slope) and ‖g_t D_t W_h‖/‖g_t D_t‖ "
            "(the matrix); the shares add up to the total at every t. Dashed grey: W_h's product alone, f′ := 1.")


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
        color=alt.Color("label:N", title=None, sort=order, legend=alt.Legend(orient="top", columns=2),
                        scale=alt.Scale(domain=order, range=["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"])),
        # leaky_relu lies on relu for a > 0: dash it so both stay visible.
        strokeDash=alt.condition(alt.datum.activation == "leaky_relu", alt.value([6, 3]), alt.value([1, 0])),
        tooltip=["activation:N", alt.Tooltip("a:Q", format=".2f"), alt.Tooltip("slope:Q", format=".4f")],
    ).properties(title="Slopes f′(a) of the activations", height=OVERLAY_HEIGHT)


@lru_cache(maxsize=ACTIVATION_SPECS)
def activation_spec(negative_slope: float = RunConfig().negative_slope) -> dict:
    """activation_chart as a Vega-Lite spec, converted and validated once rather than on every rerun."""
    return activation_chart(negative_slope).to_dict()


def activation_caption(activation: str, negative_slope: float) -> str:
    """Why the slope matters, with the run's own activation named; the numbers come from MAX_SLOPE."""
    sigmoid = MAX_SLOPE["sigmoid"](negative_slope)
    return (f"Each step back multiplies the gradient by diag(f′(a_t)) W_h, so a slope below 1 removes decades on "
            f"every step: sigmoid's is at most {sigmoid:g}, so its slopes alone remove at least "
            f"{-np.log10(sigmoid):.2f} decades per step back; tanh′ is 1 only at a = 0; ReLU passes 1 where a unit is "
            f"on and nothing where it is off; leaky ReLU keeps {negative_slope:g} there. This run uses {activation}.")

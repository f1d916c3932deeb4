"""Sidebar: one function per section, each returning the user's inputs as RunConfig fields.

Widget keys are RunConfig field names and every widget is bound to the URL, so the address
bar always reproduces the experiment. Streamlit itself drops URL values a widget would reject
(unknown option, out of range) before the page reads them; dashboard/links.py reads the raw link
once per session to say what it ignored. The sizes are judged together against the cost budget
(models/cost.py): a change that would make one step too slow moves back to what fits, and says so.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from models import CHOICES, RANGES, RunConfig
from models.config import field_help

DEFAULTS = RunConfig()
FIELDS: tuple[str, ...] = tuple(DEFAULTS.to_dict())  # widget keys and URL names
HELP = field_help()
SIZES = ("model", "task", "seq_len", "hidden_size", "batch_size")  # what a step costs (models/cost.py)
SHOWN = "sidebar_config"  # the configuration the sidebar built in the last run
BUDGET_NOTICE = "sidebar_budget_notice"
# 1-2-3-5 per decade, 1e-4 … 10: log-spaced, so the slider covers five decades evenly.
LR_GRID: tuple[float, ...] = (*(float(f"{m}e{e}") for e in range(-4, 1) for m in (1, 2, 3, 5)), 10.0)


def nearest_lr(lr: float) -> float:
    """The grid value closest to `lr` in log space (presets may use any lr)."""
    return min(LR_GRID, key=lambda g: abs(math.log10(g) - math.log10(lr)))


def largest_fitting(values: dict[str, Any], name: str) -> int | None:
    """The largest value of size `name` that, with the other `values`, fits the cost budget; None if none does.
    A step's cost grows with every size, so a bisection finds it."""
    lo, hi = (int(v) for v in RANGES[name])

    def fits(value: int) -> bool:
        try:
            RunConfig.from_strings(values | {name: value})
        except ValueError:
            return False
        return True

    if not fits(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def fit_budget(name: str) -> None:
    """on_change of a size: if the sizes together make one step too slow, move `name` to the largest value
    that fits (a choice back to the previous one) and leave a notice for the sidebar."""
    values = {k: st.session_state[k] for k in FIELDS if k in st.session_state}
    try:
        RunConfig.from_strings(values)
        return
    except ValueError as error:
        reason = str(error)
    asked = values[name]
    fitted = largest_fitting(values, name) if name in RANGES else None
    if fitted is None:
        fitted = getattr(st.session_state.get(SHOWN, DEFAULTS), name)
    st.session_state[name] = fitted
    st.session_state[BUDGET_NOTICE] = f"{name} = {asked} was too large: {reason}. Set to {fitted} instead."


def _choice(name: str, label: str, **kw: Any) -> str:
    options = CHOICES[name]
    if name in SIZES:
        kw |= {"on_change": fit_budget, "args": (name,)}
    return st.selectbox(label, options, index=options.index(getattr(DEFAULTS, name)), key=name,
                        help=HELP[name], bind="query-params", **kw)


def _number(name: str, label: str, step: float, fmt: str = "%g", **kw: Any) -> float:
    lo, hi = RANGES[name]
    return st.number_input(label, min_value=float(lo), max_value=float(hi), value=float(getattr(DEFAULTS, name)),
                           step=step, format=fmt, key=name, help=HELP[name], bind="query-params", **kw)


def _integer(name: str, label: str, slider: bool = False, **kw: Any) -> int:
    lo, hi = (int(v) for v in RANGES[name])
    widget = st.slider if slider else st.number_input
    if name in SIZES:
        kw |= {"on_change": fit_budget, "args": (name,)}
    return widget(label, min_value=lo, max_value=hi, value=getattr(DEFAULTS, name), key=name,
                  help=HELP[name], bind="query-params", **kw)


def model_section() -> dict[str, Any]:
    st.subheader("Model")
    model = _choice("model", "Network")
    # For the LSTM the activation replaces tanh in the candidate g and in h = o·act(c); gates stay sigmoid.
    activation = _choice("activation", "Activation")
    return {
        "model": model,
        "activation": activation,
        "negative_slope": _number("negative_slope", "Leaky ReLU slope", 0.01,
                                  disabled=activation != "leaky_relu"),
        "hidden_size": _integer("hidden_size", "Hidden units", slider=True),
    }


def init_section(model: str) -> dict[str, Any]:
    st.subheader("Initialization")
    init = _choice("init", "Initializer (kaiming = He)")
    return {
        "init": init,
        "init_std": _number("init_std", "Normal init std", 0.01, disabled=init != "normal"),
        "recurrent_gain": _number("recurrent_gain", "Recurrent gain (× W_h)", 0.1),
        "forget_bias": _number("forget_bias", "LSTM forget-gate bias", 0.5, disabled=model != "lstm"),
        "update_bias": _number("update_bias", "GRU update-gate bias", 0.5, disabled=model != "gru"),
    }


def optimizer_section() -> dict[str, Any]:
    st.subheader("Optimizer")
    optimizer = _choice("optimizer", "Optimizer")
    lr = st.select_slider("Learning rate (log scale)", LR_GRID, value=DEFAULTS.lr, format_func=lambda v: f"{v:g}",
                          key="lr", help=HELP["lr"] + " Changes apply at the next step.", bind="query-params")
    clip = _choice("clip", "Gradient clipping")
    return {
        "optimizer": optimizer,
        "lr": lr,
        "momentum": _number("momentum", "Momentum", 0.05, disabled=optimizer != "momentum"),
        "clip": clip,
        "clip_threshold": _number("clip_threshold", "Clip threshold", 0.1, disabled=clip == "none"),
    }


def task_section() -> dict[str, Any]:
    st.subheader("Task")
    task = _choice("task", "Task")
    return {
        "task": task,
        "seq_len": _integer("seq_len", "Sequence length (lag = length − 1)", slider=True,
                            disabled=task == "cat_mat_rat"),
        "bptt_window": _integer("bptt_window", "BPTT window (0 = full)"),
        "batch_size": _integer("batch_size", "Batch size", slider=True),
        "steps": _integer("steps", "Training steps", step=100),
        "seed": _integer("seed", "Seed"),
    }


def build_config(values: dict[str, Any]) -> RunConfig:
    """RunConfig from widget values; anything invalid falls back to its default (never raises)."""
    return RunConfig.from_strings(values, lenient=True)


def config_query(config: RunConfig) -> dict[str, str]:
    """`config` as the URL writes it: only the fields that differ from the defaults."""
    changed = {k: v for k, v in config.to_dict().items() if v != getattr(DEFAULTS, k)}
    return {k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in changed.items()}


def share_query(config: RunConfig) -> str:
    """The query string of `config`: only the fields that differ from the defaults, as the URL shows."""
    return urlencode(config_query(config))


def sidebar() -> RunConfig:
    """Draw the whole sidebar's configuration and return it; the caller adds the link below it."""
    with st.sidebar:
        values = model_section()
        values |= init_section(values["model"])
        values |= optimizer_section()
        values |= task_section()
        if notice := st.session_state.pop(BUDGET_NOTICE, None):
            st.warning(notice, icon=":material/speed:")
        config = build_config(values)
    st.session_state[SHOWN] = config
    return config

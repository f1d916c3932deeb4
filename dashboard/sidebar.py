"""Sidebar: one function per section, each returning the user's inputs as RunConfig fields.

Widget keys are RunConfig field names and every widget is bound to the URL, so the address
bar always reproduces the experiment. Streamlit itself drops URL values a widget would reject
(unknown option, out of range); `build_config` then validates the whole RunConfig leniently.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from models import CHOICES, RANGES, RunConfig
from models.config import field_help

DEFAULTS = RunConfig()
HELP = field_help()
# 1-2-3-5 per decade, 1e-4 … 10: log-spaced, so the slider covers five decades evenly.
LR_GRID: tuple[float, ...] = (*(float(f"{m}e{e}") for e in range(-4, 1) for m in (1, 2, 3, 5)), 10.0)


def nearest_lr(lr: float) -> float:
    """The grid value closest to `lr` in log space (presets may use any lr)."""
    return min(LR_GRID, key=lambda g: abs(math.log10(g) - math.log10(lr)))


def _choice(name: str, label: str, **kw: Any) -> str:
    options = CHOICES[name]
    return st.selectbox(label, options, index=options.index(getattr(DEFAULTS, name)), key=name,
                        help=HELP[name], bind="query-params", **kw)


def _number(name: str, label: str, step: float, fmt: str = "%g", **kw: Any) -> float:
    lo, hi = RANGES[name]
    return st.number_input(label, min_value=float(lo), max_value=float(hi), value=float(getattr(DEFAULTS, name)),
                           step=step, format=fmt, key=name, help=HELP[name], bind="query-params", **kw)


def _integer(name: str, label: str, slider: bool = False, **kw: Any) -> int:
    lo, hi = (int(v) for v in RANGES[name])
    widget = st.slider if slider else st.number_input
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
        "batch_size": _integer("batch_size", "Batch size", slider=True),
        "steps": _integer("steps", "Training steps", step=100),
        "seed": _integer("seed", "Seed"),
    }


def build_config(values: dict[str, Any]) -> RunConfig:
    """RunConfig from widget values; anything invalid falls back to its default (never raises)."""
    return RunConfig.from_strings(values, lenient=True)


def share_query(config: RunConfig) -> str:
    """The query string of `config`: only the fields that differ from the defaults, as the URL shows."""
    changed = {k: v for k, v in config.to_dict().items() if v != getattr(DEFAULTS, k)}
    return urlencode({k: f"{v:g}" if isinstance(v, float) else v for k, v in changed.items()})


def link_section(config: RunConfig) -> None:
    """A copyable link that reproduces this experiment (st.code has a copy button)."""
    base = (st.context.url or "").split("?")[0]
    query = share_query(config)
    st.caption("Link to this experiment (copy button on the right):")
    st.code(f"{base}?{query}" if query else base or "(defaults)", language=None, wrap_lines=True)


def sidebar() -> RunConfig:
    """Draw the whole sidebar and return the configuration it shows."""
    with st.sidebar:
        values = model_section()
        values |= init_section(values["model"])
        values |= optimizer_section()
        values |= task_section()
        config = build_config(values)
        link_section(config)
    return config

"""A slide in one click: the Lab's loss and gradient-profile charts, with the run's settings and its reproduce link
below them, as one projector-sized PNG.

The charts are the Lab's own (`charts.vega_spec`: the same constant specs and the same datasets as on screen, with
presentation mode's text sizes), placed side by side at a slide's proportions; the caption is a Vega-Lite title
under them, so what it says can be read from the spec without rendering. vl-convert renders the spec to SVG, whose
root is then given the slide's exact size (the drawing scaled to fit and centred, white around it), and the SVG to a
PNG at SCALE. Rendering takes seconds (docs/performance.md), so the Lab builds the PNG only when its button is
clicked.
"""

from __future__ import annotations

import re
from typing import Any

import vl_convert

from dashboard.charts import vega_spec
from dashboard.history import Snapshot
from dashboard.weights import weights_file_name
from models import RunConfig

SLIDE = (1280, 720)  # a projector's 16:9 in CSS pixels
SCALE = 2  # PNG pixels per CSS pixel: 2560 × 1440, sharp on a large screen
CHARTS = ("loss", "profile")  # charts.LIVE_CHARTS names, left to right: the first row of the Lab's grid
# Each chart's plot area: with titles, legends, axes and the caption the drawing comes out near 16:9, so fitting it to
# the slide scales it little.
PLOT = (500, 450)
CAPTION_PX = 20
# The models and activations as a caption names them.
MODEL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "residual": "residual RNN", "gru": "GRU"}
ACTIVATION_NAMES = {"tanh": "tanh", "sigmoid": "sigmoid", "relu": "ReLU", "leaky_relu": "leaky ReLU"}
SVG_ROOT = re.compile(r'<svg([^>]*) width="([\d.]+)" height="([\d.]+)" viewBox="([^"]*)">')


def named(names: dict[str, str], value: str, what: str) -> str:
    """`names[value]`; an unknown value raises ValueError listing the valid ones."""
    if value not in names:
        raise ValueError(f"unknown {what} {value!r}; valid: {', '.join(names)}")
    return names[value]


def settings_line(config: RunConfig, step: int) -> str:
    """The run's settings in words: model, activation, T, hidden size, learning rate, seed and step."""
    return (f"{named(MODEL_NAMES, config.model, 'model')}, {named(ACTIVATION_NAMES, config.activation, 'activation')}"
            f" · T = {config.seq_length} · hidden {config.hidden_size} · lr {config.lr:g} · seed {config.seed}"
            f" · step {step} of {config.steps}")


def caption(snap: Snapshot, link: str) -> list[str]:
    """The lines under the charts: the settings (and the step the profile shows, when the step slider picked one),
    and the link that reproduces the run."""
    picked = "" if snap.shown_step is None else f" · profile at step {snap.shown_step}"
    return [settings_line(snap.config, snap.step) + picked, f"Reproduce this run: {link}"]


def _view(spec: dict[str, Any]) -> dict[str, Any]:
    """A chart's top-level spec as one view of a concatenation: its data, config and embed options go up a level."""
    body = {key: value for key, value in spec.items() if key not in ("$schema", "config", "datasets", "usermeta")}
    return body | {"width": PLOT[0], "height": PLOT[1]}


def slide_spec(snap: Snapshot, log_y: bool | None, link: str) -> dict[str, Any]:
    """The slide as one Vega-Lite spec (data inline, as JSON rows): the CHARTS side by side for this snapshot with
    the Lab's `log_y` (see charts.loss_log), and the caption (settings and `link`) as a title below them."""
    specs = [vega_spec(name, snap, log_y, presentation=True) for name in CHARTS]
    datasets = {name: table.to_pylist() for spec in specs for name, table in spec["datasets"].items()}
    return {"$schema": specs[0]["$schema"], "config": specs[0]["config"], "datasets": datasets,
            "background": "white", "hconcat": [_view(spec) for spec in specs], "spacing": 40,
            "title": {"text": caption(snap, link), "orient": "bottom", "anchor": "start", "fontSize": CAPTION_PX,
                      "fontWeight": "normal", "offset": 16}}


def fit_svg(svg: str, size: tuple[int, int] = SLIDE) -> str:
    """`svg` (vl-convert's: a root with width, height and a viewBox at the origin) on a canvas of exactly `size`:
    the viewBox widened to the canvas's proportions around the drawing, so it is scaled to fit and centred, and a
    white background under all of it."""
    match = SVG_ROOT.search(svg)
    if match is None:
        raise ValueError("not an SVG root with width, height and viewBox, as vl-convert writes it")
    width, height = float(match.group(2)), float(match.group(3))
    box_w = max(width, height * size[0] / size[1])
    box_h = box_w * size[1] / size[0]
    x, y = (width - box_w) / 2, (height - box_h) / 2
    root = (f'<svg{match.group(1)} width="{size[0]}" height="{size[1]}" viewBox="{x:g} {y:g} {box_w:g} {box_h:g}">'
            f'<rect x="{x:g}" y="{y:g}" width="{box_w:g}" height="{box_h:g}" fill="white"/>')
    return svg[: match.start()] + root + svg[match.end():]


def slide_png(snap: Snapshot, log_y: bool | None, link: str) -> bytes:
    """The slide as PNG bytes, SLIDE × SCALE pixels (2560 × 1440)."""
    svg = vl_convert.vegalite_to_svg(slide_spec(snap, log_y, link))
    return vl_convert.svg_to_png(fit_svg(svg), scale=SCALE)


def slide_file_name(config: RunConfig) -> str:
    """e.g. rnn_lab_lstm_tanh_first_token_T50_slide.png: named like the run's weights file."""
    return weights_file_name(config).removesuffix(".pt") + "_slide.png"

"""The words view: one sentence of the current batch printed as words, each shaded by the gradient at its position.

Shown for task "sentence" on every live view (the Lab and the watch page). A word's shade is the step's
‖∂L/∂h_t‖ at that word's position t: the norm over the whole batch, the same numbers as the profile chart's
latest curve (every sentence has its cue at t = 1, so position t means the same word slot in each). For an LSTM
a second strip shades each word by the step's forget gate f_t (mean over the batch and the units).

Like charts.py, each strip is a constant Vega-Lite spec (cached per strip and text size) over the named
dataset "words"; a redraw ships only the new rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import altair as alt
import numpy as np
import pyarrow as pa
import streamlit as st

from dashboard.charts import CELL_COLOURS, FONTS, floored
from dashboard.history import Snapshot
from models.tasks import CUES, Sentence

WORDS_PER_LINE = 10  # 10 cells of the longest word ("kannada") fit the Lab's chart column at 1280 × 720
LINE_HEIGHT = {False: 34, True: 42}  # px per line of words: the Lab's, presentation mode's
LEGEND_PAD = 20  # px the colour legend adds to its title and label sizes (paddings, labels overhanging the bar)
ANSWERS = {1: "yes (north)", 0: "no (south)"}


@dataclass(frozen=True)
class Strip:
    """One row of shaded words: what shades them, taken from the step's record, and how the colour scale reads."""

    title: str
    values: Callable[[Any], np.ndarray | None]  # StepRecord -> (T,) values, or None when this run has none
    scale: dict[str, Any]  # alt.Scale arguments of the colour
    fmt: str  # the exact number on hover


STRIPS: dict[str, Strip] = {
    "gradient": Strip("‖∂L/∂h_t‖", lambda rec: rec.hidden,
                      {"type": "log", "scheme": "blues"}, ".4g"),
    "forget": Strip("forget gate f_t", lambda rec: None if rec.gates is None or len(rec.gates) != 3 else rec.gates[0],
                    {"domain": [0, 1], "scheme": "greens"}, ".3f"),
}


def strip_frame(words: list[str], values: np.ndarray, cut: np.ndarray | None = None) -> pa.Table:
    """One row per word: its place (line, column), the word, t, the exact value, the value the colour scale draws
    (exact zeros a decade below the smallest nonzero one, as on the charts), whether it is the cue, whether truncated
    BPTT cut it off, and whether its shade is dark enough for white text."""
    t = np.arange(len(words))
    shaded, _ = floored(np.asarray(values, dtype=np.float64))
    dark = _darkness(shaded) > 0.6
    cut = np.zeros(len(words), dtype=bool) if cut is None else np.asarray(cut, dtype=bool)
    return pa.table({"line": t // WORDS_PER_LINE, "column": t % WORDS_PER_LINE, "word": words, "t": t + 1,
                     "value": np.asarray(values, dtype=np.float64), "shade": shaded, "cue": t == 0, "cut": cut,
                     "dark": dark & ~cut})


def _darkness(shaded: np.ndarray) -> np.ndarray:
    """Where each value sits between the smallest and largest, on log10: 0 lightest, 1 darkest."""
    logs = np.log10(np.where(shaded > 0, shaded, np.nan))
    lo, hi = np.nanmin(logs, initial=0.0), np.nanmax(logs, initial=0.0)
    return np.nan_to_num((logs - lo) / (hi - lo)) if hi > lo else np.zeros_like(shaded)


@lru_cache(maxsize=len(STRIPS) * 2 * 60)  # a strip, the text size, lines 1..60 (T ≤ 500 words, 10 a line)
def strip_spec(name: str, presentation: bool, lines: int) -> dict[str, Any]:
    """The constant Vega-Lite spec of strip `name` (a key of STRIPS) over the dataset "words"."""
    if name not in STRIPS:
        raise ValueError(f"unknown strip {name!r}; valid: {', '.join(STRIPS)}")
    strip, size = STRIPS[name], FONTS[presentation]
    # Streamlit cuts a chart at its height, so the legend (title, bar, end labels) must fit inside it: Vega-Lite's
    # 200 px bar ran ~20 px below a five-line strip and hid its lowest label.
    legend_text = size["title"] + size["label"] + LEGEND_PAD
    bar = max(lines * LINE_HEIGHT[presentation] - legend_text, 2 * size["label"] + 8)  # its two end labels apart
    base = alt.Chart(alt.NamedData("words")).encode(
        x=alt.X("column:O", axis=None), y=alt.Y("line:O", axis=None),
        tooltip=[alt.Tooltip("word:N"), alt.Tooltip("t:Q", title="t"),
                 alt.Tooltip("value:Q", title=strip.title, format=strip.fmt),
                 alt.Tooltip("cut:N", title="cut off (truncated BPTT)")])
    fill = alt.condition("datum.cut", alt.value(CELL_COLOURS[0]), alt.Color(
        "shade:Q", title=strip.title, scale=alt.Scale(**strip.scale),
        legend=alt.Legend(orient="right", format=".1e" if name == "gradient" else ".1f", gradientLength=bar)))
    cells = base.mark_rect(cornerRadius=3).encode(
        color=fill, stroke=alt.condition("datum.cue", alt.value("#d62728"), alt.value("white")),
        strokeWidth=alt.condition("datum.cue", alt.value(3), alt.value(1)))
    text = base.mark_text(fontSize=size["label"]).encode(
        text="word:N", color=alt.condition("datum.dark", alt.value("white"), alt.value("black")))
    chart = (cells + text).properties(height=max(lines * LINE_HEIGHT[presentation], bar + legend_text),
                                      width="container")
    # SVG, unlike the charts' canvas: the words stay text a screen reader (and a browser test) can read, and one
    # strip has at most 500 cells.
    return chart.configure_view(stroke=None).configure_legend(
        labelFontSize=size["label"], titleFontSize=size["title"]).to_dict() | {
        "usermeta": {"embedOptions": {"renderer": "svg"}}}


def strip_names(snap: Snapshot) -> tuple[str, ...]:
    """The strips this run can show: the gradient always, the forget gate for an LSTM once a step has run."""
    latest = snap.history.latest
    return tuple(name for name in STRIPS if latest is not None and STRIPS[name].values(latest) is not None)


def sentence_words(snap: Snapshot, index: int) -> list[str]:
    """The words of the batch's sentence `index` (0-based) at the latest step."""
    return [Sentence.vocab[i] for i in snap.history.latest.examples[index]]


def words_view(snap: Snapshot, key: str, presentation: bool = False) -> None:
    """One sentence of the current batch as words shaded by ‖∂L/∂h_t‖ (and, LSTM, by f_t), with a keyed picker.
    Draws nothing unless the run's task is "sentence"."""
    if snap.config.task != "sentence":
        return
    with st.container():  # drawn before and after the first step, so the charts below keep their places
        _sentence(snap, key, presentation)


def _sentence(snap: Snapshot, key: str, presentation: bool) -> None:
    st.markdown("**The sentence, word by word**")
    latest = snap.history.latest
    if latest is None or latest.examples is None:
        st.caption("No step yet: the words of a sentence of the batch appear here after the first step.")
        return
    shown = len(latest.examples)
    index = st.selectbox("Sentence of the batch", range(shown), key=key, format_func=lambda i: f"{i + 1} of {shown}")
    words = sentence_words(snap, index)
    lines = -(-len(words) // WORDS_PER_LINE)
    for name in strip_names(snap):
        values = STRIPS[name].values(latest)
        data = strip_frame(words, values, latest.truncated if name == "gradient" else None)
        with st.container(key=f"{key}_{name}_strip"):  # a keyed container is addressable on the page
            st.vega_lite_chart(spec={**strip_spec(name, presentation, lines), "datasets": {"words": data}},
                               key=f"{key}_{name}")
    st.caption(_caption(snap, words))


def _caption(snap: Snapshot, words: list[str]) -> str:
    latest = snap.history.latest
    text = (f"Step {latest.step}. A word's shade is ‖∂L/∂h_t‖ at its position t over the whole batch (the profile "
            "chart's latest curve; every sentence has its cue at t = 1), not this sentence's own share: darker, more "
            f"gradient; log colour scale; hover a word for the exact number. The outlined first word, "
            f"“{words[0]}”, is the cue: the answer to the question is {ANSWERS[CUES[words[0]]]}.")
    if "forget" in strip_names(snap):
        text += (" The second strip shades each word by the forget gate f_t, the mean over the batch and the units: "
                 "near 1 the cell keeps what it holds, near 0 it drops it.")
    if latest.truncated is not None and latest.truncated.any():
        text += " Grey words: truncated BPTT cut them off, no gradient reaches them by construction."
    return text

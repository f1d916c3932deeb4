"""What pages hand each other through st.session_state: the sidebar's configuration, session settings, a page to open.

Every sidebar widget's key is a RunConfig field, so loading a configuration from anywhere
(a lesson preset, a clicked map cell) is just writing those keys before the sidebar is drawn.
Pages never import each other: one asks for another by name (`go_to`), and app.py, the only
module that knows the pages, opens it with the query it was given, so the address bar holds
the configuration from the first moment on the new page.
"""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from dashboard.sidebar import FIELDS, config_query, nearest_lr
from models import RunConfig
from models.lessons import LESSONS

PAGE_REQUEST = "open_page"
ARRIVAL = "arrival_note"  # session_state: what another page loaded into the Lab, said once as it opens
# Session settings of the Lab, bound to the URL next to the RunConfig fields (widget keys = URL names).
LESSON, PACE, PRESENTATION = "lesson", "pace", "presentation"
PRESENTER = "presenter"  # a broadcast presenter's CODE.SECRET (dashboard/presenter.py): kept, never shared
# Steps per second the pace slider offers: slow enough to narrate, fast enough for 300 steps in ~25 s; every
# lesson's pace is one of them (tests/dashboard/test_lesson_panel.py). inf = as fast as possible.
PACES: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 40.0, 60.0, 80.0, 120.0, 200.0, math.inf)
# What `?lesson=` accepts: the lesson's number ("4") or key ("vanishing"), and, for links written before the URL held
# keys, its full title. The Lab writes the key.
BY_NAME = {name: key for number, (key, lesson) in enumerate(LESSONS.items(), 1)
           for name in (str(number), key, lesson.title)}
LESSON_NAMES = ", ".join(f"{number} or {key}" for number, key in enumerate(LESSONS, 1))


def pace_label(pace: float) -> str:
    """The pace slider's label, which is also its value in the URL (`?pace=12`, `?pace=max`)."""
    return "max" if math.isinf(pace) else f"{pace:g}"


def nearest_pace(pace: float | None) -> float:
    """The slider value closest to `pace` steps/s in log space; None (a lesson without a pace) is max."""
    if pace is None or math.isinf(pace):
        return math.inf
    return min(PACES[:-1], key=lambda p: abs(math.log(p) - math.log(pace)))


def runner_pace(pace: float) -> float | None:
    """The slider's value as Runner.set_pace takes it (None = as fast as possible)."""
    return None if math.isinf(pace) else pace


def query_for(config: RunConfig, lesson: str | None, pace: float, presentation: bool) -> dict[str, str]:
    """The Lab's whole URL query: the configuration's non-defaults, the lesson, and the pace and presentation
    mode when they are not the defaults."""
    query = config_query(config)
    if lesson in LESSONS:
        query[LESSON] = lesson
    if pace != math.inf:
        query[PACE] = pace_label(pace)
    if presentation:
        query[PRESENTATION] = "true"
    return query


def lesson_named(name: str | None) -> str | None:
    """The key of the lesson `?lesson=name` names (number, key or title), or None."""
    return BY_NAME.get(name or "")


def next_lesson(key: str | None) -> str | None:
    """The lesson after `key` in the lessons' order, or None after the last."""
    keys = list(LESSONS)
    return keys[keys.index(key) + 1] if key in LESSONS and key != keys[-1] else None


def lab_query(config: RunConfig, lesson: str | None = None) -> dict[str, str]:
    """`query_for` with this session's pace and presentation mode."""
    return query_for(config, lesson, st.session_state.get(PACE, math.inf), bool(st.session_state.get(PRESENTATION)))


def presenting() -> bool:
    """Presentation mode as the page should be laid out before its toggle is drawn: the toggle's value, or
    (at a session's first run, before the toggle has read the URL) the link's."""
    if PRESENTATION in st.session_state:
        return bool(st.session_state[PRESENTATION])
    return st.query_params.get(PRESENTATION, "").lower() == "true"


def config_values(config: RunConfig) -> dict[str, Any]:
    """The sidebar's widget values for `config`: the learning-rate slider is log-spaced, so `lr` is the nearest
    grid value."""
    return config.to_dict() | {"lr": nearest_lr(config.lr)}


def apply_config(config: RunConfig) -> None:
    """Load `config` into the lab's sidebar; call it before the sidebar is drawn in this run
    (from a button callback, or before `st.switch_page` to the Lab)."""
    for name, value in config_values(config).items():
        st.session_state[name] = value


def read_config() -> RunConfig:
    """The configuration the sidebar currently shows; bad or missing values fall back to defaults."""
    values = {name: st.session_state[name] for name in FIELDS if name in st.session_state}
    return RunConfig.from_strings(values, lenient=True)


def go_to(page: str, query: dict[str, str] | None = None, note: str | None = None) -> None:
    """From a callback: open page `page` (a name app.py registers, e.g. "lab") at the start of the next run,
    with `query` in the address bar (None: no query); the Lab says `note` once as it opens (what was loaded)."""
    st.session_state[PAGE_REQUEST] = (page, query)
    if note is not None:
        st.session_state[ARRIVAL] = note


def arrival_note() -> str | None:
    """The note `go_to` left for the Lab, once."""
    return st.session_state.pop(ARRIVAL, None)


def requested_page() -> tuple[str, dict[str, str] | None] | None:
    """(page, query) asked for by `go_to` since the last run, once."""
    return st.session_state.pop(PAGE_REQUEST, None)

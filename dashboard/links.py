"""The Lab's address bar: what a link holds, what a bad link asked for that the lab could not use, the share link.

A link is how a teacher hands out a lesson, so opening one must give the same run, and a value
the lab cannot use must be named, not dropped. Streamlit's query-param binding drops a value its
widget rejects before the page can read the widget, so app.py has the raw query judged once per
session, before any widget is drawn (`read_link`): every value by RunConfig's own rules (the cost
budget included), lesson, pace and presentation mode by theirs. When the run differs from what the
URL says (a value ignored, a size dropped for the budget, a learning rate between the slider's
steps, `?lesson=vanishing` for a lesson's whole preset), app.py reopens the Lab with the corrected
query, from which the widgets then read their values: the address bar reproduces the run from the
first moment, and the page says what it ignored and why (`link_notice`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from dashboard.sidebar import FIELDS, nearest_lr
from dashboard.state import (
    LESSON,
    LESSON_NAMES,
    PACE,
    PRESENTATION,
    PRESENTER,
    lab_query,
    lesson_named,
    nearest_pace,
    pace_label,
    query_for,
)
from dashboard.user_text import literal
from models import RunConfig
from models.config import FieldError
from models.lessons import LESSONS

CHECKED = "link_checked"  # the session's LinkCheck, set at its first Lab run
BOOLEANS = {"true": True, "false": False}
LISTED = 10  # lines a notice lists per kind; a link can carry thousands of parameters


@dataclass(frozen=True)
class LinkCheck:
    """What a link loads and what it could not."""

    query: dict[str, str]  # the link as the Lab writes it: what the widgets read
    config: RunConfig  # the run it gives
    ignored: tuple[str, ...] = ()  # "`name=value`: why" (Markdown, the link's text literal), one per value
    adjusted: tuple[str, ...] = ()  # values moved to the nearest one a slider offers
    rewrite: bool = False  # the widgets would read something else from the raw link: reopen with `query`

    def notice(self) -> str | None:
        """Markdown for the page, or None if the link was fine."""
        parts = []
        if self.ignored:
            parts.append("This link asked for settings the lab cannot use, so it ignored them:\n"
                         + _listed(self.ignored))
        if self.adjusted:
            parts.append("Moved to the nearest value the controls offer:\n" + _listed(self.adjusted))
        return "\n\n".join(parts) or None


def _listed(lines: tuple[str, ...]) -> str:
    """A Markdown list of the first LISTED lines, and how many more there were."""
    more = [f"- … and {len(lines) - LISTED} more"] if len(lines) > LISTED else []
    return "\n".join([f"- {line}" for line in lines[:LISTED]] + more)


def _line(name: str, raw: str, why: str) -> str:
    """One value of the link, its text shown literally (it may be Markdown), and what became of it."""
    return f"{literal(f'{name}={raw}')}{why}"


def _reason(error: ValueError) -> str:
    """RunConfig's message, the value it quotes shown literally: it came from the link."""
    if isinstance(error, FieldError):
        return f"{literal(error.subject)} {error.reason}"
    return str(error)  # the cost budget's message, which quotes only validated sizes


def _config_fields(query: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Each RunConfig field of the link judged on its own: (valid values, why each other one was ignored)."""
    valid, ignored = {}, []
    for name in FIELDS:
        if name in query:
            try:
                valid[name] = getattr(RunConfig.from_strings({name: query[name]}), name)
            except ValueError as error:
                ignored.append(_line(name, query[name], f": {_reason(error)}"))
    return valid, ignored


def _over_budget(valid: dict[str, Any], query: Mapping[str, str]) -> tuple[RunConfig, list[str]]:
    """The sizes together against the cost budget: RunConfig's lenient rule skips the field that crosses it."""
    config = RunConfig.from_strings(valid, lenient=True)
    ignored = []
    for name, value in valid.items():
        if getattr(config, name) != value:
            try:
                config.replace(**{name: value})
                reason = "it does not fit with the link's other sizes"
            except ValueError as error:
                reason = _reason(error)
            ignored.append(_line(name, query[name], f": {reason}"))
    return config, ignored


def _session_settings(query: Mapping[str, str]) -> tuple[dict[str, Any], list[str], list[str]]:
    """Lesson (by number, key or title), pace and presentation: (values, ignored, adjusted)."""
    values, ignored, adjusted = {}, [], []
    if LESSON in query:
        raw = query[LESSON]
        if (key := lesson_named(raw)) is None:
            ignored.append(_line(LESSON, raw, f": no lesson is called that (a lesson's number or key: {LESSON_NAMES})"))
        else:
            values[LESSON] = key
    if PACE in query:
        raw = query[PACE]
        try:
            asked = math.inf if raw == "max" else float(raw)
            if not asked > 0:
                raise ValueError(raw)
        except ValueError:
            ignored.append(_line(PACE, raw, ": a pace is a positive number of steps per second, or max"))
        else:
            values[PACE] = nearest_pace(asked)
            if values[PACE] != asked:
                adjusted.append(_line(PACE, raw, f" → {pace_label(values[PACE])} steps per second"))
    if PRESENTATION in query:
        raw = query[PRESENTATION]
        if raw.lower() in BOOLEANS:
            values[PRESENTATION] = BOOLEANS[raw.lower()]
        else:
            ignored.append(_line(PRESENTATION, raw, ": true or false"))
    return values, ignored, adjusted


def _rounded(config: RunConfig, valid: dict[str, Any], query: Mapping[str, str]) -> tuple[RunConfig, list[str]]:
    """Floats as the Lab writes them into a link (6 significant digits, `config_query`): a run must be the one its
    address reproduces, so a finer value is rounded, and says so."""
    rounded = {name: float(f"{value:g}") for name, value in valid.items()
               if isinstance(value, float) and math.isfinite(value) and float(f"{value:g}") != value}
    lines = [_line(name, query[name], f" → {value:g} (the lab keeps 6 significant digits)")
             for name, value in rounded.items()]
    return config.replace(**rounded), lines


def _repeated(repeats: Mapping[str, list[str]]) -> list[str]:
    """A parameter a link gives more than once: the last value is the one read (st.query_params.to_dict)."""
    return [f"{literal(name)} given {len(values)} times ({', '.join(literal(v) for v in values[:3])}"
            f"{', …' if len(values) > 3 else ''}): the last one is used" for name, values in repeats.items()]


def _as_written(raw: str, value: Any) -> bool:
    """Would the widget read `raw` as `value` by itself? (Its integer parser refuses "1e3" and "5.0".)"""
    return raw == str(value) if isinstance(value, int) else True


def check_link(query: Mapping[str, str], repeats: Mapping[str, list[str]] | None = None) -> LinkCheck:
    """Judge a link's raw query (`repeats`: every value of a parameter given more than once, `query` holding the
    last): what it loads, what it could not use and why (pure: no Streamlit)."""
    valid, ignored = _config_fields(query)
    config, over = _over_budget(valid, query)
    config, adjusted = _rounded(config, {k: v for k, v in valid.items() if getattr(config, k) == v}, query)
    ignored += _repeated(repeats or {})
    settings, bad, moved = _session_settings(query)
    adjusted = moved + adjusted
    unknown = [_line(name, value, ": not a setting of the lab") for name, value in query.items()
               if name not in (*FIELDS, LESSON, PACE, PRESENTATION, PRESENTER)]
    lesson = LESSONS.get(settings.get(LESSON, ""))
    preset = lesson is not None and not valid and not ignored  # `?lesson=vanishing`: the lesson's preset and pace
    if preset:
        config = lesson.config
        settings.setdefault(PACE, nearest_pace(lesson.pace))
    if nearest_lr(config.lr) != config.lr:
        adjusted.append(_line("lr", query.get("lr", str(config.lr)), f" → {nearest_lr(config.lr):g} (the "
                              "learning-rate slider's steps)"))
        config = config.replace(lr=nearest_lr(config.lr))
    rewrite = bool(ignored or over or bad or unknown or adjusted or preset
                   or (lesson is not None and query[LESSON] != lesson.key)
                   or not all(_as_written(query[name], value) for name, value in valid.items()))
    canonical = query_for(config, settings.get(LESSON), settings.get(PACE, math.inf),
                          settings.get(PRESENTATION, False))
    if PRESENTER in query:  # the presenter page's own link: dashboard/presenter.py checks it (never echoed here)
        canonical[PRESENTER] = query[PRESENTER]
    return LinkCheck(canonical, config, tuple(ignored + over + bad + unknown), tuple(adjusted), rewrite)


def read_link() -> dict[str, str] | None:
    """At a session's first Lab run, before any widget: judge the raw link once. Returns the query to reopen
    the Lab with when the widgets would read something else from it, else None."""
    if CHECKED in st.session_state:
        return None
    repeats = {name: values for name in st.query_params if len(values := st.query_params.get_all(name)) > 1}
    check = st.session_state[CHECKED] = check_link(st.query_params.to_dict(), repeats)
    return check.query if check.rewrite else None


def link_notice(config: RunConfig) -> None:
    """What the session's link could not use, until the configuration changes."""
    check: LinkCheck | None = st.session_state.get(CHECKED)
    if check is not None and config == check.config and (notice := check.notice()):
        st.warning(notice, icon=":material/link_off:")


def page_address() -> str:
    """This page's address without its query ("" where the browser did not report it, as in AppTest)."""
    return (st.context.url or "").split("?")[0]


def share_link(query: Mapping[str, str], base: str | None = None) -> str:
    """`base` (by default this page's address) with `query`. Pass `base` where no page run is in progress (a
    download's deferred data), which cannot read st.context."""
    base = page_address() if base is None else base
    return f"{base}?{urlencode(query)}" if query else base or "(defaults)"


def link_section(config: RunConfig, lesson: str | None) -> None:
    """A copyable link that reproduces this experiment (st.code has a copy button)."""
    st.caption("Link to this experiment (copy button on the right):")
    st.code(share_link(lab_query(config, lesson)), language=None, wrap_lines=True)

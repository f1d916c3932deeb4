"""Broadcast, the students' side: the read-only `?watch=CODE` page.

Viewers only read the presenter's Runner through the process-wide room store: a watch page
never builds a Runner or Trainer. Their charts come from one shared `Frame` per room, rebuilt
at most once per refresh period however many students watch. Built per viewer, thirty viewers
took the GIL from the presenter's training thread and cut its rate to 22% of a lone run; shared,
it measured 84-96% (`python -m benchmarks.broadcast [--per-viewer]`).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import streamlit as st

from dashboard.broadcast import Rooms, RoomView, WrongCodes, normalize_code
from dashboard.charts import LIVE_CHARTS, vega_spec
from dashboard.compare import applies
from dashboard.history import Snapshot
from dashboard.lesson_panel import lesson_frame
from dashboard.live_view import chart_grid, log_scale_toggle, progress, status
from dashboard.poll import student_poll
from dashboard.presenter import base_url, rooms
from dashboard.user_text import literal
from dashboard.words_view import words_view

WATCH_REFRESH_S = float(os.environ.get("RNN_LAB_WATCH_REFRESH_S", "0.25"))  # a viewer's redraw period
VIEWER_KEY = "watch_viewer"
SEEN_KEY = "watch_seen"  # codes this viewer has watched: tells "ended" from "no such code"
WRONG_KEY = "watch_wrong"  # this tab's wrong codes (WrongCodes): a guessing tab is made to wait
TITLE = "RNN Gradient Lab — live broadcast"
WATCHING = ("You are watching the presenter's run live (broadcast **{code}**): the presenter trains, pauses and "
            "changes it; this page follows along and changes nothing.")


@dataclass(frozen=True)
class Frame:
    """One refresh of a room as every viewer draws it: the snapshot and each chart's spec, data Arrow-encoded."""

    snap: Snapshot
    specs: dict[str, dict[str, Any]]


def arrow_bytes(table: pa.Table) -> bytes:
    """`table` in Arrow's IPC stream format: the bytes st.vega_lite_chart sends the browser for a table."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _encoded_spec(name: str, snap: Snapshot, log_y: bool | None, presentation: bool) -> dict[str, Any]:
    """charts.vega_spec with its datasets as Arrow bytes, which st.vega_lite_chart passes through as is."""
    spec = vega_spec(name, snap, log_y, presentation)
    return spec | {"datasets": {k: arrow_bytes(table) for k, table in spec["datasets"].items()}}


def build_frame(source: Any, log_y: bool | None, presentation: bool = False) -> Frame:
    """A frame of the presenter's run `source` (its Runner)."""
    snap = source.snapshot()
    return Frame(snap, {c.name: _encoded_spec(c.name, snap, log_y, presentation) for c in LIVE_CHARTS})


def shared_frame(store: Rooms, code: str, log_y: bool | None, max_age: float = WATCH_REFRESH_S,
                 presentation: bool = False) -> Frame | None:
    """Room `code`'s current frame, rebuilt when older than `max_age`: one build per period for all viewers
    (the presenter steps hundreds of times a second, so sharing per step would share nothing). None: no room.
    A projector in presentation mode shares its own frame (larger chart text)."""
    return store.shared(code, (log_y, presentation), lambda source: build_frame(source, log_y, presentation),
                        max_age)


def _lesson(info: Mapping[str, Any], compact: bool) -> None:
    if not info.get("title"):
        return
    lesson_frame(info["title"], lambda: _lesson_text(info), compact)


def _lesson_text(info: Mapping[str, Any]) -> None:
    if info.get("explanation"):
        st.markdown(info["explanation"])
    if info.get("watch"):
        st.markdown(f"**What to watch.** {info['watch']}")


def _settings(snap: Snapshot) -> None:
    """The presenter's current settings (live lr / clipping included) that apply to this run, one line."""
    st.caption(" · ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                          for k, v in snap.config.to_dict().items() if applies(snap.config, k)))


def _gone(code: str) -> None:
    if code in st.session_state[SEEN_KEY]:
        st.info(f"The broadcast **{literal(code)}** has ended. Thanks for watching! Ask your presenter for a new link, "
                "or open the lab yourself:")
    else:
        st.warning(f"There is no live broadcast with the code **{literal(code)}**. Check the code on the "
                   "presenter's screen (letters and digits, no 0/O or 1/I), or open the lab yourself:")
    st.link_button("Open RNN Gradient Lab", base_url(), icon=":material/science:")


def _room(code: str) -> RoomView | None:
    room = rooms().watch(code, st.session_state[VIEWER_KEY])
    if room is not None:
        st.session_state[SEEN_KEY].add(code)
    return room


def _checked(code: str) -> RoomView | None:
    """The live room `code`, or None once a plain notice says why not.

    Checked before any widget, chart or run is built, so a wrong code costs about what a static page does
    (guessing codes buys no server CPU); a tab that guessed too often is refused before the lookup.
    Per tab, not per IP address: a class behind one school router shares one address, and one student's
    guessing must not lock the others out; a script that opens a new session per guess already pays for it.
    """
    wrong = st.session_state[WRONG_KEY]
    if wait := wrong.wait():
        st.warning(f"Too many wrong codes; wait {wait} s, then reload this page.")
        return None
    room = _room(code)
    if room is None:
        if code not in st.session_state[SEEN_KEY]:  # an ended broadcast is no wrong code
            wrong.failed()
        st.title(TITLE)
        _gone(code)
    return room


def watch_page(code: str) -> None:
    """Read-only live view of broadcast `code`: lesson text, settings, status and every chart."""
    if VIEWER_KEY not in st.session_state:
        st.session_state[VIEWER_KEY] = secrets.token_urlsafe(8)  # this tab in the viewer count
        st.session_state[SEEN_KEY] = set()
        st.session_state[WRONG_KEY] = WrongCodes()
    if _checked(code) is None:
        return
    cols = st.columns([5, 1.4, 1.4], vertical_alignment="center")
    presentation = cols[2].toggle("Presentation", key="presentation", bind="query-params",
                                  help="For a projector: larger chart text, the lesson on one line.")
    log_y = log_scale_toggle(cols[1], "watch_log_loss")
    with cols[0]:
        if presentation:
            st.markdown(f"### RNN Gradient Lab — live broadcast {literal(normalize_code(code))}")
        else:
            st.title(TITLE)
            st.caption(WATCHING.format(code=literal(normalize_code(code))))

    @st.fragment(run_every=WATCH_REFRESH_S)
    def _live() -> None:
        room = _room(code)
        frame = None if room is None else shared_frame(rooms(), code, log_y, presentation=presentation)
        if frame is None:
            st.rerun()  # full run: show why, and stop polling
        with st.container():  # drawn with or without a lesson, so the charts below keep their places
            _lesson(room.info, presentation)
        with st.container():  # the presenter's question, then the class's tally: drawn with or without one
            student_poll(code, room.poll, st.session_state[VIEWER_KEY])
        _settings(frame.snap)
        status(frame.snap, compact=presentation)
        progress(frame.snap)
        words_view(frame.snap, "watch_words", presentation)
        chart_grid(frame.snap, frame.specs, audience="watch")

    _live()

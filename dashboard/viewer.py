"""Broadcast ("present") mode: the presenter's panel on the Lab page and the students' `?watch=CODE` page.

Viewers only read the presenter's Runner through the process-wide room store: a watch page
never builds a Runner or Trainer. Their charts come from one shared `Frame` per room, rebuilt
at most once per refresh period however many students watch. Built per viewer, thirty viewers
took the GIL from the presenter's training thread and cut its rate to 22% of a lone run; shared,
it measured 84-96% (`python -m benchmarks.broadcast [--per-viewer]`).
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st
from streamlit.dataframe_util import convert_anything_to_arrow_bytes

from dashboard import charts
from dashboard.broadcast import Room, Rooms
from dashboard.lab_page import chart_captions, chart_grid, status
from dashboard.runner import Runner, Snapshot

WATCH_REFRESH_S = float(os.environ.get("RNN_LAB_WATCH_REFRESH_S", "0.25"))  # a viewer's redraw period
PANEL_REFRESH_S = 5.0  # the presenter's heartbeat to the room and viewer count; rooms idle out after minutes
VIEWER_KEY = "watch_viewer"
SEEN_KEY = "watch_seen"  # codes this viewer has watched: tells "ended" from "no such code"


@st.cache_resource(show_spinner=False)
def rooms() -> Rooms:
    """The one room store of this server process, shared by every session."""
    return Rooms()


# --- presenter ----------------------------------------------------------------------------
@dataclass
class Presenter:
    """This session's broadcast, if any; closing the tab closes the room (on_release)."""

    store: Rooms
    code: str | None = None

    def stop(self) -> None:
        if self.code is not None:
            self.store.close(self.code)
        self.code = None


@st.cache_resource(scope="session", on_release=lambda presenter: presenter.stop(), show_spinner=False)
def presenter() -> Presenter:
    return Presenter(rooms())


def _publish(runner: Runner, info: dict[str, Any]) -> None:
    try:
        presenter().code = rooms().publish(runner, info)
    except RuntimeError as full:
        st.session_state["present_error"] = str(full)


def _base_url() -> str:
    """This page's address without its query ("/" where the browser did not report it, as in AppTest)."""
    return (st.context.url or "").split("?")[0] or "/"


def watch_link(code: str) -> str:
    """The full address students open."""
    return f"{_base_url()}?watch={code}"


def present_panel(runner: Runner, info: dict[str, Any]) -> None:
    """Presenter controls: publish this session's run under a room code, show code, link and viewers, Stop.

    `info` is what viewers see above the charts: its "title", "explanation" and "watch" texts are
    shown (the settings come from the run itself); every call refreshes it and keeps the room alive.
    """
    me = presenter()
    if me.code is not None and rooms().touch(me.code, info) is None:
        me.code = None  # expired (e.g. the store was cleared)
    if me.code is None:
        st.button("Broadcast this run", key="present_start", icon=":material/cast:", on_click=_publish,
                  args=(runner, info), help="Students open a link and watch this run live, read-only; "
                  "their pages train nothing.")
        if "present_error" in st.session_state:
            st.error(st.session_state.pop("present_error"))
        return
    st.caption("Room code")
    st.markdown(f"<div style='font-size:2.6rem;font-weight:700;letter-spacing:0.2em'>{me.code}</div>",
                unsafe_allow_html=True)
    st.caption("Students open this link (copy button on the right):")
    st.code(watch_link(me.code), language=None, wrap_lines=True)
    _on_air(me.code, info)
    st.button("Stop broadcast", key="present_stop", icon=":material/cancel_presentation:", on_click=me.stop)


@st.fragment(run_every=PANEL_REFRESH_S)
def _on_air(code: str, info: dict[str, Any]) -> None:
    """Heartbeat while the presenter trains without touching a widget; the live viewer count."""
    room = rooms().touch(code, info)
    count = 0 if room is None else room.viewer_count(rooms().clock())
    st.metric("Watching now", count)


# --- viewer -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """One refresh of a room as every viewer draws it: the snapshot and each chart's spec, data Arrow-encoded."""

    made: float
    snap: Snapshot
    specs: dict[str, dict[str, Any]]


def _encoded_spec(name: str, snap: Snapshot, log_y: bool) -> dict[str, Any]:
    """charts.vega_spec with its datasets as Arrow bytes, which st.vega_lite_chart passes through as is."""
    spec = charts.vega_spec(name, snap, log_y)
    return spec | {"datasets": {k: convert_anything_to_arrow_bytes(df) for k, df in spec["datasets"].items()}}


def shared_frame(room: Room, log_y: bool, max_age: float = WATCH_REFRESH_S) -> Frame:
    """The room's current frame, rebuilt when older than `max_age`: one build per period for all viewers
    (the presenter steps hundreds of times a second, so sharing per step would share nothing)."""
    with room.frame_lock:  # the first viewer of a period builds it, the others wait for it
        frame = room.frames.get(log_y)
        if frame is None or time.monotonic() - frame.made >= max_age:
            snap = room.source.snapshot()
            specs = {name: _encoded_spec(name, snap, log_y) for name in charts.CHARTS}
            frame = room.frames[log_y] = Frame(time.monotonic(), snap, specs)
        return frame


def _lesson(info: dict[str, Any]) -> None:
    if not info.get("title"):
        return
    with st.container(border=True):
        st.markdown(f"#### {info['title']}")
        if info.get("explanation"):
            st.markdown(info["explanation"])
        if info.get("watch"):
            st.markdown(f"**What to watch.** {info['watch']}")


def _settings(snap: Snapshot) -> None:
    """The presenter's current settings (live lr / clipping included), one line."""
    st.caption(" · ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                          for k, v in snap.config.to_dict().items()))


def _gone(code: str) -> None:
    if code in st.session_state[SEEN_KEY]:
        st.info(f"The broadcast **{code}** has ended. Thanks for watching! Ask your presenter for a new link, "
                "or open the lab yourself:")
    else:
        st.warning(f"There is no live broadcast with the code **{code or '(empty)'}**. Check the code on the "
                   "presenter's screen (letters and digits, no 0/O or 1/I), or open the lab yourself:")
    st.link_button("Open RNN Gradient Lab", _base_url(), icon=":material/science:")


def _room(code: str) -> Room | None:
    room = rooms().watch(code, st.session_state[VIEWER_KEY])
    if room is not None:
        st.session_state[SEEN_KEY].add(code)
    return room


def watch_page(code: str) -> None:
    """Read-only live view of broadcast `code`: lesson text, settings, status and every chart."""
    if VIEWER_KEY not in st.session_state:
        st.session_state[VIEWER_KEY] = secrets.token_urlsafe(8)  # this tab in the viewer count
        st.session_state[SEEN_KEY] = set()
    st.title("RNN Gradient Lab — live broadcast")
    if _room(code) is None:
        _gone(code)
        return
    log_y = st.toggle("Log-scale loss", key="watch_log_loss")

    @st.fragment(run_every=WATCH_REFRESH_S)
    def _live() -> None:
        room = _room(code)
        if room is None:
            st.rerun()  # full run: show why, and stop polling
        frame = shared_frame(room, log_y)
        _lesson(room.info)
        _settings(frame.snap)
        status(frame.snap)
        chart_grid(frame.specs, chart_captions(frame.snap))

    _live()

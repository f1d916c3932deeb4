"""Broadcast, the presenter's side: the Lab's panel that publishes this session's run under a room code.

The room store is one per server process (`rooms()`), shared with the watch page that students open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboard.broadcast import Rooms
from dashboard.runner import Runner

PANEL_REFRESH_S = 5.0  # the presenter's heartbeat to the room and viewer count; rooms idle out after minutes


@st.cache_resource(show_spinner=False)
def rooms() -> Rooms:
    """The one room store of this server process, shared by every session."""
    return Rooms()


def base_url() -> str:
    """This page's address without its query ("/" where the browser did not report it, as in AppTest)."""
    return (st.context.url or "").split("?")[0] or "/"


def watch_link(code: str) -> str:
    """The full address students open."""
    return f"{base_url()}?watch={code}"


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
    st.metric("Watching now", 0 if room is None else room.viewers)

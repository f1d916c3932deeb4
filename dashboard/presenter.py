"""Broadcast, the presenter's side: the Lab's panel that publishes this session's run under a room code.

One click on "Broadcast" shows the room code in large type in the Lab's main area, with the
link students open. A teacher who runs the lab on their own computer sees it at
http://localhost:8501, an address no student's device can open; the panel then gives the
server's address on the room's network instead (the "Network URL" Streamlit prints when it starts,
found the same way) or, when the server listens on this computer only, how to restart it on the
network. The room store is one per server process (`rooms()`), shared with the students' watch page.

The room, not this browser session, owns the broadcast run: opening a room puts `?presenter=CODE.SECRET` in
the presenter's own address, so F5, a crashed browser or the same link on another device reopens the same
room and run (`reopen_room`). The secret lives only in the presenter's page and URL; nothing a viewer's page
receives carries it, and no notice echoes it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from dashboard.broadcast import IDLE_SECONDS, Opened, Rooms
from dashboard.presses import press_button
from dashboard.runner import Runner
from dashboard.state import PRESENTER

LOOPBACK = ("localhost", "127.0.0.1", "::1")
RESTART = "streamlit run dashboard/app.py --server.address 0.0.0.0"
# A documentation address (RFC 5737) that no network routes to: connecting a UDP socket only asks the kernel
# which interface would carry the packet; nothing is sent.
ROUTE_PROBE = ("198.51.100.1", 9)
NOT_LIVE = ("This presenter link does not open a live broadcast: the broadcast was ended, or it had no presenter "
            f"for {IDLE_SECONDS // 60:g} minutes, or the link is incomplete. Press Broadcast to open a new room.")
KEEP_IT = ("Reopens this room and its run after a reload, a crash or on another device. **Do not share it or "
           "project it**: whoever has it controls the broadcast. Students use the link above.")


def _release(runner: Runner) -> None:
    """An expired room's run: nobody holds it any more (its presenter's tab closed long ago)."""
    runner.close(wait=False)


@st.cache_resource(show_spinner=False)
def rooms() -> Rooms:
    """The one room store of this server process, shared by every session."""
    return Rooms(release=_release)


def base_url() -> str:
    """This page's address without its query ("/" where the browser did not report it, as in AppTest)."""
    return (st.context.url or "").split("?")[0] or "/"


def watch_link(code: str, base: str | None = None) -> str:
    """The full address students open (on `base`, by default this page's address)."""
    base = base or base_url()
    return f"{base if base.endswith('/') else base + '/'}?watch={code}"


@dataclass(frozen=True)
class Reach:
    """Where students can open the broadcast: the link to show, and what the teacher must know about it."""

    base: str  # the address to put in front of ?watch=CODE
    hint: str | None = None  # markdown: why this address, and what to do if students cannot open it


def lan_address() -> str | None:
    """This machine's address on the network of its default route (Streamlit's "Network URL"); None: no route."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(ROUTE_PROBE)
        except OSError:
            return None
        return probe.getsockname()[0]


def reach(page_url: str, listen: str | None, lan_ip: str | None) -> Reach:
    """Students' address for a presenter at `page_url`, a server listening on `listen` (server.address; None =
    every interface) and this machine's address on the room's network `lan_ip` (None / 127.0.0.1: none)."""
    parts = urlsplit(page_url.split("?")[0])
    if parts.hostname not in LOOPBACK:
        return Reach(page_url.split("?")[0] or "/")
    lan = lan_ip if lan_ip and lan_ip != "127.0.0.1" else None
    on_lan = urlunsplit(parts._replace(netloc=f"{lan}:{parts.port}" if parts.port else lan)) if lan else None
    if listen in LOOPBACK:
        return Reach(on_lan or parts.geturl(), f"**Students cannot open this yet:** this server listens on this "
                     f"computer only. Restart it on the room's network with `{RESTART}`; students then open the "
                     "link above.")
    if on_lan is None:
        return Reach(parts.geturl(), "**Students cannot open localhost links**, and this computer has no address "
                     "on a network. Connect it to the room's network (then reload this page), or deploy the lab "
                     "(docs/deploy.md).")
    return Reach(on_lan, f"This is the server's address on the room's network: `localhost` works only on this "
                 f"computer. Devices must be on the same network; if they cannot connect, allow port "
                 f"{parts.port or 80} in this computer's firewall.")


@dataclass
class Presenter:
    """This session's broadcast, if any: the room's code and secret. Closing the tab does not close the room (the
    room owns its run); End broadcast or the room's idle timeout does."""

    store: Rooms
    code: str | None = None
    secret: str | None = None

    def stop(self) -> Runner | None:
        """End this session's room; returns its run (back to this session), or None if there was none."""
        room = self.room()
        self.code = self.secret = None
        return None if room is None else self.store.close(room[0])

    def room(self) -> tuple[str, str] | None:
        return None if self.code is None or self.secret is None else (self.code, self.secret)


@st.cache_resource(scope="session", show_spinner=False)
def presenter() -> Presenter:
    return Presenter(rooms())


def presenter_param(opened: Opened) -> str:
    return f"{opened.code}.{opened.secret}"


def _publish(runner: Runner, info: dict[str, Any]) -> None:
    try:
        opened = rooms().open(runner, info)
    except RuntimeError as full:
        st.session_state["present_error"] = str(full)
        return
    runner.reserve(True)
    presenter().code, presenter().secret = opened.code, opened.secret
    st.query_params[PRESENTER] = presenter_param(opened)  # in the page's own URL: F5 reopens the room


def end_room() -> None:
    """End broadcast: the room closes, its run goes back to this session as an ordinary run."""
    if (runner := presenter().stop()) is not None:
        runner.reserve(False)
    st.query_params.pop(PRESENTER, None)


def reopen_room() -> Runner | None:
    """At a page run without a live room in this session: the run of the room the URL's presenter link opens (the
    page then adopts it), or None. A link that opens no live room is dropped from the URL with a plain notice
    that never repeats it."""
    if presenter().code is not None or PRESENTER not in st.query_params:
        return None
    code, _, secret = st.query_params[PRESENTER].partition(".")
    room = rooms().reopen(code, secret)
    if room is None:
        del st.query_params[PRESENTER]
        st.session_state["present_error"] = NOT_LIVE
        return None
    presenter().code, presenter().secret = room.code, secret
    return room.source


def broadcasting(info: dict[str, Any]) -> str | None:
    """This session's live room code (refreshing what viewers read above the charts), or None."""
    me = presenter()
    if (room := me.room()) is not None and rooms().touch(*room, info) is None:
        me.code = me.secret = None  # expired (e.g. the store was cleared)
        st.query_params.pop(PRESENTER, None)
    return me.code


def present_button(runner: Runner, info: dict[str, Any], disabled: bool = False) -> None:
    """The control-row button that opens a room; while broadcasting it is a disabled "On air", so a second click
    never ends the room (End broadcast is in the room badge's menu, and asks first). One key in both roles (like
    the Train / Pause button): a new key would draw the new button beside the stale one until the rerun ends.
    `disabled`: no new room (a watch-only server's page without the presenter key)."""
    if presenter().code is None:
        press_button(st, "Broadcast", key="present", icon=":material/cast:", action=_publish, args=(runner, info),
                     width="stretch", disabled=disabled, help="Students open a link and watch this run live, "
                     "read-only; their pages train nothing. The room code appears in large type below.")
    else:
        press_button(st, "On air", key="present", icon=":material/cast_connected:", action=None, disabled=True,
                     width="stretch", help="Broadcasting: the room code is below. End broadcast is in its Room menu.")


def presenter_link(base: str) -> None:
    """The presenter's own link (this page's address, secret included), folded: copy it to another device."""
    with st.expander("Presenter link (keep it to yourself)", icon=":material/key:"):
        st.code(f"{base}?{urlencode(st.query_params.to_dict())}", language=None, wrap_lines=True)
        st.caption(KEEP_IT)

"""Broadcast, the presenter's side: the Lab's panel that publishes this session's run under a room code.

One click on "Broadcast" shows the room code in large type in the Lab's main area, with the
link students open. A teacher who runs the lab on their own computer sees it at
http://localhost:8501, an address no student's device can open; the panel then gives the
server's address on the room's network instead (the "Network URL" Streamlit prints when it starts,
found the same way) or, when the server listens on this computer only, how to restart it on the
network. The room store is one per server process (`rooms()`), shared with the students' watch page.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from dashboard.broadcast import Rooms
from dashboard.runner import Runner

LOOPBACK = ("localhost", "127.0.0.1", "::1")
RESTART = "streamlit run dashboard/app.py --server.address 0.0.0.0"
# A documentation address (RFC 5737) that no network routes to: connecting a UDP socket only asks the kernel
# which interface would carry the packet; nothing is sent.
ROUTE_PROBE = ("198.51.100.1", 9)


@st.cache_resource(show_spinner=False)
def rooms() -> Rooms:
    """The one room store of this server process, shared by every session."""
    return Rooms()


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


def broadcasting(info: dict[str, Any]) -> str | None:
    """This session's live room code (refreshing what viewers read above the charts), or None."""
    me = presenter()
    if me.code is not None and rooms().touch(me.code, info) is None:
        me.code = None  # expired (e.g. the store was cleared)
    return me.code


def present_button(runner: Runner, info: dict[str, Any]) -> None:
    """The control-row button that opens a room; while broadcasting it is a disabled "On air", so a second click
    never ends the room (End broadcast is in the room badge's menu, and asks first). One key in both roles (like
    the Train / Pause button): a new key would draw the new button beside the stale one until the rerun ends."""
    if presenter().code is None:
        st.button("Broadcast", key="present", icon=":material/cast:", on_click=_publish, args=(runner, info),
                  width="stretch", help="Students open a link and watch this run live, read-only; their pages "
                  "train nothing. The room code appears in large type below.")
    else:
        st.button("On air", key="present", icon=":material/cast_connected:", disabled=True, width="stretch",
                  help="Broadcasting: the room code is below. End broadcast is in its Room menu.")

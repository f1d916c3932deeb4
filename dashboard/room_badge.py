"""The room badge: a broadcasting Lab's one-line room panel, so the charts keep the first screen of a projector.

Folded (always, at first): the room code in large type, how many watch now, the poll's live tally and the
"Ask the class" / "Reveal" button. Unfolded on demand (the "Room" popover): the students' link, a QR code of it for
phones, how to reach this server from the room's network, and End broadcast, which asks once (a dialog) before ending.
"""

from __future__ import annotations

import io

import segno
import streamlit as st

from dashboard.broadcast import RoomView
from dashboard.poll import poll_button, poll_line
from dashboard.presenter import end_room, lan_address, presenter, presenter_link, reach, rooms, watch_link
from models.lessons import Lesson

BADGE_REFRESH_S = 1.0  # the badge's viewer count and tally; also the presenter's heartbeat to the room
ROOM_MENU = "room_menu"  # the popover with the link, the QR code and End broadcast
CONFIRM = "end_broadcast_confirm"  # session_state: End broadcast was pressed once, and waits for Yes
QR_PX = 220  # the QR code's side on screen
QR_BOX_PX = QR_PX + 40  # the QR code and its one-line caption, held before the image loads (a test: it never scrolls)


@st.cache_data(max_entries=64, show_spinner=False)
def qr_png(link: str) -> bytes:
    """A QR code of `link` as PNG bytes (segno writes PNG itself, no imaging library)."""
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="png", scale=6, border=2)
    return out.getvalue()


def _end() -> None:
    st.session_state.pop(CONFIRM, None)
    end_room()


def _ask_to_end() -> None:
    st.session_state[CONFIRM] = True


def _keep() -> None:
    st.session_state.pop(CONFIRM, None)


def end_broadcast() -> None:
    """The Room menu's first item, so it needs no scrolling inside the menu on a 1280 x 720 projector. It only asks:
    the question is a dialog (`_confirm_end`), apart from the menu, whose scroll position and height a rerun of the
    page can change under the pointer."""
    st.button("End broadcast…", key="end_broadcast", icon=":material/cancel_presentation:", on_click=_ask_to_end,
              help="Asks once more before closing the room.")


@st.dialog("End the broadcast?", on_dismiss=_keep)
def _confirm_end() -> None:
    """Yes / Keep broadcasting: one press never ends a room. Both buttons' callbacks clear the question; the dialog
    then closes itself with a rerun of the whole page (a dialog's own buttons rerun only the dialog)."""
    if not st.session_state.get(CONFIRM):
        st.rerun()
    st.markdown("Every viewer is told it ended, and a new broadcast gets a new code.")
    cols = st.columns(2)
    cols[0].button("Yes, end it", key="end_broadcast_yes", type="primary", on_click=_end, width="stretch")
    cols[1].button("Keep broadcasting", key="end_broadcast_no", on_click=_keep, width="stretch")


def room_menu(code: str) -> None:
    """The unfolded badge: End broadcast, the link, its QR code, how students reach this server."""
    end_broadcast()
    share = reach(st.context.url or "", st.get_option("server.address"), lan_address())
    link = watch_link(code, share.base)
    st.code(link, language=None, wrap_lines=True)
    # A box of fixed height: an image has no height until it loads, and the menu opens upward above the Room
    # button, so a QR code arriving late would grow it at its top and move End broadcast… from under the pointer.
    with st.container(height=QR_BOX_PX, border=False, key="room_qr"):
        st.image(qr_png(link), width=QR_PX, caption="Phones: scan to watch")
    if share.hint:
        st.caption(share.hint)
    presenter_link(share.base)


def _touch() -> RoomView | None:
    """The presenter's heartbeat to its room (with the room's secret): the room as it is now, or None."""
    return None if (mine := presenter().room()) is None else rooms().touch(*mine)


@st.fragment(run_every=BADGE_REFRESH_S)
def _live_line() -> None:
    """The viewer count and the tally, refreshed on their own; keeps the room alive while the presenter trains."""
    room = _touch()
    watching = 0 if room is None else room.viewers
    st.markdown(f"**{watching}** watching{poll_line(None if room is None else room.poll)}")


def room_badge(code: str | None, lesson: Lesson | None) -> None:
    """The broadcast in the Lab's main area, folded to one line: see the module's docstring."""
    if "present_error" in st.session_state:
        st.error(st.session_state.pop("present_error"))
    if code is None:
        st.session_state.pop(CONFIRM, None)
        return
    room = _touch()
    with st.container(border=True, key="room_badge"):
        cols = st.columns([1.7, 3.6, 1.3, 1.0], vertical_alignment="center")
        with cols[0].container(key="room_code"):  # the tests and the screenshot script read the code here
            st.markdown(f"<div style='font-size:1.8rem;font-weight:700;letter-spacing:0.06em;line-height:1.1;"
                        f"white-space:nowrap'>{code}</div>", unsafe_allow_html=True)
        with cols[1]:
            _live_line()
        poll_button(None if room is None else room.poll, lesson, cols[2])
        asking = st.session_state.get(CONFIRM, False)
        with cols[3]:
            room_button(code, asking)
    if asking:
        _confirm_end()


def room_button(code: str, asking: bool) -> None:
    """The Room menu; while the dialog asks, a disabled stand-in in its place, so no menu can cover the dialog, and
    the menu comes back closed. Closing a stateful popover through its state was not enough: it follows the server's
    open / closed only when that value changes, and when the press on End broadcast… cut short the run the menu's
    opening started (Streamlit's fast reruns), the server never drew it open, so "closed" was no change and the menu
    stayed open over the dialog (benchmarks/presses.py)."""
    label, icon, help_text = "Room", ":material/qr_code_2:", "The students' link, a QR code for phones, End broadcast."
    if asking:
        st.button(label, icon=icon, key="room_menu_held", disabled=True, width="stretch", help=help_text)
        return
    with st.popover(label, icon=icon, key=ROOM_MENU, width="stretch", help=help_text):
        room_menu(code)

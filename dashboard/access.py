"""Who may train on this server: everyone (the default), or, on a watch-only server, only the presenter.

`RNN_LAB_PRESENTER_KEY` (an environment variable; on Community Cloud a root-level entry of the app's Secrets)
makes the server watch-only: the Lab's Train, Step, Broadcast and "Run the control" are disabled for a page
until its viewer types the key (compared in constant time; never kept in the page, its URL or a notice), and
for a page that reopened a broadcast with its presenter link (it holds the room's secret). Students watch the
teacher's broadcast; a student opening the Lab cannot take the server's training slots. A tab that types
wrong keys is made to wait like a tab guessing room codes (broadcast.WrongCodes).
"""

from __future__ import annotations

import hmac
import os

import streamlit as st

from dashboard.broadcast import WrongCodes

ENV = "RNN_LAB_PRESENTER_KEY"
UNLOCKED = "presenter_unlocked"  # st.session_state: this tab typed the key
TYPED = "presenter_key"  # the password field's key; emptied as soon as it is checked
WRONG = "presenter_key_wrong"  # this tab's wrong keys (WrongCodes)
REFUSED = "presenter_key_refused"  # the last key typed was refused
WATCH_ONLY = ("**This server is watch-only**: only the presenter trains here. To follow the class's run, open "
              "the watch link your teacher gives you. Presenter: type the presenter key to train.")


def presenter_key() -> str:
    """The server's presenter key; empty: not watch-only. Read at every call, so the setting needs no import order."""
    return os.environ.get(ENV, "")


def key_matches(typed: str, key: str) -> bool:
    """Whether `typed` is the non-empty `key`, compared in constant time."""
    return bool(key) and hmac.compare_digest(typed.encode(), key.encode())


def may_train(presenting: bool) -> bool:
    """Whether this page may train: the server is not watch-only, the page holds a broadcast room's secret
    (`presenting`), or its viewer typed the presenter key."""
    return not presenter_key() or presenting or bool(st.session_state.get(UNLOCKED))


def _check_key() -> None:
    """on_change of the key field: unlock this tab on the right key; the typed text is never kept."""
    wrong = st.session_state.setdefault(WRONG, WrongCodes())
    typed, st.session_state[TYPED] = st.session_state.get(TYPED, ""), ""
    refused = bool(wrong.wait()) or not key_matches(typed, presenter_key())
    st.session_state[UNLOCKED], st.session_state[REFUSED] = not refused, refused
    if refused:
        wrong.failed()


def watch_only_notice() -> None:
    """The notice a locked page shows, with the presenter's key field."""
    st.info(WATCH_ONLY, icon=":material/visibility:")
    st.text_input("Presenter key", type="password", key=TYPED, on_change=_check_key, width=320)
    if st.session_state.get(REFUSED):
        wait = st.session_state[WRONG].wait()
        st.caption(f"That is not the presenter key.{f' Wait {wait} s before the next try.' if wait else ''}")

"""Buttons whose action runs once per press, in the page's own run rather than in an on_click callback.

Streamlit's frontend (1.67) keeps a press in the page's widget states until a zero-delay timeout sends it and
clears it. A busy browser can let a fragment's run_every timer fire first, and the timer's rerun sends every widget
state, so the press goes out in it too, then once more in its own rerun. The server runs a widget's on_click for
every copy, a widget outside the fragment included: Pause paused, the chart fragment's rerun redrew the button as
Resume, and the press's own copy resumed the run (Broadcast would open a second room the same way). A fragment's
rerun never runs the page, so a press read at the top of the page's run acts once (docs/architecture.md).

A page calls `act_on_presses()` first, then draws its buttons with `press_button`. Buttons inside a fragment or a
dialog (whose presses rerun only it) keep on_click; so do buttons whose action is the same when repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

ACTIONS = "press_actions"  # st.session_state: button key -> (action, args) as the page last drew it


def press_button(place: Any, label: str, *, key: str, action: Callable[..., Any] | None, args: tuple = (),
                 disabled: bool = False, **options: Any) -> None:
    """`place.button(label, key=key, disabled=disabled, **options)`; a press runs `action(*args)` at the top of the
    next page run. A disabled button (or one without an action) has none: a press it cannot make (a forged message)
    runs nothing, as Streamlit skips a disabled widget's on_click."""
    actions = st.session_state.setdefault(ACTIONS, {})
    if disabled or action is None:
        actions.pop(key, None)
    else:
        actions[key] = (action, args)
    place.button(label, key=key, disabled=disabled, **options)


def act_on_presses() -> None:
    """Run the action of each button pressed for this run, as the page drew it, before anything is drawn (so the
    page shows what the press did, as after an on_click). Entries are overwritten, never cleared: a run cut short by
    a newer press has not drawn every button again, and a stale entry's key is never pressed."""
    for key, (action, args) in list(st.session_state.get(ACTIONS, {}).items()):
        if st.session_state.get(key):
            action(*args)

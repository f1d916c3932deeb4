"""What pages hand each other through st.session_state: the sidebar's configuration and a page to open.

Every sidebar widget's key is a RunConfig field, so loading a configuration from anywhere
(a lesson preset, a clicked map cell) is just writing those keys before the sidebar is drawn.
Pages never import each other: one asks for another by name (`go_to`), and app.py, the only
module that knows the pages, opens it.
"""

from __future__ import annotations

from dataclasses import fields

import streamlit as st

from dashboard.sidebar import nearest_lr
from models import RunConfig

FIELDS: tuple[str, ...] = tuple(f.name for f in fields(RunConfig))
PAGE_REQUEST = "open_page"


def apply_config(config: RunConfig) -> None:
    """Load `config` into the lab's sidebar; call it before the sidebar is drawn in this run
    (from a button callback, or before `st.switch_page` to the Lab).

    The learning-rate slider is log-spaced, so `lr` is shown at the nearest grid value.
    """
    values = config.to_dict() | {"lr": nearest_lr(config.lr)}
    for name, value in values.items():
        st.session_state[name] = value


def read_config() -> RunConfig:
    """The configuration the sidebar currently shows; bad or missing values fall back to defaults."""
    values = {name: st.session_state[name] for name in FIELDS if name in st.session_state}
    return RunConfig.from_strings(values, lenient=True)


def go_to(page: str) -> None:
    """From a callback: open page `page` (a name app.py registers, e.g. "lab") at the start of the next run."""
    st.session_state[PAGE_REQUEST] = page


def requested_page() -> str | None:
    """The page asked for by `go_to` since the last run, once."""
    return st.session_state.pop(PAGE_REQUEST, None)

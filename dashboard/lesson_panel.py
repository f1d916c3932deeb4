"""Lesson picker and card: one click loads a preset into the lab's sidebar (and so the URL)."""

from __future__ import annotations

import streamlit as st

from dashboard.state import apply_config
from models.lessons import LESSONS, Lesson

# Set by the click, read once by the lab page: a lesson must start a fresh run even when it differs
# from the current one only in live settings (lesson 8 -> 10 changes the learning rate and step budget; a diverged run
# would otherwise just carry on diverged).
JUST_LOADED = "lesson_just_loaded"


def _load_lesson() -> None:
    """on_change callback: runs before the rerun, so the sidebar is drawn with the lesson's values."""
    key = st.session_state.get("lesson")
    if key in LESSONS:
        apply_config(LESSONS[key].config)
        st.session_state[JUST_LOADED] = key


def pop_loaded_lesson() -> Lesson | None:
    """The lesson clicked in this run, once: the lab page then resets (and may start) its run."""
    key = st.session_state.pop(JUST_LOADED, None)
    return LESSONS.get(key) if key else None


def lesson_picker() -> Lesson | None:
    """One pill per lesson; clicking one applies its preset. Returns the chosen lesson, if any."""
    # Bound to the URL like the sidebar, so a shared link shows the lesson's card with its configuration.
    key = st.pills("Lessons", options=list(LESSONS), format_func=lambda k: LESSONS[k].title, key="lesson",
                   on_change=_load_lesson, help="Loads the lesson's whole configuration into the sidebar.",
                   bind="query-params")
    return LESSONS.get(key) if key else None


def lesson_card(lesson: Lesson) -> None:
    """The teacher's three short paragraphs, then how often the lesson's claim holds and what it claims."""
    with st.container(border=True):
        st.markdown(f"#### {lesson.title}")
        st.markdown(lesson.explanation)
        st.markdown(f"**What to watch.** {lesson.watch}")
        st.markdown(f"**Try next.** {lesson.try_next}")
        # The figure is recorded in models/lessons.py and recomputed by tests/models/test_lessons.py.
        st.badge(f"Claim {lesson.robustness}", icon=":material/verified:", color="green")
        st.caption(f"{lesson.claim_text}. Reproduce: `python -m models.lessons {lesson.key} --seeds 0-9`")

"""Lesson picker and card: one click loads a preset and its pace into the lab's sidebar (and so the URL)."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.state import BY_TITLE, LESSON, PACE, apply_config, nearest_pace
from models import RunConfig
from models.lessons import LESSONS, Lesson, diverges_before

# Set by the click, read once by the lab page: a lesson must start a fresh run even when it differs
# from the current one only in live settings (lesson 8 -> 10 changes the learning rate and step budget; a diverged run
# would otherwise just carry on diverged).
JUST_LOADED = "lesson_just_loaded"


def _load_lesson() -> None:
    """on_change callback: runs before the rerun, so the sidebar is drawn with the lesson's values; the sidebar
    is the first thing the Lab draws, so its widgets write them into the URL at the start of that run."""
    key = st.session_state.get(LESSON)
    if key in LESSONS:
        apply_config(LESSONS[key].config)
        st.session_state[PACE] = nearest_pace(LESSONS[key].pace)  # slow enough for a class to watch
        st.session_state[JUST_LOADED] = key


# The measure every "the run diverges before step N" check uses (models.lessons.diverges_before).
DIVERGENCE_STEP = diverges_before(2).measure


def diverges_by(lesson: Lesson, config: RunConfig) -> int | None:
    """The last step a run of `config` can reach when it is `lesson`'s preset (any seed) and the lesson's claim says
    it diverges before step N: N − 1. The claim is checked on every seed the card names (tests/models/
    test_lessons.py), so the Lab can promise seconds where steps × pace would say minutes. None otherwise."""
    if config.replace(seed=lesson.config.seed) != lesson.config:
        return None
    bounds = [int(c.below) for c in lesson.claim.checks if c.measure is DIVERGENCE_STEP and c.below is not None]
    return min(bounds) - 1 if bounds else None


def pop_loaded_lesson() -> Lesson | None:
    """The lesson clicked in this run, once: the lab page then resets (and may start) its run."""
    key = st.session_state.pop(JUST_LOADED, None)
    return LESSONS.get(key) if key else None


def lesson_picker(compact: bool = False) -> Lesson | None:
    """One pill per lesson; clicking one applies its preset. Returns the chosen lesson, if any.

    `compact` (presentation mode) folds the twelve pills into a popover named after the current lesson."""
    current = LESSONS.get(st.session_state.get(LESSON) or BY_TITLE.get(st.query_params.get(LESSON, ""), ""))
    place = st.popover(current.title if current else "Lessons", icon=":material/school:", width="stretch") \
        if compact else st
    # Bound to the URL like the sidebar, so a shared link shows the lesson's card with its configuration.
    key = place.pills("Lessons", options=list(LESSONS), format_func=lambda k: LESSONS[k].title, key=LESSON,
                      on_change=_load_lesson, help="Loads the lesson's whole configuration and pace.",
                      bind="query-params")
    return LESSONS.get(key) if key else None


def lesson_text(lesson: Lesson) -> None:
    """The teacher's three short paragraphs, then how often the lesson's claim holds and what it claims."""
    st.markdown(lesson.explanation)
    st.markdown(f"**What to watch.** {lesson.watch}")
    st.markdown(f"**Try next.** {lesson.try_next}")
    # The figure is recorded in models/lessons.py and recomputed by tests/models/test_lessons.py.
    st.badge(f"Claim {lesson.robustness}", icon=":material/verified:", color="green")
    st.caption(f"{lesson.claim_text}. Reproduce: `python -m models.lessons {lesson.key} --seeds 0-9`")


def lesson_frame(title: str, text: Callable[[], None], compact: bool) -> None:
    """A lesson's title around its `text`; `compact` (presentation mode): one line that opens to the whole text."""
    if compact:
        with st.expander(f"**{title}** · what it shows, what to watch", icon=":material/menu_book:"):
            text()
        return
    with st.container(border=True):
        st.markdown(f"#### {title}")
        text()


def lesson_card(lesson: Lesson, compact: bool = False) -> None:
    """The lesson's card (the Lab's; the watch page frames a broadcast lesson the same way)."""
    lesson_frame(lesson.title, lambda: lesson_text(lesson), compact)

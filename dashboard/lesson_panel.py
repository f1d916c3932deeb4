"""Lesson picker and card: one click loads a preset and its pace into the lab's sidebar (and so the URL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.compare import PinnedRun, applies, difference_labels, pin_records, show_overlay, shown
from dashboard.presses import press_button
from dashboard.state import LESSON, PACE, apply_config, lesson_named, nearest_pace, next_lesson
from models import RunConfig
from models.lessons import LESSONS, Lesson, diverges_before, lesson_config, run_lesson

# Set by the click, read once by the lab page: a lesson must start a fresh run even when it differs
# from the current one only in live settings (lesson 8 -> 10 changes the learning rate and step budget; a diverged run
# would otherwise just carry on diverged).
JUST_LOADED = "lesson_just_loaded"
# Presentation mode's lesson popover. Keyed with on_change, its open state is a widget's, and the rerun a choice in it
# starts closes it (tests/browser/test_flow_browser.py); without them it stayed open over Train, Step and Reset.
MENU = "lesson_menu"
CONTROL = "lesson_control"  # session_state: (lesson key, seed, [the lesson's run, its control]) of the last click


def _load_lesson(key: str | None = None) -> None:
    """on_change / on_click callback (the picked lesson, or `key`'s for Restore): runs before the rerun, so the
    sidebar is drawn with the lesson's values; the sidebar is the first thing the Lab draws, so its widgets write
    them into the URL at the start of that run."""
    key = key or st.session_state.get(LESSON)
    if key in LESSONS:
        apply_config(LESSONS[key].config)
        st.session_state[PACE] = nearest_pace(LESSONS[key].pace)  # slow enough for a class to watch
        st.session_state[JUST_LOADED] = key


def _next_lesson() -> None:
    """Next lesson's action: the next lesson's pill, as if clicked."""
    st.session_state[LESSON] = next_lesson(st.session_state.get(LESSON))
    _load_lesson()


def next_lesson_button(lesson: Lesson, place: Any = st) -> None:
    """"Next lesson" (shortcut N), in `place`, after any lesson but the last."""
    if (following := next_lesson(lesson.key)) is not None:
        press_button(place, "Next lesson", icon=":material/skip_next:", key="next_lesson", shortcut="N",
                     action=_next_lesson, help=f"Loads {LESSONS[following].title}. Shortcut: N.")


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


def _lesson_in_url(key: str | None) -> None:
    """The address bar names the lesson by its key (`?lesson=vanishing`): a bound pill would write its title."""
    if key is None:
        st.query_params.pop(LESSON, None)
    elif st.query_params.get(LESSON) != key:
        st.query_params[LESSON] = key


def menu_label(lesson: Lesson | None) -> str:
    """Presentation mode's lesson menu: "Lesson 8 of 15", short enough never to be cut at 1280 × 720 (a title is up to
    62 characters); the lesson's card right below it carries the title."""
    return f"Lesson {list(LESSONS).index(lesson.key) + 1} of {len(LESSONS)}" if lesson else "Lessons"


def lesson_picker(compact: bool = False) -> Lesson | None:
    """One pill per lesson; clicking one applies its preset. Returns the chosen lesson, if any.

    `compact` (presentation mode) folds the lesson pills into a popover named after the current lesson's number."""
    if LESSON not in st.session_state:  # a session's first Lab run: the link's lesson (app.py checked it)
        st.session_state[LESSON] = lesson_named(st.query_params.get(LESSON))
    current = LESSONS.get(st.session_state[LESSON] or "")
    menu, after = st.columns([2.5, 1.8], vertical_alignment="center") if compact else (st, None)
    place = menu.popover(menu_label(current), icon=":material/school:", width="stretch",
                         key=MENU, on_change="rerun") if compact else st
    key = place.pills("Lessons", options=list(LESSONS), format_func=lambda k: LESSONS[k].title, key=LESSON,
                      on_change=_load_lesson, help="Loads the lesson's whole configuration and pace.",
                      persist_state="session")
    _lesson_in_url(key)  # so a shared link shows the lesson's card with its configuration
    if after is not None and key in LESSONS:
        next_lesson_button(LESSONS[key], after)
    return LESSONS.get(key) if key else None


def modifications(lesson: Lesson, config: RunConfig) -> list[str]:
    """"hidden_size 32 → 256": each setting of `config` that differs from `lesson`'s preset where it applies, in
    RunConfig's order. The seed is no modification: the card's claim is counted over seeds."""
    preset, now = lesson.config.to_dict(), config.to_dict()
    return [f"{name} {shown(preset[name])} → {shown(now[name])}" for name in preset
            if name != "seed" and preset[name] != now[name] and (applies(lesson.config, name) or applies(config, name))]


def lesson_text(lesson: Lesson, config: RunConfig) -> None:
    """The teacher's three short paragraphs, then how often the lesson's claim holds and what it claims; when
    `config` (the sidebar's) is no longer the preset, what changed and a Restore button instead of the claim."""
    if changed := modifications(lesson, config):
        st.warning(f"modified: {', '.join(changed)}. The lesson's text and claim are about its preset.",
                   icon=":material/edit:")
        st.button("Restore the lesson", icon=":material/undo:", key="restore_lesson", on_click=_load_lesson,
                  args=(lesson.key,), help="Puts the lesson's whole configuration and pace back, as a fresh run.")
    st.markdown(lesson.explanation)
    st.markdown(f"**What to watch.** {lesson.watch}")
    st.markdown(f"**Try next.** {lesson.try_next}")
    if changed:
        return
    # The figure is recorded in models/lessons.py and recomputed by tests/models/test_lessons.py.
    st.badge(f"Claim {lesson.robustness}", icon=":material/verified:", color="green")
    st.caption(f"{lesson.claim_text}. Reproduce: `python -m models.lessons {lesson.key} --seeds 0-29`")


def lesson_frame(title: str, text: Callable[[], None], compact: bool) -> None:
    """A lesson's title around its `text`; `compact` (presentation mode): one line that opens to the whole text."""
    if compact:
        with st.expander(f"**{title}** · what it shows, what to watch", icon=":material/menu_book:"):
            text()
        return
    with st.container(border=True):
        st.markdown(f"#### {title}")
        text()


def lesson_card(lesson: Lesson, config: RunConfig, compact: bool = False) -> None:
    """The lesson's card for the sidebar's `config` (the Lab's; the watch page frames a broadcast lesson the same
    way); in presentation mode its one line says "modified" too. Next lesson ends it (in presentation mode it sits
    beside the lesson menu: lesson_picker)."""
    def text() -> None:
        lesson_text(lesson, config)
        if not compact:
            next_lesson_button(lesson)

    title = f"{lesson.title} · modified" if modifications(lesson, config) else lesson.title
    lesson_frame(title, text, compact)


def control_runs(lesson: Lesson, seed: int) -> list[PinnedRun]:
    """The lesson's preset and its control, both at `seed`, trained headlessly to their end (or divergence)."""
    return [pin_records(lesson_config(lesson, seed, control), run_lesson(lesson, seed, control=control))
            for control in (False, True)]


def control_labels(runs: list[PinnedRun]) -> list[str]:
    """"lesson: gain=2.2" and "control: gain=1": what differs, named by its role."""
    return [f"{role}: {label.split(' ', 1)[1]}"
            for role, label in zip(("lesson", "control"), difference_labels([r.config for r in runs]), strict=True)]


def control_section(lesson: Lesson, seed: int, busy: bool, place: Any = st) -> None:
    """"Run the control": one click trains the preset and its control at `seed` and overlays them (`busy`: a live
    run is training, which this would slow down). The button goes in `place`, the overlay below."""
    changed = ", ".join(lesson.controlled)
    if place.button("Run the control", icon=":material/compare_arrows:", key="run_control", disabled=busy,
                 help=f"Trains this lesson's run and its control, which changes only {changed}, at seed {seed}, "
                 "and draws both. Pause the run first."):
        with st.spinner(f"Training the lesson's run and its control (seed {seed})…"):
            st.session_state[CONTROL] = (lesson.key, seed, control_runs(lesson, seed))
    key, ran_seed, runs = st.session_state.get(CONTROL, (None, None, []))
    if key != lesson.key:
        return
    labels = control_labels(runs)
    show_overlay(runs, labels, "control_chart")
    st.caption(" · ".join(f"{label}: {run.state} at step {run.final_step}" for label, run in zip(labels, runs,
                                                                                                  strict=True))
               + f" (seed {ran_seed}). The profile is each run's last step with a finite gradient.")

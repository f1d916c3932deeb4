"""The Lab page: sidebar configuration, Playground-style controls, live status and charts.

Drawn top to bottom in the order a first visit can afford: the sidebar (the URL is written as its
widgets are drawn, so it is complete at once after a lesson click), the header and lessons, and
only then the run (its Runner builds a model and an optimizer) and its charts.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard.access import may_train, watch_only_notice
from dashboard.charts import steps_csv, timesteps_csv
from dashboard.history import ACTIVE, FINAL, Snapshot
from dashboard.insight import compare_section, theory_section
from dashboard.lesson_panel import control_section, diverges_by, lesson_card, lesson_picker, pop_loaded_lesson
from dashboard.lifetime import GRACE_S, Presence
from dashboard.links import link_notice, link_section, page_address, share_link
from dashboard.live_view import (
    LONG_RUN_S,
    chart_grid,
    chart_specs,
    diverges_first,
    duration,
    log_scale_toggle,
    progress,
    run_estimate,
    set_log_default,
    status,
    step_estimate,
    step_slider,
)
from dashboard.poll import locking
from dashboard.presenter import broadcasting, present_button, presenter, reopen_room, rooms
from dashboard.presses import act_on_presses, press_button
from dashboard.room_badge import room_badge
from dashboard.runner import Runner
from dashboard.sidebar import DEFAULTS, sidebar
from dashboard.slide import SCALE, SLIDE, slide_file_name, slide_png
from dashboard.state import PACE, PACES, PRESENTATION, arrival_note, pace_label, presenting, query_for, runner_pace
from dashboard.weights import HELP as WEIGHTS_HELP
from dashboard.weights import weights_bytes, weights_file_name
from dashboard.words_view import words_view
from models import RunConfig
from models.lessons import Lesson

LOG_KEY = "log_loss"  # the Log-scale loss toggle, which a loaded lesson sets to its default
STEP_KEY = "shown_step"  # the step slider above the profile charts
WORDS_KEY = "words_example"  # the words view's sentence picker (task "sentence")
REFRESH_S = float(os.environ.get("RNN_LAB_REFRESH_S", "0.25"))  # chart redraw period while training
# Primary button per run state: (label, icon, action).
PRIMARY = {
    "idle": ("Train", ":material/play_arrow:", "train"), "paused": ("Resume", ":material/play_arrow:", "train"),
    "queued": ("Pause", ":material/pause:", "pause"), "training": ("Pause", ":material/pause:", "pause"),
    "pausing": ("Pausing…", ":material/hourglass_top:", None),  # until the step in flight ends
    "done": ("Done", ":material/check:", None), "diverged": ("Diverged", ":material/error:", None),
    "error": ("Error", ":material/error:", None),
}
# Measured on seeds 0–9 by tests/dashboard/test_classroom.py: the default run stays at chance, and why.
DEFAULT_RUN_NOTE = (
    "**The default run stays at chance, as expected:** loss ≈ ln 2 = 0.693, accuracy ≈ 50% on seeds 0–9. The label "
    "is the first of 20 words, and at step 1 its state h_1 gets under 1/1000 of the gradient h_T gets: the "
    "vanishing gradient. Lesson 2 explains it; lessons 4, 5, 6 and 11 learn.")


RUNNER = "lab_runner"  # st.session_state key of the session's Runner: it outlives a dropped websocket
RELEASED = (f"**This tab was disconnected for more than {GRACE_S:g} s, so its run was released** to free the "
            "server's memory. The settings are kept (they are in the link): press Train to start again.")


# Two entries: the session's runner, and the one a release replaced (evicting that one only re-releases it).
@st.cache_resource(scope="session", max_entries=2, on_release=lambda presence: presence.gone(), show_spinner=False)
def presence(runner_id: int, _runner: Runner) -> Presence:
    """The disconnect hook of this session's runner: released when the tab's websocket closes (lifetime.py); a run
    a broadcast room owns is the room's to end."""
    return Presence(_runner, kept=rooms().holds)


def session_runner(config: RunConfig, started: float) -> tuple[Runner, bool]:
    """This browser session's runner, kept in st.session_state so a tab that reconnects finds its run; a new one
    if the janitor released it (then True); the room's run when the URL's presenter link reopens a broadcast.
    `started`: when this page run started (time.monotonic())."""
    if (room_run := reopen_room()) is not None:
        st.session_state[RUNNER] = room_run
    runner = st.session_state.get(RUNNER)
    released = runner is not None and runner.released
    if runner is None or released:
        runner = st.session_state[RUNNER] = Runner(config)
    runner.touch(started)
    presence(runner.id, runner)
    return runner, released


# Streamlit ignores a button's shortcut while the focus is in a text or number field (tests/browser).
SHORTCUTS = ("Keyboard: Space trains or pauses, → steps, N opens the next lesson (not while typing in a "
             "field).")
# Presentation mode starts the page just below Streamlit's toolbar (its default top padding is 6rem).
COMPACT_TOP = "<style>[data-testid='stMainBlockContainer']{padding-top:3.6rem}</style>"


def header() -> tuple[bool, Lesson | None, Any]:
    """Title, lessons and the presentation-mode toggle (bound to the URL); in presentation mode one row, and the
    sidebar folded. Returns (presentation mode on, the chosen lesson, the place of the slide button: under the toggle,
    or in presentation mode at the row's end, where it adds no height above the charts)."""
    compact = presenting()
    # The toggle keeps its place in both layouts: a bound widget that moves is remounted, and its URL value then
    # outlives a click that turns it off.
    cols = st.columns([5.6, 1.4], vertical_alignment="center")
    cols[1].toggle("Presentation", key=PRESENTATION, bind="query-params", help="For a projector (1280 × 720): "
                   "larger chart text, the lesson on one line, the charts on the first screen, the sidebar folded "
                   f"(» opens it). {SHORTCUTS}")
    st.set_page_config(initial_sidebar_state="collapsed" if compact else "auto")
    with cols[0]:
        if not compact:
            st.title("RNN Gradient Lab")
    if not compact:
        slot = cols[1].container()  # after the toggle, which keeps its place
        st.caption("Train a real recurrent net and watch backpropagation through time: how much gradient reaches "
                   "each timestep, step by step. Pick a lesson or a configuration in the sidebar and press Train.")
        return False, lesson_picker(), slot
    st.html(COMPACT_TOP)
    with cols[0]:
        title, lessons, slot = st.columns([2.2, 3.4, 1.3], vertical_alignment="center")
        title.markdown("### RNN Gradient Lab")
        with lessons:
            return True, lesson_picker(compact=True), slot


SLIDE_HELP = (f"The loss and gradient charts as they are now, with the run's settings and its link below them: one "
              f"{SLIDE[0]} × {SLIDE[1]} image (PNG, at {SCALE}× for a sharp projector) to drop into a slide. Drawn "
              "when you click, which takes a few seconds.")


def slide_download(runner: Runner, shown: dict[str, bool | None], lesson: str | None, base: str) -> bytes:
    """The slide's data, drawn at click time from the run as it is then: its charts with the loss scale they have on
    screen (`shown`, which the chart fragment keeps current), its settings, and the link that reproduces it (this
    page's address `base`, the run's configuration and `lesson`; pace and presentation mode change no result)."""
    snap = runner.snapshot()
    link = share_link(query_for(snap.config, lesson, math.inf, False), base)
    return slide_png(snap, shown.get(LOG_KEY), link)


def slide_button(where: Any, config: RunConfig, slide: Callable[[], bytes]) -> None:
    """The "Slide (PNG)" download in `where`; `slide` makes its data, and is called only on a click. Outside the
    chart fragment: its reruns every REFRESH_S would re-register the deferred data under the pointer."""
    where.download_button("Slide (PNG)", data=slide, file_name=slide_file_name(config), mime="image/png",
                          key="download_slide", icon=":material/slideshow:", on_click="ignore", width="stretch",
                          help=SLIDE_HELP)


def controls(runner: Runner, snap: Snapshot, info: dict[str, str], locked: bool = False) -> float:
    """Train / Pause / Resume, Step, Reset, like TensorFlow Playground's play bar; Broadcast; the pace. `locked`: a
    watch-only server's page without the presenter key (dashboard/access.py) trains nothing.
    Returns the pace in steps per second (inf: as fast as possible)."""
    label, icon, action = PRIMARY[snap.state]
    cols = st.columns([1.45, 1, 1, 1.45, 2.1], vertical_alignment="bottom")
    # One key whatever the label: a key that changed with the state made a new button beside the stale one until
    # the rerun ended, so the whole row grew and shrank by 28 px under the pointer (presses landed on nothing).
    # Train and Step lock a broadcast's poll first: the class's prediction is made before the run shows anything.
    act = getattr(runner, action) if action else None
    press_button(cols[0], label, icon=icon, key="primary", type="primary", shortcut="Space", width="stretch",
                 action=locking(act) if action == "train" else act,
                 disabled=act is None or (locked and action == "train"),
                 help="Train, Pause or Resume. Shortcut: Space.")
    press_button(cols[1], "Step", icon=":material/skip_next:", key="step_button", width="stretch",
                 action=locking(runner.step_once), disabled=snap.state in FINAL or locked, shortcut="Right",
                 help="Train exactly one batch, then pause. Shortcut: →.")
    press_button(cols[2], "Reset", icon=":material/restart_alt:", key="reset_button", width="stretch",
                 action=runner.reset, help="Same seed: the same initial weights and data again.")
    with cols[3]:
        present_button(runner, info, disabled=locked)
    pace = cols[4].select_slider("Pace (steps per second)", PACES, value=math.inf, format_func=pace_label, key=PACE,
                                 bind="query-params", help="Slow a run down so a class can follow it: a lesson "
                                 "sets a pace that lasts about 25 s. max = as fast as this server trains.")
    return pace


def long_run_warning(snap: Snapshot, ends_by: int | None = None) -> None:
    """Before a run starts (or resumes): say so when it will take minutes, and what makes it long. `ends_by`: the
    step by which a lesson's tested claim says the run diverges (lessons 7 and 8 end in seconds, not minutes)."""
    if snap.state in ACTIVE or snap.state in FINAL or (total := run_estimate(snap, ends_by)) < LONG_RUN_S:
        return
    per_step, measured = step_estimate(snap)
    each = max(per_step, 1 / (snap.pace or math.inf))
    last = min(ends_by, snap.config.steps) if diverges_first(snap, ends_by) else snap.config.steps
    st.warning(f"**This run takes about {duration(total)}**: {last - snap.step} steps at "
               f"~{duration(each)} each ({'measured' if measured else 'estimated'} on this server). For a "
               "class, lower **Training steps** or the sizes in the sidebar, or raise "
               "the pace; Pause and Reset stop it at any moment.", icon=":material/schedule:")


def live(runner: Runner, polling: bool, presentation: bool, ends_by: int | None = None,
         shown: dict[str, bool | None] | None = None) -> None:
    """Status and charts; redrawn every REFRESH_S while training, not at all when idle. `ends_by`: see
    long_run_warning. `shown[LOG_KEY]`: set to the loss scale the charts are drawn with (see charts.loss_log)."""
    shown = {} if shown is None else shown

    @st.fragment(run_every=REFRESH_S if polling else None)
    def _live() -> None:
        runner.touch()
        with runner.drawing():
            snap = runner.snapshot()
            status(snap, compact=presentation)
            cols = st.columns([3, 2, 1.2], vertical_alignment="center")
            with cols[0]:
                progress(snap, ends_by)
            snap = step_slider(cols[1], STEP_KEY, snap, runner, presentation)  # in the fragment, like the toggle
            log_y = shown[LOG_KEY] = log_scale_toggle(cols[2], LOG_KEY)  # in the fragment: it redraws only the charts
            words_view(snap, WORDS_KEY, presentation)
            chart_grid(snap, chart_specs(snap, log_y, presentation))
        if polling and not snap.active:
            st.rerun()  # the run ended: redraw the buttons once and stop polling

    _live()


def weights_download(runner: Runner, timeout: float = 5.0) -> bytes:
    """The download's data, copied between two steps (the button is disabled while a step may run)."""
    weights = runner.weights(timeout=timeout)
    if weights is None:
        raise RuntimeError("a training step was still running: pause the run, then download")
    return weights_bytes(weights.model, weights.config, weights.step)


def export(runner: Runner, snap: Snapshot) -> None:
    with st.expander("Export this run (CSV, weights)"):
        st.caption("Per step: loss, accuracy, gradient norms, lr, clipping, spectral radius. Per timestep: "
                   "‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) and ‖δ_t h_{t−1}ᵀ‖. Every step up to 10 000; each file starts "
                   "with '#' lines holding the run's configuration.")
        cols = st.columns(3)
        cols[0].download_button("Per-step CSV", lambda: steps_csv(runner.snapshot()),
                                file_name="rnn_lab_steps.csv", mime="text/csv", key="csv_steps", on_click="ignore")
        cols[1].download_button("Per-timestep CSV", lambda: timesteps_csv(runner.snapshot()),
                                file_name="rnn_lab_timesteps.csv", mime="text/csv", key="csv_timesteps",
                                on_click="ignore")
        # No weights to copy while a step may run (runner.weights() would answer None): disabled until a pause.
        cols[2].download_button("Weights (.pt)", data=lambda: weights_download(runner), file_name=weights_file_name(
            snap.config), mime="application/octet-stream", key="download_weights", on_click="ignore",
            help=WEIGHTS_HELP, disabled=snap.state in ACTIVE)
        if snap.state in ACTIVE:
            st.caption("Pause to download the weights: they are copied between two steps, never mid-update.")


def _broadcast_info(lesson: object | None) -> dict[str, str]:
    """What viewers of a broadcast read above the charts: the current lesson's text, if any."""
    if lesson is None:
        return {}
    return {name: getattr(lesson, name) for name in ("key", "title", "explanation", "watch")}


def lab_page() -> None:
    """The page, top to bottom. Whatever appears only in some states sits in a container drawn in every state
    (`st.container()` below): the elements after it then keep their places, so a state change updates the
    controls and charts in place instead of drawing new ones beside the stale ones until the rerun ends (the
    page jumped under the pointer, and every chart was rebuilt)."""
    started = time.monotonic()
    act_on_presses()  # before the sidebar: Next lesson sets its widgets
    config = sidebar()
    presentation, lesson, slide_slot = header()
    with st.container():
        link_notice(config)
    runner, released = session_runner(config, started)
    locked = not may_train(presenting=presenter().code is not None)
    with st.container():
        if locked:
            watch_only_notice()
        if released:
            st.info(RELEASED, icon=":material/cloud_off:")
        if note := arrival_note():
            st.info(note, icon=":material/map:")
        if (loaded := pop_loaded_lesson()) is not None:
            set_log_default(LOG_KEY, loaded.log_loss)
            runner.reset(config)  # a lesson is a fresh run, even if only lr or clipping differ
        elif notice := runner.configure(config):
            st.info(notice)
        if why := runner.paused_why:
            st.info(why, icon=":material/pause:")
    with st.container():
        if lesson is not None:
            live_snap = runner.snapshot()
            # In presentation mode the button shares the lesson's one line, so the charts keep the first screen.
            card, button = (st.columns([5, 1.3]) if presentation else (st.container(), st.container()))
            with card:
                lesson_card(lesson, config, compact=presentation)
            control_section(lesson, live_snap.config.seed, live_snap.active or locked, button)
        elif config.replace(seed=0) == DEFAULTS:
            st.info(DEFAULT_RUN_NOTE, icon=":material/info:")
    info = _broadcast_info(lesson)
    code = broadcasting(info)
    snap = runner.snapshot()
    shown: dict[str, bool | None] = {}  # what the chart fragment draws, for the slide
    lesson_key = lesson.key if lesson else None
    # The page's address is read now: the deferred data runs outside any page run, where st.context is not set.
    slide = functools.partial(slide_download, runner, shown, lesson_key, page_address())
    slide_button(slide_slot, snap.config, slide)
    if (pace := runner_pace(controls(runner, snap, info, locked))) != snap.pace:
        runner.set_pace(pace)
        snap = runner.snapshot()
    ends_by = diverges_by(lesson, snap.config) if lesson is not None else None
    with st.container():
        long_run_warning(snap, ends_by)
    with st.sidebar:  # below the configuration, once lesson and pace have been read
        link_section(config, lesson_key)
    with st.container():
        room_badge(code, lesson)
    live(runner, snap.active, presentation, ends_by, shown)
    theory_section(runner, snap)
    compare_section(runner, snap)
    export(runner, snap)

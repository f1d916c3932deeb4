"""The Lab page: sidebar configuration, Playground-style controls, live status and charts."""

from __future__ import annotations

import os

import streamlit as st

from dashboard.charts import steps_csv, timesteps_csv
from dashboard.history import FINAL, Snapshot
from dashboard.insight import compare_section, theory_section
from dashboard.lesson_panel import lesson_card, lesson_picker, pop_loaded_lesson
from dashboard.live_view import chart_grid, chart_specs, status
from dashboard.presenter import present_panel
from dashboard.runner import Runner
from dashboard.sidebar import sidebar
from models import RunConfig

REFRESH_S = float(os.environ.get("RNN_LAB_REFRESH_S", "0.25"))  # chart redraw period while training
# Primary button per run state: (label, icon, action).
PRIMARY = {
    "idle": ("Train", ":material/play_arrow:", "train"), "paused": ("Resume", ":material/play_arrow:", "train"),
    "queued": ("Pause", ":material/pause:", "pause"), "training": ("Pause", ":material/pause:", "pause"),
    "pausing": ("Pausing…", ":material/hourglass_top:", None),  # until the step in flight ends
    "done": ("Done", ":material/check:", None), "diverged": ("Diverged", ":material/error:", None),
    "error": ("Error", ":material/error:", None),
}


@st.cache_resource(scope="session", on_release=lambda runner: runner.close(wait=False), show_spinner=False)
def session_runner() -> Runner:
    """This browser session's run; released (thread stopped) when the session ends."""
    return Runner(RunConfig())


def controls(runner: Runner, snap: Snapshot) -> None:
    """Train / Pause / Resume, Step, Reset, like TensorFlow Playground's play bar."""
    label, icon, action = PRIMARY[snap.state]
    cols = st.columns([1.2, 1, 1, 2.5], vertical_alignment="center")
    cols[0].button(label, icon=icon, key=f"primary_{action}", type="primary", disabled=action is None,
                   width="stretch", on_click=getattr(runner, action) if action else None)
    cols[1].button("Step", icon=":material/skip_next:", key="step_button", width="stretch", on_click=runner.step_once,
                   disabled=snap.state in FINAL, help="Train exactly one batch, then pause.")
    cols[2].button("Reset", icon=":material/restart_alt:", key="reset_button", width="stretch",
                   on_click=runner.reset, help="Same seed: the same initial weights and data again.")
    cols[3].toggle("Log-scale loss", key="log_loss")


def live(runner: Runner, polling: bool) -> None:
    """Status and charts; redrawn every REFRESH_S while training, not at all when idle."""

    @st.fragment(run_every=REFRESH_S if polling else None)
    def _live() -> None:
        runner.touch()
        with runner.drawing():
            snap = runner.snapshot()
            status(snap)
            chart_grid(snap, chart_specs(snap, st.session_state.get("log_loss", False)))
        if polling and not snap.active:
            st.rerun()  # the run ended: redraw the buttons once and stop polling

    _live()


def export(runner: Runner) -> None:
    with st.expander("Export this run (CSV)"):
        st.caption("Per step: loss, accuracy, gradient norms, lr, clipping, spectral radius. Per timestep: "
                   "‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖) and ‖δ_t h_{t−1}ᵀ‖. Every step up to 10 000; each file starts "
                   "with '#' lines holding the run's configuration.")
        cols = st.columns(2)
        cols[0].download_button("Per-step CSV", lambda: steps_csv(runner.snapshot()),
                                file_name="rnn_lab_steps.csv", mime="text/csv", key="csv_steps", on_click="ignore")
        cols[1].download_button("Per-timestep CSV", lambda: timesteps_csv(runner.snapshot()),
                                file_name="rnn_lab_timesteps.csv", mime="text/csv", key="csv_timesteps",
                                on_click="ignore")


def _broadcast_info(lesson: object | None) -> dict[str, str]:
    """What viewers of a broadcast read above the charts: the current lesson's text, if any."""
    if lesson is None:
        return {}
    return {name: getattr(lesson, name) for name in ("key", "title", "explanation", "watch")}


def lab_page() -> None:
    config = sidebar()
    runner = session_runner()
    runner.touch()
    st.title("RNN Gradient Lab")
    st.caption("Train a real recurrent net and watch backpropagation through time: how much gradient reaches each "
               "timestep, step by step. Pick a configuration in the sidebar and press Train.")
    lesson = lesson_picker()
    if pop_loaded_lesson() is not None:
        runner.reset(config)  # a lesson is a fresh run, even if only lr or clipping differ
    elif notice := runner.configure(config):
        st.info(notice)
    if lesson is not None:
        lesson_card(lesson)
    snap = runner.snapshot()
    controls(runner, snap)
    live(runner, snap.active)
    theory_section(runner, snap)
    compare_section(snap)
    with st.expander("Broadcast to a class (viewers watch live, read-only)"):
        present_panel(runner, _broadcast_info(lesson))
    export(runner)

"""The Lab page: sidebar configuration, Playground-style controls, live status and charts."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from dashboard import charts
from dashboard.insight import compare_section, theory_section
from dashboard.lesson_panel import lesson_card, lesson_picker, pop_loaded_lesson
from dashboard.runner import Runner, Snapshot
from dashboard.sidebar import sidebar
from models import RunConfig

REFRESH_S = float(os.environ.get("RNN_LAB_REFRESH_S", "0.25"))  # chart redraw period while training
# Primary button per run state: (label, icon, action).
PRIMARY = {
    "idle": ("Train", ":material/play_arrow:", "train"), "paused": ("Resume", ":material/play_arrow:", "train"),
    "queued": ("Pause", ":material/pause:", "pause"), "training": ("Pause", ":material/pause:", "pause"),
    "done": ("Done", ":material/check:", None), "diverged": ("Diverged", ":material/error:", None),
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
                   disabled=snap.state in ("done", "diverged"), help="Train exactly one batch, then pause.")
    cols[2].button("Reset", icon=":material/restart_alt:", key="reset_button", width="stretch",
                   on_click=runner.reset, help="Same seed: the same initial weights and data again.")
    cols[3].toggle("Log-scale loss", key="log_loss")


def status(snap: Snapshot) -> None:
    latest = snap.history.latest
    cols = st.columns(4)
    cols[0].metric("Step", f"{snap.step} / {snap.config.steps}")
    cols[1].metric("Steps/s", f"{snap.steps_per_s:.1f}")
    cols[2].metric("Loss", "—" if latest is None else f"{latest.loss:.4g}")
    cols[3].metric("State", snap.state)
    if snap.state == "queued":
        st.warning("Queued: the server is already training as many runs as it has cores for. "
                   "Yours starts as soon as one of them pauses or finishes.")
    if snap.state == "diverged":
        st.error(f"The run diverged at step {snap.step}: the loss or the gradient became NaN/∞, so training "
                 "stopped (the charts keep everything up to that step). Exploding gradients: turn on "
                 "**gradient clipping** (by norm) or pick a **lower learning rate**, then press Reset.")


def chart_captions(snap: Snapshot) -> dict[str, str]:
    """The line under each chart: what it shows right now (changing text stays out of the constant specs)."""
    view = snap.history
    zeros = 0 if view.latest is None else int((view.latest.hidden == 0).sum())
    return {
        "loss": f"{len(view.scalars)} points, every {view.stride} step(s). Grey dashed rules: lr / clipping "
                "changed; red: diverged.",
        "profile": f"Step {snap.step}; up to {charts.EARLIER} earlier steps faded. {zeros} timestep(s) below "
                   "float32 range (exactly 0, drawn as ▼ at 1e-45).",
        "heatmap": f"{len(view.profile_steps)} rows, every {view.profile_stride} step(s); at most "
                   f"{charts.MAX_TIMESTEPS} timesteps shown.",
        "grad_norm": f"Clipped on {view.clip_count} of {snap.step} steps (clip = {snap.config.clip}).",
        "radius": "Above 1.0, products of W_h can grow without bound (Pascanu et al. 2013).",
    }


def chart_grid(specs: dict[str, dict[str, Any]], captions: dict[str, str]) -> None:
    """The five live charts in their two-column layout (the Lab and the broadcast viewers draw the same)."""
    for row in (("loss", "profile"), ("heatmap", "grad_norm"), ("radius",)):
        for name, col in zip(row, st.columns(2), strict=False):
            with col:
                st.vega_lite_chart(spec=specs[name], key=f"chart_{name}")
                st.caption(captions[name])


def live(runner: Runner, polling: bool) -> None:
    """Status and charts; redrawn every REFRESH_S while training, not at all when idle."""

    @st.fragment(run_every=REFRESH_S if polling else None)
    def _live() -> None:
        runner.touch()
        with runner.drawing():
            snap = runner.snapshot()
            status(snap)
            log_y = st.session_state.get("log_loss", False)
            chart_grid({name: charts.vega_spec(name, snap, log_y) for name in charts.CHARTS}, chart_captions(snap))
        if polling and not snap.active:
            st.rerun()  # the run ended: redraw the buttons once and stop polling

    _live()


def export(runner: Runner) -> None:
    with st.expander("Export this run (CSV)"):
        st.caption("Per step: loss, accuracy, gradient norms, lr, clipping, spectral radius. Per timestep: "
                   "‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖). Long runs are downsampled as in the charts.")
        cols = st.columns(2)
        cols[0].download_button("Per-step CSV", lambda: charts.steps_frame(runner.snapshot().history).to_csv(
            index=False), file_name="rnn_lab_steps.csv", mime="text/csv", key="csv_steps", on_click="ignore")
        cols[1].download_button("Per-timestep CSV", lambda: charts.timesteps_frame(runner.snapshot().history).to_csv(
            index=False), file_name="rnn_lab_timesteps.csv", mime="text/csv", key="csv_timesteps", on_click="ignore")


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
    from dashboard.viewer import present_panel  # the viewer reuses this page's status line: import late

    with st.expander("Broadcast to a class (viewers watch live, read-only)"):
        present_panel(runner, _broadcast_info(lesson))
    export(runner)

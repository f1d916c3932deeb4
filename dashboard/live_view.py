"""What every live view of a run draws — the Lab, and the broadcast's watch page: status line and chart grid.

The status never leaves a screen looking frozen: from the first redraw after Train it names the
step in flight and how long it has run, the time per step (models/cost.py's estimate for this
server until a step has been measured) and the time left.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import streamlit as st

from dashboard.charts import AUTO_LOG_DECADES, NO_STEP, live_charts, vega_spec
from dashboard.history import FINAL, Snapshot
from models.cost import step_seconds

COLUMNS = 2  # charts.live_charts(model) fill the grid row by row, in the table's order
LONG_RUN_S = 180.0  # a run expected to last longer gets a warning before it starts
SLOW_STEP_S = 0.5  # from here on the status follows the step in flight
# What an empty chart says to whoever looks at it: the Lab's user drives the run, a broadcast's watcher does not.
BEFORE_FIRST_STEP = {"lab": "No step yet: press Train, or Step for one batch.",
                     "watch": "No step yet: the presenter starts the run, and this page follows it."}


LATEST = "latest"  # the step slider's last option: follow the run


class Shows(Protocol):
    def show(self, step: int | None) -> None: ...


def _step_label(option: int | str) -> str:
    return option if option == LATEST else f"step {option}"


def step_slider(where: Any, key: str, snap: Snapshot, runner: Shows, compact: bool = False) -> Snapshot:
    """The step slider in `where`: the profile and weight-term charts at a recorded step (step 1 and evenly spaced
    steps, history.StepSample) or at the latest. It follows the latest until the user picks a step; the pick goes to
    the run (`runner.show`), so a broadcast's viewers see the same step. Returns `snap` with the pick. `compact`
    (presentation mode): no label line, so the first row of charts keeps the first 720 px; "step 1" … "latest"
    under the slider say what it holds."""
    kept = [int(step) for step in snap.history.sample.steps] if snap.history.sample is not None else []
    options = [*kept, LATEST]
    picked = st.session_state.get(key, LATEST)
    if picked not in options:  # thinned away while training, or a Reset: the nearest kept step, else the latest
        row = snap.history.sample_row(picked) if picked != LATEST else None
        picked = LATEST if row is None else kept[row]  # Streamlit resets the widget to `value` itself
    # `value` is the pick, not step 1: a browser that mounts the slider afresh without its stored state (the
    # frontend drops it when a run ends without the slider) shows and sends back the default value.
    value = where.select_slider("Profile at step", options, value=picked, key=key, disabled=not kept,
                                format_func=_step_label,
                                label_visibility="collapsed" if compact else "visible",
                                help="Show the gradient profile and W_h terms of a recorded step: step 1 is "
                                     "always kept, then evenly spaced steps. 'latest' follows the run.")
    shown = None if value == LATEST else int(value)
    if shown != snap.shown_step:
        runner.show(shown)
    return replace(snap, shown_step=shown)


def _chosen(key: str) -> str:
    return f"{key}_chosen"


def _mark_chosen(key: str) -> None:
    st.session_state[_chosen(key)] = True


def log_scale_toggle(where: Any, key: str) -> bool | None:
    """The "Log-scale loss" toggle in `where`: the user's choice once they flipped it (or a lesson's default is on),
    else None, and charts.loss_log picks the scale from the loss itself."""
    on = where.toggle("Log-scale loss", key=key, on_change=_mark_chosen, args=(key,),
                      help=f"Off: the loss axis turns logarithmic by itself when the loss spans more than "
                           f"{AUTO_LOG_DECADES} decades. Flip it to choose the scale yourself.")
    return True if on else (False if st.session_state.get(_chosen(key)) else None)


def set_log_default(key: str, on: bool) -> None:
    """A loaded lesson's default for toggle `key` (set before the toggle is drawn); forgets an earlier choice."""
    st.session_state[key] = on
    st.session_state.pop(_chosen(key), None)


def duration(seconds: float) -> str:
    """Seconds as a person reads them: 4 ms, 0.8 s, 12 s, 3.5 min, 1 h 05 min."""
    if seconds < 0.1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min" if seconds < 600 else f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def per_second(rate: float) -> str:
    """"1 step/s", "2 steps/s", "9.9 steps/s": a rate rounded to a tenth, with its unit in the right number."""
    figure = f"{rate:.1f}".removesuffix(".0")
    return f"{figure} {'step' if figure == '1' else 'steps'}/s"


def speed(steps_per_s: float) -> str:
    """The Speed figure: steps/s at one step a second or more, else seconds per step ("2 s/step" at 0.5 steps/s);
    "—" before a rate is known."""
    if steps_per_s <= 0:
        return "—"
    if round(steps_per_s, 1) >= 1:
        return per_second(steps_per_s)
    return f"{1 / steps_per_s:.1f}".removesuffix(".0") + " s/step"


def speed_metric(steps_per_s: float) -> tuple[str, str]:
    """The Speed metric's (label, value), the unit in the label ("Speed (steps/s)", "494.2"): as the value,
    "494.2 steps/s" was cut off in a quarter of the 1280 × 720 Lab."""
    figure, _, unit = speed(steps_per_s).partition(" ")
    return (f"Speed ({unit})" if unit else "Speed"), figure


def step_estimate(snap: Snapshot) -> tuple[float, bool]:
    """(seconds per step, measured?): the mean of the run's recent steps, or of the last measured run of its sizes
    (runner.StepTimes, kept across Reset), else models/cost.py's estimate."""
    if snap.seconds_per_step is not None:
        return snap.seconds_per_step, True
    return step_seconds(snap.config), False


def run_estimate(snap: Snapshot, ends_by: int | None = None) -> float:
    """Seconds until the run's last step at the measured (else estimated) speed and the pace. `ends_by`: the step by
    which the run is known to end sooner (a lesson whose tested claim says it diverges), until the run passes it."""
    last = snap.config.steps if ends_by is None or snap.step >= ends_by else min(ends_by, snap.config.steps)
    per_step = max(step_estimate(snap)[0], 1 / snap.pace if snap.pace else 0.0)
    return max(0.0, (last - snap.step) * per_step - (snap.step_running_s or 0.0))


def progress_line(snap: Snapshot, ends_by: int | None = None) -> str:
    """One line: the step in flight (when steps are slow enough to watch), time per step, time left (to `ends_by`,
    see run_estimate)."""
    per_step, measured = step_estimate(snap)
    parts = []
    if snap.state == "queued":
        parts.append("Waiting for a free core")
    elif snap.step_running_s is not None and max(per_step, snap.step_running_s) >= SLOW_STEP_S:
        parts.append(f"Step {snap.step + 1} running for {duration(snap.step_running_s)}")
    parts.append(f"~{duration(per_step)} per step ({'measured' if measured else 'estimated for this server'})")
    if snap.state not in FINAL:
        left = run_estimate(snap, ends_by)
        parts.append(f"~{duration(left)} {'left' if snap.step else 'for the whole run'}"
                     + (f" at {per_second(snap.pace)}" if snap.pace else "")
                     + (f" (this lesson diverges by step {ends_by})" if diverges_first(snap, ends_by) else ""))
    return " · ".join(parts)


def diverges_first(snap: Snapshot, ends_by: int | None) -> bool:
    """Whether the run is expected to end at `ends_by`, before its last step and after the current one."""
    return ends_by is not None and snap.step < ends_by < snap.config.steps


def status(snap: Snapshot, compact: bool = False) -> None:
    """Step, speed, loss and state (`compact`: one line, for a projector), and what the state means when it
    needs saying."""
    latest = snap.history.latest
    loss_state = {"Loss": "—" if latest is None else f"{latest.loss:.4g}", "State": snap.state}
    if compact:
        values = {"Step": f"{snap.step} / {snap.config.steps}", "Speed": speed(snap.steps_per_s), **loss_state}
        st.markdown("#### " + " · ".join(f"{name} **{value}**" for name, value in values.items()))
    else:
        # Lengths and units go in the labels: a value of more than about nine characters ("4738 / 100000",
        # "494.2 steps/s") was cut off in a quarter of the 1280 × 720 Lab.
        values = dict([(step_label(snap.config.steps), str(snap.step)), speed_metric(snap.steps_per_s)]) | loss_state
        for col, (name, value) in zip(st.columns(len(values)), values.items(), strict=True):
            col.metric(name, value)
    with st.container():  # drawn in every state, so the progress bar and charts below keep their places
        _state_note(snap)


def step_label(steps: int) -> str:
    """The Step metric's label, with the run's length."""
    return f"Step (of {steps})"


def _state_note(snap: Snapshot) -> None:
    """What the state means, when it needs saying."""
    if snap.state == "queued":
        st.warning("Queued: the server is already training as many runs as it has cores for. "
                   "Yours starts as soon as one of them pauses or finishes.")
    if snap.state == "pausing":
        st.info(f"Pausing: step {snap.step + 1} is still running and is kept when it ends.")
    if snap.state == "diverged":
        st.error(f"The run diverged at step {snap.step}: the loss or the gradient became NaN/∞, so training "
                 "stopped (the charts keep everything up to that step). Exploding gradients: turn on "
                 "**gradient clipping** (by norm) or pick a **lower learning rate**, then press Reset.")
    if snap.state == "error":
        st.error(f"Training stopped: step {snap.step + 1} failed with `{snap.error}`. The charts keep every "
                 "step before it; press Reset to start the run again.")


def progress(snap: Snapshot, ends_by: int | None = None) -> None:
    """The run's progress bar, with the step in flight, time per step and time left (to `ends_by`, see
    run_estimate) as its text."""
    st.progress(min(snap.step / snap.config.steps, 1.0), text=progress_line(snap, ends_by))


def chart_specs(snap: Snapshot, log_y: bool | None, presentation: bool = False) -> dict[str, dict[str, Any]]:
    """Every live chart's spec with this snapshot's data (text sized for a projector in presentation mode)."""
    return {c.name: vega_spec(c.name, snap, log_y, presentation) for c in live_charts(snap.config.model)}


def chart_grid(snap: Snapshot, specs: dict[str, dict[str, Any]], audience: str = "lab") -> None:
    """The live charts, COLUMNS to a row, each with its caption for `snap`, worded for `audience` (a name in
    BEFORE_FIRST_STEP)."""
    if audience not in BEFORE_FIRST_STEP:
        raise ValueError(f"unknown audience {audience!r}; valid: {', '.join(BEFORE_FIRST_STEP)}")
    shown = live_charts(snap.config.model)
    for first in range(0, len(shown), COLUMNS):
        for chart, col in zip(shown[first : first + COLUMNS], st.columns(COLUMNS), strict=False):
            with col:
                st.vega_lite_chart(spec=specs[chart.name], key=f"chart_{chart.name}")
                caption = chart.caption(snap)
                st.caption(BEFORE_FIRST_STEP[audience] if caption == NO_STEP else caption)

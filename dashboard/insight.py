"""Below the live charts: theory next to measurement, why the activation's slope matters, and run comparison.

None reads the model a training thread is changing: the theory charts use a copy of the weights taken
between two steps (`Runner.weights`), the pinned runs use snapshots. The LSTM's gates are a live chart
(charts.LIVE_CHARTS), drawn from the same snapshot as the others.
"""

from __future__ import annotations

import streamlit as st

from dashboard.compare import MAX_OVERLAY, MAX_PINS, PinnedRun, difference_labels, show_overlay
from dashboard.history import COLUMN, Snapshot
from dashboard.presses import press_button
from dashboard.runner import Runner
from dashboard.theory_charts import (
    activation_caption,
    activation_spec,
    overlay_caption,
    split_caption,
    split_chart,
    theory_overlay_chart,
)
from models.theory import predict, probe_batch, split

PINS = "pins"  # session_state: list[PinnedRun], oldest first


def theory_section(runner: Runner, snap: Snapshot) -> None:
    """RNNs: measured ‖∂L/∂h_t‖ vs the exact Jacobian chain vs Pascanu et al.'s bound, and the decay split by
    factor, at the current weights. Every run: the activations' slopes."""
    if snap.config.model != "lstm":
        if st.toggle("Theory: the Jacobian chain, the bound, and where the decay comes from", key="theory_overlay"):
            _theory(runner, snap)
    with st.expander("Why the activation's slope matters"):
        chart, text = st.columns(2, vertical_alignment="center")
        chart.vega_lite_chart(activation_spec(snap.config.negative_slope), key="activation_chart")
        text.caption(activation_caption(snap.config.activation, snap.config.negative_slope))


def _theory(runner: Runner, snap: Snapshot) -> None:
    weights = None if snap.active else runner.weights()
    if weights is None:
        st.caption("Pause to compare the current weights with theory (the charts need weights that hold still).")
        return
    x, y, loss = probe_batch(weights.config, min(weights.config.batch_size, 64))
    theory, parts = predict(weights.model, x, y, loss), split(weights.model, x, y, loss)
    left, right = st.columns(2)
    with left:
        st.altair_chart(theory_overlay_chart(theory), key="theory_chart")
        st.caption(overlay_caption(theory, weights.step))
    with right:
        st.altair_chart(split_chart(parts), key="split_chart")
        st.caption(split_caption(parts, weights.step))


def _pin(runner: Runner) -> None:
    """Pin's action: the run as it is at the press (the button is disabled while it trains)."""
    snap = runner.snapshot()
    if snap.history.latest is None or snap.active:
        return
    view = snap.history
    pin = PinnedRun(snap.config, view.scalars[:, COLUMN["step"]].astype(int), view.scalars[:, COLUMN["loss"]],
                    view.latest.hidden.copy(), snap.step, snap.state)
    st.session_state[PINS] = [*st.session_state.get(PINS, []), pin][-MAX_PINS:]


def compare_section(runner: Runner, snap: Snapshot) -> None:
    """Pin finished runs and overlay 2–4 of them: the most telling picture is two runs side by side."""
    st.subheader("Compare runs")
    can_pin = snap.history.latest is not None and not snap.active
    # A callback's args stay with a closed tab's session as long as Streamlit keeps it for a reconnect
    # (server.disconnectedSessionTTL): the runner lets go of its run when the tab is gone, a snapshot (copies of
    # the whole history) would not (docs/performance.md, "Sessions").
    press_button(st, "Pin this run", icon=":material/push_pin:", key="pin_button", disabled=not can_pin,
                 action=_pin, args=(runner,),
                 help="Keep this run's loss curve and final gradient profile to compare with later runs.")
    pins: list[PinnedRun] = st.session_state.get(PINS, [])
    if not pins:
        st.caption("Pin a finished, paused or diverged run, change a setting, train again, and pin that too.")
        return
    labels = difference_labels([p.config for p in pins])
    for label, pin in zip(labels, pins, strict=True):
        st.caption(f"{label} — {pin.state} at step {pin.final_step}")
    # Labels name what differs, so they change with every pin: a fresh widget per set of labels.
    chosen = st.multiselect("Overlay (2–4 runs)", labels, default=labels[-MAX_OVERLAY:],
                            key=f"compare_select_{hash(tuple(labels))}", max_selections=MAX_OVERLAY)
    selected = [(label, pin) for label, pin in zip(labels, pins, strict=True) if label in chosen]
    if selected:  # the same "#k" labels as the list above, whichever runs are overlaid
        show_overlay([pin for _, pin in selected], [label for label, _ in selected], "compare_chart")
    st.button("Clear pinned runs", key="clear_pins", on_click=st.session_state.pop, args=(PINS, None))

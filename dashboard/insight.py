"""Below the live charts: theory next to measurement, the LSTM's gates, and run comparison.

None reads the model a training thread is changing: the overlay uses a copy of the weights taken
between two steps (`Runner.weights`), the gates and the pinned runs use StepRecords and snapshots.
"""

from __future__ import annotations

import streamlit as st

from dashboard.compare import MAX_OVERLAY, MAX_PINS, PinnedRun, difference_labels, overlay_charts
from dashboard.history import COLUMN, Snapshot
from dashboard.runner import Runner
from dashboard.theory_charts import gates_chart, theory_overlay_chart
from models.theory import predict, probe_batch

PINS = "pins"  # session_state: list[PinnedRun], oldest first


def theory_section(runner: Runner, snap: Snapshot) -> None:
    """RNNs: measured ‖∂L/∂h_t‖ vs the exact Jacobian chain vs Pascanu et al.'s bound. LSTM: its gates."""
    latest = snap.history.latest
    if snap.config.model == "lstm":
        if latest is not None:
            st.altair_chart(gates_chart(latest), key="gates_chart")
            st.caption("A forget gate near 1 passes ∂L/∂c_t back almost unchanged: that is why the LSTM's cell "
                       "gradient survives long lags where the RNN's ‖∂L/∂h_t‖ dies.")
        return
    if not st.toggle("Theory overlay: Jacobian chain and bound", key="theory_overlay"):
        return
    weights = None if snap.active else runner.weights()
    if weights is None:
        st.caption("Pause to compare the current weights with theory (the overlay needs weights that hold still).")
        return
    x, y, loss = probe_batch(weights.config, min(weights.config.batch_size, 64))
    st.altair_chart(theory_overlay_chart(predict(weights.model, x, y, loss)), key="theory_chart")
    st.caption("On a fixed batch, with the current weights: the dashed exact chain ∂L/∂h_T·Π diag(f'(a_k)) W_h lies "
               "on the measurement; the dotted bound (γ·σ_max(W_h))^(T−1−t) (Pascanu, Mikolov & Bengio 2013) "
               "lies above it — tight when f' ≈ γ and W_h's top singular direction dominates.")


def _pin(snap: Snapshot) -> None:
    view = snap.history
    pin = PinnedRun(snap.config, view.scalars[:, COLUMN["step"]].astype(int), view.scalars[:, COLUMN["loss"]],
                    view.latest.hidden.copy(), snap.step, snap.state)
    st.session_state[PINS] = [*st.session_state.get(PINS, []), pin][-MAX_PINS:]


def compare_section(snap: Snapshot) -> None:
    """Pin finished runs and overlay 2–4 of them: the most telling picture is two runs side by side."""
    st.subheader("Compare runs")
    can_pin = snap.history.latest is not None and not snap.active
    st.button("📌 Pin this run", key="pin_button", disabled=not can_pin, on_click=_pin, args=(snap,),
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
    selected = [pin for label, pin in zip(labels, pins, strict=True) if label in chosen]
    if selected:
        st.altair_chart(overlay_charts(selected), key="compare_chart")
    st.button("Clear pinned runs", key="clear_pins", on_click=st.session_state.pop, args=(PINS, None))

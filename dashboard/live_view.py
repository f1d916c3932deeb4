"""What every live view of a run draws — the Lab, and the broadcast's watch page: status line and chart grid."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.charts import live_charts, vega_spec
from dashboard.history import Snapshot

COLUMNS = 2  # charts.live_charts(model) fill the grid row by row, in the table's order


def status(snap: Snapshot) -> None:
    """Step, speed, loss and state, and what the state means when it needs saying."""
    latest = snap.history.latest
    cols = st.columns(4)
    cols[0].metric("Step", f"{snap.step} / {snap.config.steps}")
    cols[1].metric("Steps/s", f"{snap.steps_per_s:.1f}")
    cols[2].metric("Loss", "—" if latest is None else f"{latest.loss:.4g}")
    cols[3].metric("State", snap.state)
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


def chart_specs(snap: Snapshot, log_y: bool, presentation: bool = False) -> dict[str, dict[str, Any]]:
    """Every live chart's spec with this snapshot's data (text sized for a projector in presentation mode)."""
    return {c.name: vega_spec(c.name, snap, log_y, presentation) for c in live_charts(snap.config.model)}


def chart_grid(snap: Snapshot, specs: dict[str, dict[str, Any]]) -> None:
    """The live charts, COLUMNS to a row, each with its caption for `snap`."""
    shown = live_charts(snap.config.model)
    for first in range(0, len(shown), COLUMNS):
        for chart, col in zip(shown[first : first + COLUMNS], st.columns(COLUMNS), strict=False):
            with col:
                st.vega_lite_chart(spec=specs[chart.name], key=f"chart_{chart.name}")
                st.caption(chart.caption(snap))

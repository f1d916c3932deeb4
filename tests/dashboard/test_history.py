"""Bounded history: memory and chart points stay capped however long a run trains."""

import numpy as np

from dashboard.history import CAPACITY, COLUMN, PROFILE_CAPACITY, History
from models import StepRecord


def _record(step: int, clipped: bool = False, hidden: float = 1.0) -> StepRecord:
    return StepRecord(step=step, loss=1.0 / step, accuracy=0.5, grad_norm=2.0,
                      grad_norm_clipped=1.0 if clipped else 2.0, clipped=clipped, lr=0.1, clip="norm",
                      clip_threshold=1.0, spectral_radius=0.9, diverged=False,
                      hidden=np.full(4, hidden, dtype=np.float32), cell=None, weight_terms=np.zeros(4), gates=None)


def test_long_run_keeps_at_most_capacity_rows_evenly_spaced():
    history = History(seq_len=4, lstm=False)
    steps = 10 * CAPACITY + 7
    for step in range(1, steps + 1):
        history.add(_record(step))
    view = history.view()
    assert CAPACITY // 2 <= len(view.scalars) <= CAPACITY
    assert len(view.profile_steps) <= PROFILE_CAPACITY
    kept = view.scalars[:, COLUMN["step"]].astype(int)
    assert np.all(np.diff(kept) == view.stride)  # evenly spaced, no gap or duplicate
    assert kept[-1] > steps - view.stride
    assert view.latest.step == steps


def test_clipping_fraction_survives_downsampling():
    history = History(seq_len=4, lstm=False)
    for step in range(1, 4 * CAPACITY + 1):
        history.add(_record(step, clipped=step % 4 == 0))  # every 4th step clipped
    view = history.view()
    assert view.clip_count == CAPACITY
    assert view.stride >= 4
    np.testing.assert_allclose(view.scalars[:, COLUMN["clipped"]], 0.25)


def test_view_is_a_copy():
    history = History(seq_len=4, lstm=True)
    history.add(_record(1, hidden=3.0))
    view = history.view()
    history.add(_record(2, hidden=5.0))
    assert view.hidden[0, 0] == 3.0 and len(view.scalars) == 1
    assert view.cell is not None and view.cell.shape == (1, 4)

"""Bounded history: memory and chart points stay capped however long a run trains; merging windows keeps
each window's extreme; the export log keeps every step of a 10 000-step run; views never change under a reader."""

import numpy as np
import pytest

from dashboard import history
from dashboard.history import CAPACITY, COLUMN, EXPORT_STEPS, EXPORT_VALUES, PROFILE_CAPACITY, History
from models import StepRecord


def _record(step: int, clipped: bool = False, hidden: float = 1.0, grad_norm: float = 2.0, lstm: bool = False,
            seq_len: int = 4) -> StepRecord:
    profile = np.full(seq_len, hidden, dtype=np.float32)
    return StepRecord(step=step, loss=float(step), accuracy=0.5, grad_norm=grad_norm,
                      grad_norm_clipped=1.0 if clipped else grad_norm, clipped=clipped, lr=0.1, clip="norm",
                      clip_threshold=1.0, spectral_radius=0.9, diverged=not np.isfinite(grad_norm), hidden=profile,
                      cell=profile * 2 if lstm else None, weight_terms=profile * 3, gates=None)


def _run(steps: int, **kw) -> History:
    h = History(seq_len=4, lstm=kw.get("lstm", False))
    spikes = kw.pop("spikes", {})
    for step in range(1, steps + 1):
        h.add(_record(step, grad_norm=spikes.get(step, 2.0), hidden=spikes.get(step, 1.0), **kw))
    return h


def test_long_run_keeps_at_most_capacity_rows_evenly_spaced_up_to_the_current_step():
    steps = 10 * CAPACITY + 7
    view = _run(steps).view()
    assert CAPACITY // 2 <= len(view.scalars) <= CAPACITY + 1  # + the window still filling
    assert len(view.profile_steps) <= PROFILE_CAPACITY + 1
    kept = view.scalars[:, COLUMN["step"]].astype(int)
    assert np.all(np.diff(kept[:-1]) == view.stride)  # evenly spaced, no gap or duplicate
    assert kept[-1] == steps and 0 < kept[-1] - kept[-2] <= view.stride  # the open window reaches the step
    assert view.scalars[:, COLUMN["steps_merged"]].sum() == steps  # every step is in exactly one row
    assert view.latest.step == steps


@pytest.mark.parametrize("spike", [1, 777, 2 * CAPACITY + 1, 10 * CAPACITY])
def test_a_one_step_gradient_spike_survives_every_halving(spike):
    view = _run(10 * CAPACITY + 7, spikes={spike: 1e6}).view()
    grad = view.scalars[:, COLUMN["grad_norm"]]
    assert view.stride >= 16 and grad.max() == 1e6 and np.sum(grad == 1e6) == 1
    row = int(np.argmax(grad))  # the spike sits in the row whose window holds it
    end = view.scalars[row, COLUMN["step"]]
    assert end - view.scalars[row, COLUMN["steps_merged"]] < spike <= end
    assert spike in view.profile_steps  # the heatmap's row for that window is the spike's own profile
    assert view.hidden[list(view.profile_steps).index(spike), 0] == 1e6


def test_merged_rows_hold_the_mean_loss_of_their_steps():
    view = _run(3 * CAPACITY).view()  # loss = step, so a row covering steps a+1..b has mean (a + 1 + b) / 2
    step, merged, loss = (view.scalars[:, COLUMN[name]] for name in ("step", "steps_merged", "loss"))
    np.testing.assert_allclose(loss, (step - merged + 1 + step) / 2)


def test_a_diverged_step_is_the_extreme_of_its_window():
    h = _run(3 * CAPACITY + 1)  # stride 4: step 3·CAPACITY + 1 opens a window, the diverged step closes it
    h.add(_record(3 * CAPACITY + 2, grad_norm=np.nan))
    view = h.view()
    assert view.stride == 4 and view.scalars[-1, COLUMN["steps_merged"]] == 2
    assert np.isnan(view.scalars[-1, COLUMN["grad_norm"]]) and view.scalars[-1, COLUMN["step"]] == 3 * CAPACITY + 2
    assert view.profile_steps[-1] == 3 * CAPACITY + 2  # its profile is the diverged step's


def test_clipping_fraction_survives_downsampling():
    h = History(seq_len=4, lstm=False)
    for step in range(1, 4 * CAPACITY + 1):
        h.add(_record(step, clipped=step % 4 == 0))  # every 4th step clipped
    view = h.view()
    assert view.clip_count == CAPACITY
    assert view.stride >= 4
    np.testing.assert_allclose(view.scalars[:, COLUMN["clipped"]], 0.25)


def test_a_view_never_changes_while_the_run_goes_on_and_its_logs_halve():
    h = History(seq_len=4, lstm=True)
    for step in range(1, CAPACITY):
        h.add(_record(step, hidden=float(step), lstm=True))
    view = h.view()
    before = [view.scalars.copy(), view.profile_steps.copy(), view.hidden.copy(), view.cell.copy(),
              view.export.steps().copy()]
    for step in range(CAPACITY, 3 * CAPACITY):  # both chart logs halve, the export log grows past the view
        h.add(_record(step, hidden=-1.0, lstm=True))
    after = [view.scalars, view.profile_steps, view.hidden, view.cell, view.export.steps()]
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)


def test_export_keeps_every_step_including_the_first():
    view = _run(300, lstm=True).view()
    steps = view.export.steps()
    assert steps[:, COLUMN["step"]].tolist() == list(range(1, 301)) and view.export.stride == 1
    assert (steps[:, COLUMN["steps_merged"]] == 1).all()
    timesteps = view.export.timesteps()
    assert timesteps.steps.tolist() == list(range(1, 301)) and timesteps.series == ("hidden", "cell", "weight_terms")
    assert len(view.scalars) < 300  # while the charts' log is downsampled


def test_export_log_reaches_ten_thousand_steps_at_every_step():
    log = History(seq_len=50, lstm=False)
    assert log.export_scalars.capacity == EXPORT_STEPS == 10_000
    assert log.export_profiles.capacity == EXPORT_STEPS  # T = 50, two series: 100 numbers a step fit


def test_export_log_downsamples_beyond_its_capacity(monkeypatch):
    monkeypatch.setattr(history, "EXPORT_STEPS", 100)
    view = _run(250, spikes={173: 1e6}).view()
    steps = view.export.steps()
    assert view.export.stride == 4 and len(steps) <= 101  # halved at steps 100 and 200
    assert steps[-1, COLUMN["step"]] == 250 and steps[:, COLUMN["steps_merged"]].sum() == 250
    assert steps[:, COLUMN["grad_norm"]].max() == 1e6 and 173 in view.export.timesteps().steps


@pytest.mark.parametrize("lstm", [False, True])
def test_export_memory_is_bounded_at_the_longest_sequence(lstm):
    h = History(seq_len=500, lstm=lstm)
    assert h.export_profiles.arrays[2].nbytes <= 4 * EXPORT_VALUES == 4_000_000  # float32: 4 MB
    assert h.export_scalars.arrays[0].nbytes == 800_000  # 10 000 steps × 10 float64 columns
    assert h.export_profiles.capacity == EXPORT_VALUES // ((3 if lstm else 2) * 500) // 2 * 2


# --- the step slider's sample: step 1 always, evenly spaced steps, bounded --------------------------------
@pytest.mark.parametrize("steps", [1, 2, history.SAMPLE_STEPS, history.SAMPLE_STEPS + 1, 777, 10_000])
def test_the_sample_keeps_step_1_and_evenly_spaced_steps_within_its_bound(steps):
    h = History(seq_len=4, lstm=False)
    for step in range(1, steps + 1):
        h.add(_record(step, hidden=float(step)))  # each step's profile names its step
    sample = h.view().sample
    kept = sample.steps.tolist()
    assert kept[0] == 1 and sample.get("hidden")[0, 0] == 1.0  # step 1's own profile, however long the run
    assert len(kept) <= history.SAMPLE_STEPS  # the bound
    stride = h.sample.stride
    assert np.all(np.diff(kept[1:]) == stride) and all(k % stride == 0 for k in kept[1:])  # evenly spaced
    assert steps - kept[-1] < stride  # spread over the whole run, up to its last stride
    if steps > 3 * history.SAMPLE_STEPS:
        assert len(kept) > history.SAMPLE_STEPS // 2  # thinning halves the rows, no more
    np.testing.assert_array_equal(sample.get("hidden")[:, 0], kept)  # every row is its own step's profile
    np.testing.assert_array_equal(sample.get("weight_terms")[:, 0], 3.0 * np.array(kept))


def test_a_sample_reading_never_changes_while_the_run_thins_its_sample():
    h = History(seq_len=4, lstm=True)
    for step in range(1, history.SAMPLE_STEPS + 1):
        h.add(_record(step, hidden=float(step), lstm=True))
    before = h.view().sample
    steps, values = before.steps.copy(), before.values.copy()
    for step in range(history.SAMPLE_STEPS + 1, 5 * history.SAMPLE_STEPS):
        h.add(_record(step, hidden=float(step), lstm=True))
    np.testing.assert_array_equal(before.steps, steps)
    np.testing.assert_array_equal(before.values, values)


def test_the_sample_memory_is_bounded_at_the_largest_run():
    h = History(seq_len=500, lstm=True)
    assert h.sample.values.nbytes == history.SAMPLE_STEPS * 3 * 500 * 4 <= 300_000  # float32, 3 series


def test_sample_row_picks_the_kept_step_nearest_the_asked_one():
    h = History(seq_len=4, lstm=False)
    assert h.view().sample_row(1) is None  # nothing kept before the first step
    for step in range(1, 4 * history.SAMPLE_STEPS):
        h.add(_record(step))
    view = h.view()
    assert view.sample.steps[view.sample_row(1)] == 1
    stride = h.sample.stride
    assert view.sample.steps[view.sample_row(3 * stride + 1)] == 3 * stride  # thinned away: the nearest kept

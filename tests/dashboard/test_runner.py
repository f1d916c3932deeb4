"""The per-session runner: background thread lifecycle, live changes, the global cap."""

import threading
import time

import pytest

from dashboard.runner import Runner, Slots, live_threads
from models import RunConfig, Trainer

SMALL = RunConfig(task="cat_mat_rat", hidden_size=8, batch_size=8, steps=100_000)


def _wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_synchronous_steps_equal_the_headless_trainer():
    runner = Runner(RunConfig(model="lstm", seq_len=6, steps=10))
    for _ in range(3):
        runner.step_once()
    snap = runner.snapshot()
    trainer = Trainer(RunConfig(model="lstm", seq_len=6, steps=10))
    records = [trainer.step() for _ in range(3)]
    assert snap.step == 3 and snap.state == "paused"
    assert list(snap.history.scalars[:, 1]) == [r.loss for r in records]
    assert (snap.history.latest.cell == records[-1].cell).all()


def test_train_runs_to_the_end_and_the_thread_ends():
    runner = Runner(SMALL.replace(steps=40))
    runner.train()
    _wait(lambda: runner.snapshot().state == "done")
    _wait(lambda: not live_threads())
    assert runner.snapshot().step == 40
    assert runner.snapshot().steps_per_s > 0


def test_pause_stops_the_counter_and_resume_continues():
    runner = Runner(SMALL)
    runner.train()
    _wait(lambda: runner.snapshot().step >= 5)
    runner.pause()
    _wait(lambda: not live_threads())
    paused_at = runner.snapshot().step
    time.sleep(0.2)
    assert runner.snapshot().step == paused_at and runner.snapshot().state == "paused"
    runner.train()
    _wait(lambda: runner.snapshot().step > paused_at)
    runner.close()
    assert not live_threads()


def test_fifty_start_stop_cycles_leave_no_thread_behind():
    before = threading.active_count()
    runners = [Runner(SMALL) for _ in range(5)]
    for i in range(50):
        runner = runners[i % 5]
        runner.train()
        if i % 2:
            runner.pause()
        else:
            runner.reset()
    for runner in runners:
        runner.close()
    assert live_threads() == []
    assert threading.active_count() == before


def test_release_without_waiting_still_ends_the_thread():
    runner = Runner(SMALL)
    runner.train()
    _wait(lambda: runner.snapshot().step > 0)
    runner.close(wait=False)  # what st.cache_resource's on_release does
    _wait(lambda: not live_threads(), timeout=5)


def test_lr_and_clipping_change_live_other_fields_reset():
    runner = Runner(SMALL)
    runner.step_once()
    assert runner.configure(SMALL.replace(lr=0.5, clip="norm", clip_threshold=0.3)) is None
    runner.step_once()
    snap = runner.snapshot()
    assert snap.step == 2 and snap.history.latest.lr == 0.5 and snap.history.latest.clip == "norm"
    assert [e.step for e in snap.events] == [2]
    assert "lr 0.1→0.5" in snap.events[0].text and "clip none→norm" in snap.events[0].text
    notice = runner.configure(SMALL.replace(lr=0.5, clip="norm", clip_threshold=0.3, hidden_size=4))
    assert notice is not None and "hidden_size" in notice
    assert runner.snapshot().step == 0 and runner.snapshot().state == "idle"


def test_divergence_stops_training_and_keeps_the_history():
    runner = Runner(RunConfig(activation="relu", init="identity", recurrent_gain=1.5, lr=5.0, seq_len=50))
    runner.train()
    _wait(lambda: runner.snapshot().state == "diverged")
    snap = runner.snapshot()
    assert snap.history.latest.diverged and snap.step == len(snap.history.scalars)
    _wait(lambda: not live_threads())  # the thread publishes "diverged" just before it returns
    runner.train()  # no-op: the run is over until reset
    assert runner.snapshot().state == "diverged" and not live_threads()


@pytest.mark.timeout(60)
def test_sessions_over_the_cap_are_queued_until_a_slot_frees():
    slots = Slots(limit=1)
    first, second = Runner(SMALL, slots=slots), Runner(SMALL, slots=slots)
    first.train()
    _wait(lambda: first.snapshot().state == "training")
    second.train()
    time.sleep(0.3)
    assert second.snapshot().state == "queued" and second.snapshot().step == 0
    first.pause()
    _wait(lambda: second.snapshot().state == "training")
    second.pause()
    second.close()
    first.close()
    assert not live_threads()

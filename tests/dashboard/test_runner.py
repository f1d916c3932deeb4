"""The per-session runner: its states, the background thread's lifecycle, live changes, the global cap.

Steps that take "20 s" are simulated by holding `Trainer.step` at a gate the test opens (HeldSteps),
so every test of an in-flight step is deterministic and fast.
"""

import gc
import io
import logging
import random
import threading
import time
import weakref
from collections import deque

import numpy as np
import pytest

from dashboard.live_view import progress_line, step_estimate
from dashboard.player import THREAD_PREFIX, Slots, live_threads
from dashboard.runner import RATE_WINDOW, Runner, StepTimes, recent_rate
from models import RunConfig, Trainer
from models.cost import step_seconds
from tests.dashboard.threads import race, wait_until

SMALL = RunConfig(task="cat_mat_rat", hidden_size=8, batch_size=8, steps=100_000)


def _timed(action) -> float:
    start = time.monotonic()
    action()
    return time.monotonic() - start


class HeldSteps:
    """`Trainer.step` replaced by one that waits for a permit from the test before it computes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = 0
        self._permits = threading.Semaphore(0)
        self.real = real = Trainer.step  # for reference runs the test computes itself

        def step(trainer: Trainer):
            self.started += 1
            assert self._permits.acquire(timeout=30), "a held step waited 30 s for its permit"
            return real(trainer)

        monkeypatch.setattr(Trainer, "step", step)

    def allow(self, n: int = 1) -> None:
        self._permits.release(n)


@pytest.fixture
def held(monkeypatch) -> HeldSteps:
    return HeldSteps(monkeypatch)


def test_synchronous_steps_equal_the_headless_trainer():
    runner = Runner(RunConfig(model="lstm", seq_len=6, steps=10))
    for _ in range(3):
        assert runner.step_once(wait=30)
    snap = runner.snapshot()
    trainer = Trainer(RunConfig(model="lstm", seq_len=6, steps=10))
    records = [trainer.step() for _ in range(3)]
    assert snap.step == 3 and snap.state == "paused"
    assert list(snap.history.scalars[:, 1]) == [r.loss for r in records]
    assert (snap.history.latest.cell == records[-1].cell).all()
    wait_until(lambda: not live_threads())  # Step's thread ends with its step


def test_train_runs_to_the_end_and_the_thread_ends():
    runner = Runner(SMALL.replace(steps=40))
    runner.train()
    wait_until(lambda: runner.snapshot().state == "done")
    wait_until(lambda: not live_threads())
    assert runner.snapshot().step == 40
    assert runner.snapshot().steps_per_s > 0


def test_train_waits_briefly_for_the_first_step_so_the_clicks_redraw_shows_it(held):
    runner = Runner(SMALL)
    held.allow()
    runner.train(wait=30)
    assert runner.snapshot().step == 1  # in before train() returned: the page's next draw shows it
    took = _timed(runner.train)  # already training: returns at once
    assert took < 0.05
    runner.pause()
    held.allow()  # the step in flight ends
    wait_until(lambda: runner.snapshot().state == "paused")
    wait_until(lambda: not live_threads())
    took = _timed(lambda: runner.train(wait=0.3))  # a step that takes long: train() gives up after `wait`
    assert 0.25 < took < 1.0 and runner.snapshot().state == "training" and runner.snapshot().step == 2
    held.allow(10_000)
    runner.close()
    assert not live_threads()


def test_the_end_of_a_step_wakes_train_even_while_a_redraw_holds_the_next_step():
    runner = Runner(SMALL)
    with runner.drawing():  # the first step waits DRAW_WAIT_S (1 s) for the redraw, then goes ahead
        took = _timed(lambda: runner.train(wait=5))
    assert runner.snapshot().step >= 1 and took < 1.8  # not held until the second step starts, 1 s later
    runner.close()


def test_pause_stops_the_counter_and_resume_continues():
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: runner.snapshot().step >= 5)
    runner.pause()
    wait_until(lambda: not live_threads())
    paused_at = runner.snapshot().step
    time.sleep(0.2)
    assert runner.snapshot().step == paused_at and runner.snapshot().state == "paused"
    runner.train()
    wait_until(lambda: runner.snapshot().step > paused_at)
    runner.close()
    assert not live_threads()


def test_fifty_start_stop_cycles_leave_no_thread_behind():
    """Counts only these runners' own training threads (named after the runner): a thread of an earlier test
    that happens to end meanwhile must not move the count (threading.active_count() did, in CI)."""
    runners = [Runner(SMALL) for _ in range(5)]
    mine = {f"{THREAD_PREFIX}-{runner.id}" for runner in runners}
    started = set()
    for i in range(50):
        runner = runners[i % 5]
        runner.train()
        started |= mine & set(live_threads())
        if i % 2:
            runner.pause()
        else:
            runner.reset()
    for runner in runners:
        runner.close()
    assert started  # the runners did start threads, so "none left" below means something
    assert mine & set(live_threads()) == set()


def test_release_without_waiting_still_ends_the_thread():
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: runner.snapshot().step > 0)
    runner.close(wait=False)  # what st.cache_resource's on_release does
    wait_until(lambda: not live_threads(), timeout=5)


def test_lr_and_clipping_change_live_other_fields_reset():
    runner = Runner(SMALL)
    runner.step_once(wait=30)
    assert runner.configure(SMALL.replace(lr=0.5, clip="norm", clip_threshold=0.3)) is None
    runner.step_once(wait=30)
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
    wait_until(lambda: runner.snapshot().state == "diverged")
    snap = runner.snapshot()
    assert snap.history.latest.diverged and snap.step == len(snap.history.scalars)
    wait_until(lambda: not live_threads())  # the thread publishes "diverged" just before it returns
    runner.train()  # no-op: the run is over until reset
    assert runner.snapshot().state == "diverged" and not live_threads()


@pytest.mark.timeout(60)
def test_sessions_over_the_cap_are_queued_until_a_slot_frees():
    slots = Slots(limit=1)
    first, second = Runner(SMALL, slots=slots), Runner(SMALL, slots=slots)
    first.train()
    wait_until(lambda: first.snapshot().state == "training")
    second.train()
    time.sleep(0.3)
    assert second.snapshot().state == "queued" and second.snapshot().step == 0
    first.pause()
    wait_until(lambda: second.snapshot().state == "training")
    second.pause()
    second.close()
    first.close()
    assert not live_threads()


# --- failure, pause and reset mid-step, the cap, the lock ------------------------------------
def test_a_step_that_raises_shows_its_message_and_ends_the_thread(monkeypatch):
    real, calls = Trainer.step, []

    def failing_third_step(trainer):
        calls.append(trainer.step_count + 1)
        if len(calls) == 3:
            raise RuntimeError("injected fault")
        return real(trainer)

    monkeypatch.setattr(Trainer, "step", failing_third_step)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logging.getLogger("dashboard.player").addHandler(handler)
    try:
        runner = Runner(SMALL)
        runner.train()
        wait_until(lambda: len(calls) >= 3)
        wait_until(lambda: runner.snapshot().state == "error", timeout=1)
    finally:
        logging.getLogger("dashboard.player").removeHandler(handler)
    snap = runner.snapshot()
    assert snap.error == "RuntimeError: injected fault" and snap.step == 2 and not snap.active
    assert "step 3 failed" in out.getvalue() and "RuntimeError: injected fault" in out.getvalue()  # with traceback
    wait_until(lambda: not live_threads(), timeout=1)
    runner.train()  # an error ends the run until Reset
    assert runner.snapshot().state == "error" and not live_threads()

    runner.reset()  # recovers: a new run that trains (the fault was a one-off)
    assert runner.snapshot().state == "idle" and runner.snapshot().error is None
    assert runner.step_once(wait=30) and runner.snapshot().step == 1


def test_pause_mid_step_is_pausing_until_the_step_ends_and_the_weights_hold_still(held):
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: held.started == 1)
    assert _timed(runner.pause) < 0.1
    assert runner.snapshot().state == "pausing"
    assert runner.weights() is None  # a step is in flight: no copy of weights it is changing
    held.allow()
    wait_until(lambda: runner.snapshot().state == "paused")
    wait_until(lambda: not live_threads())
    snap, weights = runner.snapshot(), runner.weights()
    assert snap.step == 1 and held.started == 1  # the step in flight was kept, no other one started
    reference = Trainer(SMALL)
    held.real(reference)
    assert weights.step == 1
    for (name, mine), theirs in zip(weights.model.state_dict().items(), reference.model.state_dict().values(),
                                    strict=True):
        assert np.array_equal(mine.numpy(), theirs.numpy()), name
    held.allow()
    runner.step_once(wait=30)
    assert runner.weights().step == 2 and weights.step == 1  # a copy: later steps do not move it
    assert any(not np.array_equal(a.numpy(), b.numpy()) for a, b in zip(
        weights.model.state_dict().values(), runner.weights().model.state_dict().values(), strict=True))


def test_pause_and_reset_answer_at_once_while_a_long_step_runs(held):
    slots = Slots(limit=1)
    runner = Runner(SMALL, slots=slots)
    runner.train()
    wait_until(lambda: held.started == 1)
    assert _timed(runner.pause) < 0.1 and runner.snapshot().state == "pausing"
    assert _timed(runner.train) < 0.1 and runner.snapshot().state == "training"  # Resume: the same thread goes on
    assert _timed(runner.reset) < 1.0  # the bar: Reset answers within 1 s whatever a step costs
    snap = runner.snapshot()
    assert snap.state == "idle" and snap.step == 0 and snap.history.latest is None
    assert len(live_threads()) == 1 and slots.used == 1  # the abandoned step still computes, in its slot

    runner.train()
    time.sleep(0.3)
    assert runner.snapshot().state == "queued"  # the cap counts the abandoned thread until it really ends
    held.allow()  # the abandoned step ends: its record is discarded, its slot freed
    wait_until(lambda: held.started == 2)
    assert runner.snapshot().step == 0 and runner.snapshot().state == "training"
    held.allow()
    wait_until(lambda: runner.snapshot().step == 1)
    assert runner.snapshot().history.latest.loss == held.real(Trainer(SMALL)).loss  # the new run's own first step
    held.allow(10_000)
    runner.close()
    assert not live_threads() and slots.used == 0


def test_a_stop_is_honoured_before_any_further_step(held):
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: held.started == 1)
    with runner.drawing():  # the page redraws: the thread waits before its next step
        held.allow()
        wait_until(lambda: runner.snapshot().step == 1)
        time.sleep(0.1)  # the thread is now waiting for the redraw to end
        runner.pause()
    time.sleep(0.3)
    assert held.started == 1 and runner.snapshot().step == 1 and runner.snapshot().state == "paused"
    held.allow(10_000)
    runner.close()


def test_step_waits_for_a_slot_like_train():
    slots = Slots(limit=1)
    first, second = Runner(SMALL, slots=slots), Runner(SMALL, slots=slots)
    first.train()
    wait_until(lambda: first.snapshot().state == "training")
    assert not second.step_once(wait=0.3)  # the cap is full: Step queues instead of training beside it
    assert second.snapshot().state == "queued" and second.snapshot().step == 0
    first.pause()
    wait_until(lambda: second.snapshot().state == "paused")
    assert second.snapshot().step == 1
    first.close()
    second.close()
    assert not live_threads()


def test_building_a_new_run_holds_no_lock(monkeypatch):
    runner = Runner(SMALL)
    real, building, finish = Trainer.__init__, threading.Event(), threading.Event()

    def slow_init(trainer, config):
        building.set()
        finish.wait(30)
        real(trainer, config)

    monkeypatch.setattr(Trainer, "__init__", slow_init)
    reset = threading.Thread(target=runner.reset, args=(SMALL.replace(hidden_size=4),))
    reset.start()
    building.wait(10)
    try:
        assert _timed(runner.snapshot) < 0.5 and _timed(runner.pause) < 0.5  # the page is not blocked
    finally:
        finish.set()
        reset.join()
    assert runner.snapshot().config.hidden_size == 4


def test_pace_limits_the_rate_changes_live_and_never_delays_pause():
    """Behaviour, not speed: a busy machine only slows steps down, so every bound here is one a slower step cannot
    break (at most the pace's count; more than the pace allows, however slow; paused with no step in flight)."""
    runner = Runner(SMALL)
    with pytest.raises(ValueError, match="pace"):
        runner.set_pace(0)
    runner.set_pace(5.0)
    runner.train()
    wait_until(lambda: runner.snapshot().step >= 1)
    start, first = time.monotonic(), runner.snapshot().step
    time.sleep(1.0)
    paced = runner.snapshot().step - first
    assert 1 <= paced <= 5 * (time.monotonic() - start) + 1  # step starts are ≥ 1/5 s apart
    assert runner.snapshot().pace == 5.0

    runner.set_pace(None)  # as fast as possible, from the next step
    start, first = time.monotonic(), runner.snapshot().step
    # 20 steps more than a pace of 5 would have allowed by now: one step of this run is ~5 ms on a quiet core.
    wait_until(lambda: runner.snapshot().step - first > 5 * (time.monotonic() - start) + 20)

    runner.set_pace(0.01)  # one step per 100 s: the thread now rests between steps
    time.sleep(0.2)
    resting = runner.snapshot().step
    runner.set_pace(2.0)  # a new pace ends the rest at once
    wait_until(lambda: runner.snapshot().step > resting, timeout=1.5)
    runner.set_pace(0.01)
    time.sleep(0.2)
    runner.pause()
    assert runner.snapshot().state == "paused"  # not "pausing": no step in flight while resting, nothing to wait for
    wait_until(lambda: not live_threads())
    runner.set_pace(None)
    runner.reset()
    assert runner.snapshot().pace is None  # the pace belongs to the session; Reset keeps whatever it is


def test_progress_shows_the_step_in_flight_and_an_estimate(held):
    runner = Runner(SMALL.replace(steps=11))
    snap = runner.snapshot()
    assert snap.step_running_s is None and snap.seconds_per_step is None and snap.eta_s is None
    runner.train()
    wait_until(lambda: held.started == 1)
    time.sleep(0.3)
    snap = runner.snapshot()
    assert snap.state == "training" and snap.step == 0
    assert snap.step_running_s >= 0.3 and snap.seconds_per_step is None  # "step 1 running for 0.3 s"
    held.allow()
    wait_until(lambda: runner.snapshot().step == 1)
    snap = runner.snapshot()
    assert snap.seconds_per_step >= 0.3
    assert snap.eta_s == pytest.approx(10 * snap.seconds_per_step - (snap.step_running_s or 0))
    runner.set_pace(0.5)  # slower than the measured speed: the estimate follows the pace
    assert runner.snapshot().eta_s >= 10 * 2.0 - 1
    held.allow(10_000)
    runner.close()


@pytest.mark.timeout(120)
def test_snapshots_stay_consistent_while_controls_race_the_training_thread(fine_switching):
    """Readers on four threads and a controller on another, against one training run; every snapshot must
    be one moment of the run (a missing lock tears them: step ≠ latest record, uneven rows)."""
    runner, rng = Runner(SMALL.replace(steps=2_000)), random.Random(0)
    controls = [runner.train, runner.pause, lambda: runner.step_once(wait=0), runner.reset,
                lambda: runner.configure(SMALL.replace(steps=2_000, lr=rng.choice([0.1, 0.2]))),
                lambda: runner.set_pace(rng.choice([None, 500.0]))]

    def read(_: int) -> None:
        snap = runner.snapshot()
        steps = snap.history.scalars[:, 0]
        assert (snap.history.latest is None) == (snap.step == 0), "step without its record"
        if snap.step:
            assert snap.history.latest.step == snap.step, "step and latest record disagree"
            assert steps[-1] == snap.step, "rows lag the step"
            assert np.all(np.diff(steps[:-1]) == snap.history.stride), "rows unevenly spaced"

    def control(_: int) -> None:
        rng.choice(controls)()
        time.sleep(0.02)

    errors = race([read] * 4 + [control], seconds=3.0)
    runner.close()
    assert not errors, f"{len(errors)} torn snapshots, e.g. {errors[0]!r}"
    assert not live_threads() and not runner.snapshot().active


# --- a closed session lets go of its run (issue 21: closed tabs' runners stayed in memory) -----------------------
def _gone(ref: weakref.ref) -> bool:
    gc.collect()
    return ref() is None


def test_a_closed_runner_lets_go_of_its_model_and_history(held):
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: held.started == 1)
    run, history = weakref.ref(runner._run), weakref.ref(runner._run.history)
    runner.close(wait=False)  # on_release, with a step in flight
    assert not runner.snapshot().active
    held.allow(10_000)
    wait_until(lambda: not live_threads(), timeout=5)
    assert _gone(history) and _gone(run)  # the finished thread, still listed by the runner, holds nothing either


def test_a_runner_closed_before_training_lets_go_at_once():
    runner = Runner(SMALL)
    history = weakref.ref(runner._run.history)
    runner.close(wait=False)
    assert _gone(history)


def test_a_closed_runner_reads_as_idle_and_its_controls_do_nothing():
    """A session kept for a reconnect still holds the old page's callbacks: pressing them must not train."""
    runner = Runner(SMALL)
    runner.step_once(wait=30)
    runner.close()
    released = runner._run
    for control in (runner.train, runner.pause, runner.reset, lambda: runner.step_once(wait=0),
                    lambda: runner.configure(SMALL.replace(hidden_size=4)),
                    lambda: runner.configure(released.wanted.replace(lr=0.05))):  # a live change: no reset
        control()
        assert not live_threads() and runner._run is released  # no thread, no new run built
        assert released.wanted == released.trainer.config and not released.pending  # shared: never written
        snap = runner.snapshot()
        assert (snap.state, snap.step) == ("idle", 0)
    assert runner.configure(SMALL.replace(seed=3)) is None


class FakeClock:
    """A clock that moves only when a (patched) step says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_step_time_is_measured_from_the_first_step_and_kept_across_reset(monkeypatch):
    clock, kept, durations = FakeClock(), StepTimes(), iter([3.0, 5.0, 4.0])
    real = Trainer.step

    def timed(trainer: Trainer):
        clock.now += next(durations)
        return real(trainer)

    monkeypatch.setattr(Trainer, "step", timed)
    runner = Runner(SMALL, step_times=kept, clock=clock)
    assert step_estimate(runner.snapshot()) == (step_seconds(SMALL), False)  # the fit, before any step
    assert "(estimated for this server)" in progress_line(runner.snapshot())
    assert runner.step_once(wait=30)
    assert step_estimate(runner.snapshot()) == (3.0, True)
    assert runner.snapshot().steps_per_s == pytest.approx(1 / 3)  # one step already gives a rate
    for _ in range(2):
        assert runner.step_once(wait=30)
    assert step_estimate(runner.snapshot()) == (4.5, True)  # the median of 5 and 4 s: step 1 also allocates
    runner.reset()
    snap = runner.snapshot()
    assert snap.step == 0 and step_estimate(snap) == (4.5, True)  # Reset keeps the measurement of these sizes
    assert "~4.5 s per step (measured)" in progress_line(snap)
    assert step_estimate(Runner(SMALL.replace(lr=0.5, seed=3), step_times=kept).snapshot()) == (4.5, True)
    bigger = SMALL.replace(hidden_size=16)  # another size: the fit again
    assert step_estimate(Runner(bigger, step_times=kept).snapshot()) == (step_seconds(bigger), False)


def test_one_step_that_straddled_a_stall_does_not_inflate_the_step_time(monkeypatch):
    """The SIGSTOP drill's step took 20 s longer than it ran; the estimate stays at the steps' typical time."""
    clock, durations = FakeClock(), iter([3.0, 1.0, 1.0, 21.0, 1.0])
    real = Trainer.step

    def timed(trainer: Trainer):
        clock.now += next(durations)
        return real(trainer)

    monkeypatch.setattr(Trainer, "step", timed)
    runner = Runner(SMALL, step_times=StepTimes(), clock=clock)
    for _ in range(5):
        assert runner.step_once(wait=30)
    assert step_estimate(runner.snapshot()) == (1.0, True)


def test_the_kept_step_times_are_bounded_and_forget_the_oldest_size():
    kept = StepTimes(most=2)
    for hidden in (4, 8, 16):
        kept.record(SMALL.replace(hidden_size=hidden), float(hidden))
    assert kept.get(SMALL.replace(hidden_size=4)) is None
    assert [kept.get(SMALL.replace(hidden_size=h)) for h in (8, 16)] == [8.0, 16.0]


def test_the_speed_counts_the_latest_second_so_a_new_pace_shows_at_once():
    fast = [(i / 10, i) for i in range(RATE_WINDOW)]  # 10 steps/s for 5 s
    assert recent_rate(deque(fast)) == pytest.approx(10)
    assert recent_rate(deque([*fast, (4.9 + 2.0, RATE_WINDOW)])) == pytest.approx(0.5)  # paced to 0.5: one step later
    assert recent_rate(deque(fast), now=4.9 + 0.12) == pytest.approx(10)  # the next step on time: unchanged
    assert recent_rate(deque(fast), now=4.9 + 1.6) == pytest.approx(1 / 1.6)  # late: the slowdown shows before it ends
    assert recent_rate(deque([(0.0, 0)])) == 0.0


def test_the_shown_step_belongs_to_the_run_reset_forgets_it_and_a_closed_runner_keeps_none():
    runner = Runner(SMALL)
    runner.step_once(wait=30)
    runner.show(1)
    assert runner.snapshot().shown_step == 1
    runner.reset()
    assert runner.snapshot().shown_step is None  # a new run follows its latest step
    runner.show(1)
    runner.close()
    runner.show(1)  # a closed runner reads the process's shared idle run: no pick may land on it
    assert runner.snapshot().shown_step is None and Runner(SMALL).snapshot().shown_step is None

"""One training run per browser session: the state machine the page drives; a Player thread steps it.

    idle ──Train──▶ queued ──slot──▶ training ──Pause──▶ pausing ──step ends──▶ paused ──Train──▶ …
                                        │ last step / non-finite loss / a step raises
                                        ▼
                                done · diverged · error        (Reset: a new run, idle, from any state)

Every control returns at once, whatever a step costs (a step at the largest accepted sizes takes seconds):
Train waits at most FIRST_STEP_WAIT_S for a first step, so the click's own redraw usually shows it;
Pause answers "pausing" and the step in flight finishes first; Reset swaps in a new run and
leaves an abandoned step to finish in the background, its result discarded. Every field of a
run is read and written under one lock, never held while a Trainer is built or a step runs, and
a step only starts once the lock has confirmed nobody asked to stop. Nothing reads the model
while a step may run: `weights()` copies it only between steps. `close()` (the session ended) lets go
of the run, so a session Streamlit keeps for a possible reconnect holds no model, history or chart data.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import functools
import statistics
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torch import nn

from dashboard.history import ACTIVE, FINAL, Event, History, Snapshot
from dashboard.player import SLOTS, THREAD_PREFIX, Player, Slots, log
from models import RunConfig, StepRecord, Trainer
from models.trainer import spectral_radius

LIVE_FIELDS = ("lr", "clip", "clip_threshold")  # may change mid-run; anything else resets
HEARTBEAT_TIMEOUT = 120.0  # s without a page run: the viewer is gone, pause (backs up on_release; hidden
# tabs poll as rarely as once a minute under Chrome's timer throttling)
STEP_WAIT_S = 1.0  # Step waits this long for its step, so a quick one is drawn by the click's own rerun
FIRST_STEP_WAIT_S = 0.1  # Train waits this long for the first step: drawn by the click's own rerun, not a poll later
DRAW_WAIT_S = 1.0  # the longest a step waits for a redraw to finish
RATE_WINDOW = 50  # steps kept for the steps/s figure
RATE_SPAN_S = 1.0  # the speed counts the latest steps spanning this long, so it follows a new pace within a second
DURATION_WINDOW = 20  # steps in the seconds-per-step estimate
SIZES_KEPT = 64  # run sizes whose last measured step time the server keeps


def sizes(config: RunConfig) -> tuple[str, int, int, int]:
    """What a step's cost depends on (the terms of models/cost.py's estimate): model, T, hidden size, batch size."""
    return config.model, config.seq_length, config.hidden_size, config.batch_size


class StepTimes:
    """The last measured seconds per step of each run size, for the whole server: a run after Reset (or in another
    session) with the same sizes is estimated from it instead of models/cost.py's fit, which can be far off on a
    server unlike the reference one. Bounded: the size measured longest ago goes first."""

    def __init__(self, most: int = SIZES_KEPT) -> None:
        self._most = most
        self._lock = threading.Lock()
        self._seconds: OrderedDict[tuple[str, int, int, int], float] = OrderedDict()

    def record(self, config: RunConfig, seconds: float) -> None:
        with self._lock:
            self._seconds[sizes(config)] = seconds
            self._seconds.move_to_end(sizes(config))
            while len(self._seconds) > self._most:
                self._seconds.popitem(last=False)

    def get(self, config: RunConfig) -> float | None:
        with self._lock:
            return self._seconds.get(sizes(config))

    def clear(self) -> None:
        with self._lock:
            self._seconds.clear()


STEP_TIMES = StepTimes()


@dataclass(frozen=True)
class Weights:
    """A copy of the model taken between two steps: it holds still whatever training does next."""

    step: int  # the steps that trained it
    config: RunConfig  # live lr / clipping included
    model: nn.Module


class _Run:
    """What Reset throws away. Every field is read and written under Runner._lock.

    A run is its own generation token: its Player thread holds on to it, so a step that Reset
    abandoned finishes on the old run (whose budget Reset set to 0), which nobody reads any more.
    """

    def __init__(self, trainer: Trainer) -> None:
        config = trainer.config
        self.trainer = trainer
        self.history = History(config.seq_length, config.model == "lstm", spectral_radius(self.trainer.model))
        self.wanted = config  # what the sidebar shows; lr / clipping reach the trainer at its next step
        self.pending: dict[str, object] = {}
        self.events: collections.deque[Event] = collections.deque(maxlen=100)
        self.times: collections.deque[tuple[float, int]] = collections.deque(maxlen=RATE_WINDOW)
        self.durations: collections.deque[float] = collections.deque(maxlen=DURATION_WINDOW)  # from step 2 on
        self.first_duration: float | None = None  # step 1 also allocates the run's buffers (see models/cost.py)
        self.state = "idle"
        self.step = 0  # published steps
        self.error: str | None = None
        self.budget: int | None = None  # steps that may still start: None = until told, 0 = stop
        self.player: Player | None = None  # the thread stepping this run, if any
        self.step_started: float | None = None  # monotonic start of the step in flight
        self.last_start: float | None = None  # of the latest step, for the pace
        self.why: str | None = None  # why the run was paused for the viewer, if not by their own Pause
        self.shown: int | None = None  # the step the profile charts show (the step slider's); None: the latest


@functools.cache  # no arguments: one run for the whole process
def _released() -> _Run:
    """What every closed Runner reads as: one idle run that never trains (a closed runner's controls do nothing)."""
    return _Run(Trainer(RunConfig()))


class Runner:
    """Train / pause / step / reset one run, and read it (`snapshot`, `weights`); every control returns at once."""

    _ids = iter(range(1, sys.maxsize))

    def __init__(self, config: RunConfig, slots: Slots = SLOTS, step_times: StepTimes = STEP_TIMES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id = next(self._ids)
        self.slots = slots
        self.step_times = step_times
        self._clock = clock  # tests pass a fake one to give steps known durations
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a step started or ended, or a control was used
        self._not_drawing = threading.Event()
        self._not_drawing.set()
        self._pace: float | None = None  # a setting of the session, kept across Reset
        self._players: list[Player] = []  # every thread this runner started that may still run
        self._last_seen = self._clock()
        self._closed = False  # the session ended: the run was let go, and controls do nothing
        self._reserved = False  # a broadcast room's run: it may take a reserved training slot
        self._run = _Run(Trainer(config))

    # --- controls (page thread) -------------------------------------------------
    def train(self, wait: float = FIRST_STEP_WAIT_S) -> None:
        """Start, or resume after Pause (while "pausing", the thread finishing its step simply goes on);
        no-op while training or when the run is over.

        A new thread's first step is waited for up to `wait` seconds: the page redraws right after the
        click, and a step that is not in by then shows only at the next poll, a refresh period later.
        """
        self.touch()
        with self._lock:
            run = self._run
            if self._closed or run.state in FINAL:
                return
            starts = run.player is None
            self._play(run, budget=None)
            if starts:
                step = run.step
                self._changed.wait_for(lambda: run.step > step or run.player is None, wait)

    def pause(self, why: str | None = None) -> None:
        """Stop before the next step: "pausing" while a step is in flight, then "paused". `why`: the reason the
        page gives (`paused_why`) when the run was training and something other than the viewer paused it."""
        with self._lock:
            run = self._run
            if self._closed:
                return
            run.budget = 0
            if run.state in ACTIVE:
                run.state = "pausing" if run.step_started is not None else "paused"
                run.why = why
            self._changed.notify_all()

    def step_once(self, wait: float = STEP_WAIT_S) -> bool:
        """Train exactly one more step (through the same cap as Train), then pause.

        Waits up to `wait` seconds for it; returns whether the run stopped within that time.
        """
        self.touch()
        with self._lock:
            run = self._run
            if not self._closed and run.state not in FINAL:
                self._play(run, budget=1)
            return self._changed.wait_for(lambda: run.player is None, wait)

    def reset(self, config: RunConfig | None = None) -> None:
        """A new run (same seed: same weights and data) at once; a step in flight finishes unseen."""
        with self._lock:
            if self._closed:
                return
            config = config or self._run.wanted
        trainer = Trainer(config)  # builds the model and the data: never under the lock
        with self._lock:
            if self._closed:
                return
            self._run.budget = 0
            self._run = _Run(trainer)
            self._changed.notify_all()

    def close(self, wait: bool = True) -> None:
        """The session ended: stop training and let go of the run (model, optimizer, history), like Reset does
        with an abandoned run; a step in flight finishes unseen. on_release passes wait=False (it runs on the
        server's event loop).

        Streamlit releases session resources when a tab disconnects but keeps the session itself (and the
        callbacks and fragment that reference this runner) for a possible reconnect, so a closed runner must
        stay cheap and safe to call: it reads as an idle run that never trains, and its controls do nothing."""
        released = _released()  # built outside the lock (a Trainer), once per process
        self.pause()
        with self._lock:
            self._closed = True
            self._run = released
            players = list(self._players)
            self._changed.notify_all()
        if wait:
            for player in players:
                player.join()

    def set_pace(self, steps_per_s: float | None) -> None:
        """At most `steps_per_s` steps a second from the next step on; None = as fast as possible."""
        if steps_per_s is not None and not steps_per_s > 0:
            raise ValueError(f"pace must be a positive number of steps per second or None, got {steps_per_s!r}")
        with self._lock:
            self._pace = steps_per_s
            self._changed.notify_all()

    def show(self, step: int | None) -> None:
        """The step whose profiles the charts draw, for this page and the broadcast's viewers (they read the
        same snapshots); None: the latest. Reset forgets it with the run."""
        with self._lock:
            if not self._closed:  # a closed runner reads the process's shared released run
                self._run.shown = step

    def configure(self, config: RunConfig) -> str | None:
        """Follow the sidebar: lr/clipping apply at the next step; any other change resets the run.

        Returns a notice for the page when the run was reset.
        """
        with self._lock:
            run = self._run
            if self._closed or config == run.wanted:
                return None
            changed = [k for k, v in config.to_dict().items() if v != getattr(run.wanted, k)]
            if set(changed) <= set(LIVE_FIELDS):
                run.wanted = config
                run.pending = {k: getattr(config, k) for k in LIVE_FIELDS}
                return None
            had_steps = run.step > 0
        self.reset(config)
        return f"Changed {', '.join(changed)}: the run was reset." if had_steps else None

    @contextlib.contextmanager
    def drawing(self) -> Iterator[None]:
        """Hold training between steps while the page redraws.

        A thread stepping small torch ops re-takes the GIL after every op, so next to it a redraw
        took several times its CPU time and the page refreshed less than 3x/s. Giving the redraw
        the GIL outright costs training only that CPU time (`python -m benchmarks.dashboard`).
        """
        self._not_drawing.clear()
        try:
            yield
        finally:
            self._not_drawing.set()

    def touch(self, at: float | None = None) -> None:
        """Heartbeat from the page: somebody is still watching. `at`: when the page's run started (time.monotonic);
        a run that started before a disconnect must not count as a return (dashboard/lifetime.py)."""
        self._last_seen = max(self._last_seen, self._clock() if at is None else at)

    @property
    def last_seen(self) -> float:
        """time.monotonic() of the latest page run that touched this runner."""
        return self._last_seen

    @property
    def reserved(self) -> bool:
        """Whether this is a broadcast room's run, which may take a training slot reserved for rooms."""
        with self._lock:
            return self._reserved

    def reserve(self, reserved: bool) -> None:
        """Mark (or unmark) this as a room's run: from its next try for a slot (a queued run's within
        SLOT_POLL_S) it may take a reserved one."""
        with self._lock:
            self._reserved = reserved

    @property
    def released(self) -> bool:
        """Whether close() let go of the run: the session needs a new Runner."""
        with self._lock:
            return self._closed

    @property
    def paused_why(self) -> str | None:
        """The reason given to pause(why=...) while the run stays paused (Train, Step and Reset clear it)."""
        with self._lock:
            return self._run.why if self._run.state in ("pausing", "paused") else None

    # --- reading (any thread) -----------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._lock:
            run = self._run
            now = self._clock()
            running = None if run.step_started is None else now - run.step_started
            return Snapshot(
                config=run.trainer.config,
                state=run.state,
                step=run.step,
                steps_per_s=recent_rate(run.times, now if run.state == "training" else None),
                history=run.history.view(),
                events=tuple(run.events),
                error=run.error,
                pace=self._pace,
                step_running_s=running,
                seconds_per_step=_measured(run) or self.step_times.get(run.trainer.config),
                shown_step=run.shown,
            )

    def weights(self, timeout: float = 0.0) -> Weights | None:
        """A copy of the current model, taken when no step is in flight (waiting up to `timeout` s for one
        to end); None if a step was still running. No step can start while the copy is made."""
        with self._lock:
            run = self._run
            if not self._changed.wait_for(lambda: run.step_started is None, timeout) or run is not self._run:
                return None
            return Weights(run.step, run.trainer.config, copy.deepcopy(run.trainer.model))

    # --- the training thread's side ------------------------------------------------
    def _play(self, run: _Run, budget: int | None) -> None:
        """Under the lock: let `run` take `budget` more steps, on its thread or a new one."""
        run.budget, run.why = budget, None
        if run.player is not None:  # still stepping (pausing, or paused a moment ago): it carries on
            run.state = "training" if run.player.has_slot else "queued"
            self._changed.notify_all()
            return
        run.state = "queued"
        run.times.clear()  # the rate counts this stretch of training only
        run.player = Player(f"{THREAD_PREFIX}-{self.id}", self.slots, functools.partial(self._queued, run),
                            functools.partial(self._turn, run), lambda: self.reserved)
        self._players = [p for p in self._players if p.is_alive()] + [run.player]
        run.player.start()

    def _queued(self, run: _Run) -> bool:
        """Player, while waiting for a slot: does `run` still want to train?"""
        with self._lock:
            return self._may_step(run) or self._leave(run)

    def _turn(self, run: _Run) -> bool:
        """Player: one step of `run`, unless asked to stop; False ends the thread."""
        self._not_drawing.wait(timeout=DRAW_WAIT_S)
        try:
            with self._lock:
                self._rest(run)
                if not self._may_step(run):
                    return self._leave(run)
                self._begin(run)
            record = run.trainer.step()  # the slow part: no lock held
            with self._lock:
                return self._publish(run, record)
        except Exception as error:  # a step that raises must show on the page, not kill the thread silently
            log.exception("training thread %s: step %d failed", threading.current_thread().name, run.step + 1)
            with self._lock:
                return self._fail(run, error)

    def _rest(self, run: _Run) -> None:
        """Under the lock: wait out the pace; Pause, Reset and a new pace end the wait at once."""
        while run.budget != 0 and self._pace and run.last_start is not None:
            gap = run.last_start + 1 / self._pace - self._clock()
            if gap <= 0:
                return
            self._changed.wait(gap)

    def _may_step(self, run: _Run) -> bool:
        """Under the lock: is `run` not over, and wanted to take another step? (Reset zeroed an old run's budget.)"""
        if self._clock() - self._last_seen > HEARTBEAT_TIMEOUT and run.state in ACTIVE:
            run.budget = 0  # nobody is watching: pause
            run.state = "paused"
        return run.budget != 0 and run.state not in FINAL

    def _begin(self, run: _Run) -> None:
        """Under the lock: hand live lr / clipping changes to the trainer, and mark the step in flight."""
        if run.pending:
            before = run.trainer.config
            run.trainer.set_lr(run.pending["lr"])
            run.trainer.set_clip(run.pending["clip"], run.pending["clip_threshold"])
            now = run.trainer.config
            diff = [f"{k} {getattr(before, k):g}→{getattr(now, k):g}" if k != "clip" else
                    f"clip {before.clip}→{now.clip}" for k in LIVE_FIELDS if getattr(before, k) != getattr(now, k)]
            if diff:
                run.events.append(Event(run.step + 1, ", ".join(diff)))
            run.pending = {}
        if run.budget is not None:
            run.budget -= 1
        run.state = "training"
        run.step_started = run.last_start = self._clock()
        if not run.times:  # the stretch's first step: its start counts, so one step already gives a rate
            run.times.append((run.step_started, run.step))
        self._changed.notify_all()

    def _publish(self, run: _Run, record: StepRecord) -> bool:
        """Under the lock: the step ended; its record joins its run (unseen if Reset abandoned that run)."""
        now = self._clock()
        if record.step == 1:
            run.first_duration = now - run.step_started
        else:
            run.durations.append(now - run.step_started)
        self.step_times.record(run.trainer.config, _measured(run))
        run.history.add(record)
        run.step = record.step
        run.times.append((now, record.step))
        if record.diverged:
            run.state = "diverged"
        elif record.step >= run.trainer.config.steps:
            run.state = "done"
        run.step_started = None
        self._changed.notify_all()
        return self._may_step(run) or self._leave(run)

    def _fail(self, run: _Run, error: Exception) -> bool:
        """Under the lock: the step raised; the run stops in "error" with the message."""
        run.step_started = None
        run.state, run.error = "error", f"{type(error).__name__}: {error}"
        return self._leave(run)

    def _leave(self, run: _Run) -> bool:
        """Under the lock: `run`'s thread ends; an unfinished run is paused."""
        run.player = None
        if run.state in ACTIVE:
            run.state = "paused"
        self._changed.notify_all()
        return False


def _measured(run: _Run) -> float | None:
    """The run's seconds per step: the median of its recent steps after the first, which is slower (it allocates),
    until there are some; None before any step ended. A median, so one step that straddled a stall (the server
    stopped, a busy core) does not inflate "per step" and "left" for the next DURATION_WINDOW steps."""
    return statistics.median(run.durations) if run.durations else run.first_duration


def recent_rate(times: collections.deque[tuple[float, int]], now: float | None = None) -> float:
    """Steps per second over the latest (time, step) marks spanning RATE_SPAN_S (at least two marks), not since
    Train: a new pace shows within a second. `now` (while training): a step that is clearly late (over a second
    and 1.5 intervals since the last mark) lowers the figure to one step in that time before it ends."""
    if len(times) < 2:
        return 0.0
    t1, s1 = times[-1]
    t0, s0 = next((mark for mark in reversed(times) if t1 - mark[0] >= RATE_SPAN_S), times[0])
    rate = (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
    if now is not None and rate > 0 and now - t1 > max(RATE_SPAN_S, 1.5 / rate):
        rate = min(rate, 1 / (now - t1))
    return rate

"""One training run per browser session, stepped by a background thread that never draws.

The thread publishes each StepRecord into a History under a lock; the page reads a
`Snapshot` (copies) a few times a second. A thread lives only while a run is training:
Pause, Reset, the end of the run or the end of the session make it return, so nothing
lingers. A process-wide `Slots` cap keeps concurrent trainers from sharing the 2 cores
so thinly that everyone crawls; a session over the cap waits, visibly "queued".
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from dashboard.history import History, HistoryView
from models import RunConfig, Trainer

THREAD_PREFIX = "rnnlab-train"
LIVE_FIELDS = ("lr", "clip", "clip_threshold")  # may change mid-run; anything else resets
# Intra-op threads per training run. torch.set_num_threads is per OS thread (OpenMP), so every
# thread that steps a Trainer sets it: otherwise a new thread spins one OpenMP worker per core
# against the server and the other runs on a 2-core box.
TORCH_THREADS = int(os.environ.get("RNN_LAB_TORCH_THREADS", "1"))
HEARTBEAT_TIMEOUT = 120.0  # s without a page run: the viewer is gone, pause (backs up on_release; hidden
# tabs poll as rarely as once a minute under Chrome's timer throttling)

log = logging.getLogger("dashboard.runner")
if not log.handlers:  # one line per thread start/end on stderr: the browser test reads it
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s rnnlab %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def live_threads() -> list[str]:
    """Names of training threads alive in this process."""
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


class Slots:
    """At most `limit` sessions train at once (default sized for a 2-core box, env RNN_LAB_MAX_TRAINING)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used = 0
        self._cond = threading.Condition()

    def acquire(self, timeout: float) -> bool:
        with self._cond:
            if self._cond.wait_for(lambda: self._used < self.limit, timeout):
                self._used += 1
                return True
            return False

    def release(self) -> None:
        with self._cond:
            self._used -= 1
            self._cond.notify()


SLOTS = Slots(int(os.environ.get("RNN_LAB_MAX_TRAINING", "2")))


@dataclass(frozen=True)
class Event:
    step: int  # the first step that used the change
    text: str


@dataclass(frozen=True)
class Snapshot:
    config: RunConfig  # the trainer's current config (live lr / clipping included)
    state: str  # idle | queued | training | paused | done | diverged
    step: int
    steps_per_s: float
    history: HistoryView
    events: tuple[Event, ...] = field(default=())

    @property
    def active(self) -> bool:
        """The page should keep polling."""
        return self.state in ("queued", "training")


class Runner:
    """Train / pause / resume / step / reset one run; every method returns at once."""

    _ids = iter(range(1, sys.maxsize))

    def __init__(self, config: RunConfig, slots: Slots = SLOTS) -> None:
        self.id = next(self._ids)
        self.slots = slots
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._not_drawing = threading.Event()
        self._not_drawing.set()
        self._thread: threading.Thread | None = None
        self._last_seen = time.monotonic()
        self._start(config)

    # --- controls (page thread) -------------------------------------------------
    def train(self) -> None:
        """Start, or resume after Pause; no-op while training or when the run is over."""
        self.touch()
        if self._stop.is_set():  # a paused thread may still be finishing its last step
            self._join()
        with self._lock:
            if self._alive() or self.trainer.done:
                return
            self._stop.clear()
            self._state = "queued"
            self._thread = threading.Thread(target=self._loop, name=f"{THREAD_PREFIX}-{self.id}", daemon=True)
            self._thread.start()

    def pause(self) -> None:
        self._stop.set()
        with self._lock:
            if self._state in ("queued", "training"):
                self._state = "paused"

    def step_once(self) -> None:
        """One step in the caller's thread (the Step button; deterministic tests)."""
        self.pause()
        self._join()
        with self._lock:
            if self.trainer.done:
                return
            self._apply_pending()
        torch.set_num_threads(TORCH_THREADS)
        rec = self.trainer.step()
        with self._lock:
            self.history.add(rec)
            self._state = self._final_state() or "paused"

    def reset(self, config: RunConfig | None = None) -> None:
        self.close()
        self._start(config or self.trainer.config)

    def close(self, wait: bool = True) -> None:
        """Stop the thread; on_release passes wait=False (it runs on the server's event loop)."""
        self._stop.set()
        if wait:
            self._join()

    def configure(self, config: RunConfig) -> str | None:
        """Follow the sidebar: lr/clipping apply at the next step; any other change resets the run.

        Returns a notice for the page when the run was reset.
        """
        current = self._config_wanted
        if config == current:
            return None
        changed = [k for k, v in config.to_dict().items() if v != getattr(current, k)]
        if set(changed) <= set(LIVE_FIELDS):
            with self._lock:
                self._config_wanted = config
                self._pending = {k: getattr(config, k) for k in LIVE_FIELDS}
            return None
        had_steps = self.trainer.step_count > 0
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

    def touch(self) -> None:
        """Heartbeat from the page: somebody is still watching."""
        self._last_seen = time.monotonic()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                config=self.trainer.config,
                state=self._state,
                step=0 if self.history.latest is None else self.history.latest.step,
                steps_per_s=self._rate(),
                history=self.history.view(),
                events=tuple(self._events),
            )

    # --- internals ----------------------------------------------------------------
    def _start(self, config: RunConfig) -> None:
        with self._lock:
            self.trainer = Trainer(config)
            self.history = History(config.seq_length, config.model == "lstm")
            self._config_wanted = config
            self._pending: dict[str, object] = {}
            self._events: collections.deque[Event] = collections.deque(maxlen=100)
            self._times: collections.deque[tuple[float, int]] = collections.deque(maxlen=50)
            self._state = "idle"

    def _alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _join(self) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _apply_pending(self) -> None:
        """Under the lock: hand live lr / clipping changes to the trainer before its next step."""
        if not self._pending:
            return
        before, after = self.trainer.config, self._pending
        self.trainer.set_lr(after["lr"])
        self.trainer.set_clip(after["clip"], after["clip_threshold"])
        now = self.trainer.config
        diff = [f"{k} {getattr(before, k):g}→{getattr(now, k):g}" if k != "clip" else f"clip {before.clip}→{now.clip}"
                for k in LIVE_FIELDS if getattr(before, k) != getattr(now, k)]
        if diff:
            self._events.append(Event(self.trainer.step_count + 1, ", ".join(diff)))
        self._pending = {}

    def _final_state(self) -> str | None:
        if self.trainer.diverged_at is not None:
            return "diverged"
        return "done" if self.trainer.done else None

    def _rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self._times[0], self._times[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def _loop(self) -> None:
        name = threading.current_thread().name
        log.info("training thread %s started", name)
        torch.set_num_threads(TORCH_THREADS)
        try:
            while not self._stop.is_set():  # queued: wait for a free slot
                if self.slots.acquire(timeout=0.2):
                    try:
                        self._train()
                    finally:
                        self.slots.release()
                    break
        finally:
            log.info("training thread %s ended (live=%d)", name, len(live_threads()) - 1)

    def _train(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._state = "training"
            self._times.clear()
        while not self._stop.is_set():
            if time.monotonic() - self._last_seen > HEARTBEAT_TIMEOUT:
                self.pause()
                return
            self._not_drawing.wait(timeout=1.0)
            with self._lock:
                self._apply_pending()
            rec = self.trainer.step()
            with self._lock:
                self.history.add(rec)
                self._times.append((time.monotonic(), rec.step))
                final = self._final_state()
                if final:
                    self._state = final
                    return

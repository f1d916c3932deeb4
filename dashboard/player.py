"""The training thread: it takes a slot under the server's cap, then plays its run's turns until told to stop.

Like TensorFlow Playground's `Player` (play / pause / one step), it knows nothing about networks:
the run (dashboard/runner.py) decides in `turn()` whether to step and what a step means. A thread
lives only while its run trains, so nothing lingers; a process-wide `Slots` cap keeps concurrent
trainers from sharing the 2 cores so thinly that everyone crawls (a session over the cap waits,
visibly "queued"). A thread keeps its slot until it really ends, even when Reset abandoned its run
mid-step, so the cap counts every thread that computes.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable

import torch

import models.cost as cost

THREAD_PREFIX = "rnnlab-train"
# Intra-op threads per training run. torch.set_num_threads is per OS thread (OpenMP), so every
# thread that steps a Trainer sets it: otherwise a new thread spins one OpenMP worker per core
# against the server and the other runs on a 2-core server.
TORCH_THREADS = int(os.environ.get("RNN_LAB_TORCH_THREADS", "1"))
SLOT_POLL_S = 0.2  # a queued thread re-checks this often whether its run still wants to train

log = logging.getLogger("dashboard.player")
if not log.handlers:  # one line per thread start/end on stderr: the browser tests read it
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter("%(asctime)s rnnlab %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def live_threads() -> list[str]:
    """Names of training threads alive in this process."""
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


class Slots:
    """At most `limit` threads train at once: RNN_LAB_MAX_TRAINING (default sized for a 2-core server), fewer
    when the server's memory budget (RNN_LAB_MEMORY_MB, models/cost.py) holds fewer runs. `reserved` more slots
    (RNN_LAB_BROADCAST_SLOTS) only a broadcast room's run may take, so a class's run never waits behind runs that
    students (or anyone) started: theirs can fill `limit`, never the reserve."""

    def __init__(self, limit: int, reserved: int = 0) -> None:
        self.limit, self.reserved = limit, reserved
        self._used = 0
        self._cond = threading.Condition()

    @property
    def used(self) -> int:
        with self._cond:
            return self._used

    def acquire(self, timeout: float, reserved: bool = False) -> bool:
        """Take a slot within `timeout` s; `reserved`: a room's run, which may also take a reserved slot."""
        cap = self.limit + (self.reserved if reserved else 0)
        with self._cond:
            if self._cond.wait_for(lambda: self._used < cap, timeout):
                self._used += 1
                return True
            return False

    def release(self) -> None:
        with self._cond:
            self._used -= 1
            self._cond.notify_all()  # a room's run may wait for a slot another waiter could not take


SLOTS = Slots(cost.training_slots(int(os.environ.get("RNN_LAB_MAX_TRAINING", "2"))),
              reserved=int(os.environ.get("RNN_LAB_BROADCAST_SLOTS", "1")))


class Player(threading.Thread):
    """One training thread: waits for a slot while `queued()`, then calls `turn()` until it returns False.

    `turn()` must not raise: the run turns a failing step into its "error" state. `reserved()`, asked at every
    try for a slot: may this run take a reserved slot (it is a broadcast room's run)?
    """

    def __init__(self, name: str, slots: Slots, queued: Callable[[], bool], turn: Callable[[], bool],
                 reserved: Callable[[], bool] = lambda: False) -> None:
        super().__init__(name=name, daemon=True)
        self.slots, self._queued, self._turn, self._reserved = slots, queued, turn, reserved
        self.has_slot = False  # set once the thread trains; read by the run to tell "queued" from "training"

    def run(self) -> None:
        log.info("training thread %s started", self.name)
        torch.set_num_threads(TORCH_THREADS)
        try:
            if self._take_slot():
                try:
                    while self._turn():
                        pass
                finally:
                    self.slots.release()
        finally:
            # Let go of the run (as threading.Thread drops its target): a finished thread object its runner
            # still lists must not keep a closed session's model and history alive.
            del self._queued, self._turn, self._reserved
            log.info("training thread %s ended (live=%d)", self.name, len(live_threads()) - 1)

    def _take_slot(self) -> bool:
        while self._queued():  # False once the run was paused or reset while waiting
            if self.slots.acquire(timeout=SLOT_POLL_S, reserved=self._reserved()):
                self.has_slot = True
                return True
        return False

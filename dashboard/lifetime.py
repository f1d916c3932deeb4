"""A session's run across a dropped websocket: kept for a grace period after the tab disconnects, then released.

Streamlit keeps a disconnected session (its `st.session_state`) for a possible reconnect, but releases the
session's `st.cache_resource(scope="session")` entries (their `on_release`) as soon as the websocket closes,
and never shuts down a stored session it later drops: a resource a script run still in flight creates after
that release is never released at all. So the Lab keeps its Runner in `st.session_state` (a tab that
reconnects finds it; it goes with the session) and uses a session resource only as a disconnect hook
(`Presence`): the hook pauses the run and hands the runner to the process's `Janitor`, which releases
(`Runner.close`) the run of every runner disconnected more than `grace` seconds ago and not seen since.

"Seen" is the start time of a page run (`Runner.touch(at=...)`): a run that started before the disconnect
and finishes after it does not count as a return, so a closed tab's run is always released.
"""

from __future__ import annotations

import ctypes
import gc
import os
import threading
import time
import weakref
from collections.abc import Callable

from dashboard.player import log
from dashboard.runner import Runner

# A dropped connection (wifi, a laptop lid) is usually back within seconds; a closed tab never is.
GRACE_S = float(os.environ.get("RNN_LAB_GRACE_S", "30"))
DISCONNECTED = "Paused while this tab was disconnected: Resume continues from this step."


def reclaim() -> None:
    """Collect the released runs' reference cycles now (the server runs no gc after script runs: runner.postScriptGC
    is off) and, on glibc, hand the memory the allocator kept back to the system."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class Janitor:
    """Releases the runs of runners whose tab disconnected more than `grace` s ago and did not return.

    `sweep_every` (s): a daemon thread sweeps this often once a first runner disconnected; None: nobody sweeps
    but the caller (tests drive `sweep()` with an injected `clock`). `reclaim` runs once after a sweep that released
    runs: a day of closed tabs otherwise leaves their memory to a collection that may not come."""

    def __init__(self, grace: float = GRACE_S, sweep_every: float | None = None,
                 clock: Callable[[], float] = time.monotonic, reclaim: Callable[[], None] = reclaim) -> None:
        self.grace, self.sweep_every, self.clock, self.reclaim = grace, sweep_every, clock, reclaim
        self._lock = threading.Lock()
        self._gone: dict[int, tuple[Runner, float]] = {}  # runner id -> (runner, when its tab disconnected)
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        """Runners disconnected and not yet released or seen again."""
        with self._lock:
            return len(self._gone)

    def disconnected(self, runner: Runner) -> None:
        """The runner's tab lost its websocket: pause its run now; release it after `grace` unless it returns."""
        at = self.clock()
        runner.pause(why=DISCONNECTED)
        with self._lock:
            self._gone[runner.id] = (runner, at)
            if self.sweep_every is not None and self._thread is None:
                self._thread = threading.Thread(target=self._sweep_forever, name="rnnlab-janitor", daemon=True)
                self._thread.start()
        log.info("runner %d: its tab disconnected, run paused (released in %g s unless the tab returns)",
                 runner.id, self.grace)

    def sweep(self) -> list[Runner]:
        """Release every runner gone more than `grace` s without a page run since; forget those seen again.
        Returns the runners released."""
        now = self.clock()
        with self._lock:
            back = [key for key, (runner, at) in self._gone.items() if runner.last_seen >= at]
            due = [key for key, (_, at) in self._gone.items() if key not in back and now - at >= self.grace]
            released = [self._gone.pop(key)[0] for key in due]
            for key in back:
                del self._gone[key]
        for runner in released:
            runner.close(wait=False)
            log.info("runner %d: released, its tab did not return", runner.id)
        if released:
            self.reclaim()
        return released

    def _sweep_forever(self) -> None:
        while True:
            time.sleep(self.sweep_every)
            self.sweep()


# One per server process; it sweeps a few times per grace period, so a run is released within 1.25 × GRACE_S.
JANITOR = Janitor(sweep_every=GRACE_S / 4)


class Presence:
    """A session resource whose release means "this tab disconnected". It holds its runner weakly: a resource
    created by a run in flight after the disconnect is never released, and must not keep the runner alive."""

    def __init__(self, runner: Runner, janitor: Janitor = JANITOR,
                 kept: Callable[[Runner], bool] = lambda runner: False) -> None:
        self._runner = weakref.ref(runner)
        self._janitor = janitor
        self._kept = kept  # whether someone else owns the run (a broadcast room): then the tab's leaving is no pause

    def gone(self) -> None:
        """on_release: hand the runner (if it still exists, and no room owns it) to the janitor."""
        if (runner := self._runner()) is None:
            return
        if self._kept(runner):
            log.info("runner %d: its tab disconnected; a broadcast room owns the run, which goes on", runner.id)
            return
        self._janitor.disconnected(runner)

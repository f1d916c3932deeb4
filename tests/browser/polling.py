"""Polling helpers for the browser tests: wait for the page, read the server's thread log."""

import re
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def thread_log(log: Path) -> list[tuple[str, str]]:
    """(thread name, "started" / "ended (live=N)") in the order the server logged them."""
    return re.findall(r"training thread (\S+) (started|ended \(live=\d+\))", log.read_text())

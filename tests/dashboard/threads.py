"""Run several bodies at once, over and over, and collect what they raised: the harness of the stress tests."""

import threading
import time
from collections.abc import Callable


def race(bodies: list[Callable[[int], object]], seconds: float) -> list[Exception]:
    """Each body in its own thread, called with 0, 1, 2, … for `seconds`; the exceptions raised, in any order."""
    stop, errors = threading.Event(), []

    def loop(body: Callable[[int], object]) -> None:
        i = 0
        while not stop.is_set():
            try:
                body(i)
            except Exception as error:  # the test reports them all at the end
                errors.append(error)
            i += 1

    threads = [threading.Thread(target=loop, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return errors


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll `predicate` every 10 ms until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)

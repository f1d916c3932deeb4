"""Shared by the dashboard's thread-safety tests."""

import sys
import weakref
from collections.abc import Iterator

import pytest
from streamlit.runtime.caching import clear_session_resource_cache


@pytest.fixture
def fine_switching() -> Iterator[None]:
    """Switch threads every 10 µs instead of 5 ms, so a missing lock shows up as a torn read within a second."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


@pytest.fixture
def fresh_session() -> Iterator[None]:
    """Every AppTest uses the session id "test session id": drop its session resources (runner, broadcast) after
    the test, through the same on_release path a closed browser tab takes."""
    yield
    clear_session_resource_cache("test session id")


@pytest.fixture(autouse=True)
def no_kept_step_times() -> Iterator[None]:
    """Every test starts with no measured step time on the server (runner.STEP_TIMES is process-wide)."""
    from dashboard.runner import STEP_TIMES

    STEP_TIMES.clear()
    yield
    STEP_TIMES.clear()


@pytest.fixture(autouse=True)
def runners_closed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every Runner a test builds and still holds is closed after it, pass or fail: a failed assertion used to leave
    its training thread running into the next tests, where it broke their thread counts and step times (one failure
    became five in a busy CI run). Weakly held: a test may check that a runner nobody holds is collected (a training
    thread holds its runner, so a running one is never missed)."""
    from dashboard.runner import Runner

    built, init = weakref.WeakSet(), Runner.__init__

    def tracked(self: Runner, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)
        built.add(self)

    monkeypatch.setattr(Runner, "__init__", tracked)
    yield
    for runner in list(built):
        runner.close()

"""Shared by the dashboard's thread-safety tests."""

import sys
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

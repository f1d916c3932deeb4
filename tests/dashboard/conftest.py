"""Shared by the dashboard's thread-safety tests."""

import sys
from collections.abc import Iterator

import pytest


@pytest.fixture
def fine_switching() -> Iterator[None]:
    """Switch threads every 10 µs instead of 5 ms, so a missing lock shows up as a torn read within a second."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)

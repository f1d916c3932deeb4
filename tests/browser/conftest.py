"""A `streamlit run` server per browser-test module."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.driver import serve


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, Path]]:
    """(base url, server log) of a fresh server: each module reads the training threads it started from the log."""
    with serve() as running:
        yield running

"""The whole app through streamlit.testing, opened on a link the way a browser tab would be."""

from streamlit.testing.v1 import AppTest

APP = "../../dashboard/app.py"  # relative to the test files in this folder


def open_app(query: dict[str, str] | None = None) -> AppTest:
    """A new session on `/?query`, after its first run."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params.update(query or {})
    return app.run()

"""The whole app through streamlit.testing, opened on a link the way a browser tab would be."""

from streamlit.testing.v1 import AppTest

from dashboard.sidebar import largest_fitting
from models import RunConfig

APP = "../../dashboard/app.py"  # relative to the test files in this folder
# The largest LSTM batch RunConfig allows at the largest length and width: a step just under the 2 s budget.
LARGEST_LSTM = RunConfig(model="lstm", seq_len=500, hidden_size=256, batch_size=largest_fitting(
    {"model": "lstm", "seq_len": 500, "hidden_size": 256}, "batch_size"))


def open_app(query: dict[str, str] | None = None) -> AppTest:
    """A new session on `/?query`, after its first run."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params.update(query or {})
    return app.run()


def step_metric(app: AppTest) -> tuple[int, int]:
    """(step, run length) from the Lab's or a viewer's Step metric ("Step (of 500)": "3")."""
    (label, value), = [(m.label, m.value) for m in app.metric if m.label.startswith("Step (of ")]
    return int(value), int(label.removeprefix("Step (of ").removesuffix(")"))

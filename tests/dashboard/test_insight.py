"""Theory overlay, LSTM gates and run comparison on the Lab page (AppTest)."""


import numpy as np
import pandas as pd
import pytest
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from tests.dashboard.chart_data import chart_frames

APP = "../../dashboard/app.py"


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    clear_session_resource_cache("test session id")



def _frame_with(app: AppTest, column: str) -> pd.DataFrame:
    return next(f for f in chart_frames(app).values() if column in f.columns)


def _steps(app: AppTest, n: int) -> None:
    for _ in range(n):
        app.button(key="step_button").click().run()
    assert not app.exception


def _app(**query: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params.update({"seq_len": "8", "hidden_size": "8", "steps": "3", **query})
    return app.run()


def test_pinning_two_runs_overlays_both():
    app = _app()
    _steps(app, 3)
    app.button(key="pin_button").click().run()
    app.selectbox(key="model").select("lstm").run()
    _steps(app, 3)
    app.button(key="pin_button").click().run()
    assert not app.exception
    loss = next(f for f in chart_frames(app).values() if {"run", "loss"} <= set(f.columns))
    assert set(loss["run"]) == {"#1 tanh RNN", "#2 LSTM"}
    assert loss.groupby("run")["step"].max().tolist() == [3, 3]
    profile = next(f for f in chart_frames(app).values() if {"run", "norm"} <= set(f.columns))
    assert len(profile) == 2 * 8


def test_theory_overlay_matches_the_measurement():
    app = _app()
    _steps(app, 2)
    app.toggle(key="theory_overlay").set_value(True).run()
    assert not app.exception
    theory = _frame_with(app, "curve")
    curves = {name: group.sort_values("t")["norm"].to_numpy() for name, group in theory.groupby("curve")}
    measured, exact = curves["measured"], curves["exact Jacobian chain"]
    np.testing.assert_allclose(exact, measured, rtol=1e-6)
    assert np.all(curves["bound (γσ_max)^(T−1−t)"] >= exact * (1 - 1e-9))


def test_lstm_shows_its_gates():
    app = _app(model="lstm", forget_bias="3")
    _steps(app, 1)
    gates = _frame_with(app, "gate")
    forget = gates[gates["gate"] == "forget gate f_t"]["mean"]
    assert len(forget) == 8 and forget.min() > 0.8  # bias 3: σ(3) ≈ 0.95 at the start

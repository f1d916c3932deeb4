"""Theory overlay and decay split, activation slopes, LSTM gates and run comparison on the Lab page (AppTest)."""


import numpy as np
import pandas as pd
import pytest
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from dashboard.theory_charts import CURVES, PARTS
from models import RunConfig, Trainer
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


def test_theory_overlay_matches_the_measurement_and_the_split_adds_up():
    app = _app()
    _steps(app, 2)
    app.toggle(key="theory_overlay").set_value(True).run()
    assert not app.exception
    theory = _frame_with(app, "curve")
    assert sorted(set(theory["t"])) == list(range(1, 9))
    curves = {name: group.sort_values("t")["norm"].to_numpy() for name, group in theory.groupby("curve")}
    measured, exact = curves["measured"], curves["exact Jacobian chain"]
    np.testing.assert_allclose(exact, measured, rtol=1e-6)
    assert np.all(curves[CURVES[2]] >= exact * (1 - 1e-9))
    split = _frame_with(app, "part")  # the decay split at the same weights, next to the overlay
    at = {part: group.set_index("t")["decades"] for part, group in split.groupby("part")}
    np.testing.assert_allclose(at[PARTS[1]] + at[PARTS[2]], at[PARTS[0]], atol=1e-9)
    assert at[PARTS[0]].loc[1] == pytest.approx(np.log10(measured[0] / measured[-1]), abs=1e-6)
    assert any(c.value.startswith("Step 2's weights") for c in app.caption)


def test_theory_follows_the_runs_weights_back_to_initialization():
    app = _app()
    _steps(app, 1)
    app.toggle(key="theory_overlay").set_value(True).run()
    assert any(c.value.startswith("Step 1's weights") for c in app.caption)
    app.button(key="reset_button").click().run()  # idle, no step yet: the initial weights, as lessons' "at init"
    assert not app.exception and any(c.value.startswith("Step 0's weights") for c in app.caption)


def test_every_run_explains_the_activation_slopes():
    for model in ("rnn", "lstm"):
        app = _app(model=model, activation="sigmoid")
        slopes = _frame_with(app, "activation")
        assert set(slopes["activation"]) == {"tanh", "sigmoid", "relu", "leaky_relu"}
        assert any(c.value.endswith("This run uses sigmoid.") for c in app.caption)


def test_lstm_gates_are_a_live_chart_at_the_live_charts_step():
    app = _app(model="lstm", forget_bias="3")
    _steps(app, 2)
    gates = chart_frames(app)["gates"]
    forget = gates[gates["gate"] == "forget gate f_t"].sort_values("t")
    assert forget["t"].tolist() == list(range(1, 9)) and forget["mean"].min() > 0.8  # bias 3: σ(3) ≈ 0.95
    trainer = Trainer(RunConfig(model="lstm", forget_bias=3.0, seq_len=8, hidden_size=8, steps=3))
    records = [trainer.step() for _ in range(2)]
    np.testing.assert_allclose(forget["mean"], records[-1].gates[0], rtol=1e-6)
    assert chart_frames(app)["profile"]["step"].max() == 2  # the same snapshot as the other live charts
    assert any(c.value.startswith("Step 2, mean over the batch") for c in app.caption)
    assert not [t for t in app.toggle if t.key == "theory_overlay"]  # the Jacobian-chain theory is the RNN's
    rnn = _app()
    assert "gates" not in chart_frames(rnn) and "gates" not in [c.key for c in rnn.get("vega_lite_chart")]

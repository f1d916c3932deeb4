"""The Lab page through streamlit.testing: sidebar -> RunConfig, deterministic steps, URL, hostile links."""

import threading
import time
from dataclasses import fields
from urllib.parse import parse_qsl

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.charts import live_charts
from dashboard.lab_page import REFRESH_S
from dashboard.player import live_threads
from dashboard.sidebar import share_query
from models import RunConfig, Trainer
from models.trainer import spectral_radius
from tests.dashboard.chart_data import chart_data
from tests.dashboard.lab_app import open_app as _app
from tests.dashboard.lab_app import step_metric

pytestmark = pytest.mark.usefixtures("fresh_session")


def _metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def _link_query(app: AppTest) -> dict[str, str]:
    link = app.sidebar.get("code")[0].value
    return dict(parse_qsl(link.partition("?")[2]))


def test_first_render_has_every_field_in_the_sidebar_and_five_charts():
    app = _app()
    assert not app.exception
    keys = {w.key for kind in ("selectbox", "slider", "select_slider", "number_input") for w in app.sidebar.get(kind)}
    assert keys == {f.name for f in fields(RunConfig)}
    assert [b.label for b in app.button][:3] == ["Train", "Step", "Reset"]
    assert len(app.get("vega_lite_chart")) == len(live_charts(RunConfig().model)) + 1  # and the activation slopes
    assert _metrics(app)["State"] == "idle"


def test_a_gru_link_trains_in_the_lab_with_the_engines_numbers():
    """?model=gru: the sidebar offers it, Step trains it, every chart but the LSTM's gates is drawn."""
    app = _app({"model": "gru", "seq_len": "8"})
    assert app.selectbox(key="model").value == "gru" and "gru" in app.selectbox(key="model").options
    for _ in range(2):
        app.button(key="step_button").click().run()
    assert not app.exception
    assert len(app.get("vega_lite_chart")) == len(live_charts("gru")) + 1
    trainer = Trainer(RunConfig(model="gru", seq_len=8))
    assert chart_data(app, "loss")["loss"].tolist() == [trainer.step().loss for _ in range(2)]


def test_sidebar_maps_to_run_config_and_steps_match_the_engine():
    app = _app()
    app.selectbox(key="model").select("lstm")
    app.slider(key="seq_len").set_value(12)
    app.select_slider(key="lr").set_value(0.5)
    app.selectbox(key="clip").select("norm").run()
    app.number_input(key="clip_threshold").set_value(2.0).run()
    expected = RunConfig(model="lstm", seq_len=12, lr=0.5, clip="norm", clip_threshold=2.0)
    assert RunConfig.from_strings(_link_query(app)) == expected
    for _ in range(3):
        app.button(key="step_button").click().run()
    assert not app.exception
    assert step_metric(app) == (3, expected.steps)
    trainer = Trainer(expected)
    records = [trainer.step() for _ in range(3)]
    loss = chart_data(app, "loss")
    assert loss["step"].tolist() == [1, 2, 3]
    assert loss["loss"].tolist() == [r.loss for r in records]
    profile = chart_data(app, "profile")
    latest = profile[(profile["step"] == 3) & (profile["series"] == "‖∂L/∂h_t‖")]
    assert latest["t"].tolist() == list(range(1, 13))
    assert latest["norm"].tolist() == records[-1].hidden.astype(float).tolist()
    assert set(profile["series"]) == {"‖∂L/∂h_t‖", "‖∂L/∂c_t‖"}
    assert len(chart_data(app, "heatmap")) == 3 * 12
    at_init = spectral_radius(Trainer(expected).model)  # step 0: the radius chart starts at initialization
    assert chart_data(app, "radius")["spectral_radius"].tolist() == [at_init] + [r.spectral_radius for r in records]


def test_train_runs_in_the_background_until_done():
    app = _app({"task": "cat_mat_rat", "steps": "25"})
    app.button(key="primary").click().run()
    deadline = time.monotonic() + 30
    while _metrics(app)["State"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.1)
        app.run()
    assert step_metric(app) == (25, 25)
    assert chart_data(app, "loss")["step"].tolist() == list(range(1, 26))
    assert app.button[0].label == "Done"
    deadline = time.monotonic() + 5
    while live_threads():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_fifty_train_stop_cycles_from_the_page_leave_no_thread():
    app = _app({"task": "cat_mat_rat", "steps": "100000"})
    for cycle in range(50):
        while _metrics(app)["State"] == "pausing":  # Train is offered again once the step in flight has ended
            time.sleep(0.01)
            app.run()
        app.button(key="primary").click().run()
        stop = "primary" if cycle % 2 else "reset_button"  # "primary" is Pause here
        app.button(key=stop).click().run()
    assert not app.exception
    deadline = time.monotonic() + 5
    while live_threads():
        assert time.monotonic() < deadline, live_threads()
        time.sleep(0.05)


def test_query_params_round_trip():
    config = RunConfig(model="lstm", activation="relu", init="orthogonal", lr=0.03, clip="value", clip_threshold=0.5,
                       task="adding", seq_len=40, hidden_size=16, batch_size=32, steps=800, seed=7, forget_bias=2.0,
                       bptt_window=5)
    query = dict(parse_qsl(share_query(config)))
    app = _app(query)
    assert not app.exception
    assert {k: app.session_state[k] for k in config.to_dict()} == config.to_dict()
    assert _link_query(app) == query
    assert dict(app.query_params) == query  # valid values stay in the address bar


@pytest.mark.parametrize("query", [
    {"model": "banana", "lr": "-5", "seq_len": "99999999"},
    {"hidden_size": "abc", "clip_threshold": "nan", "steps": "1e9", "batch_size": "-1", "init": "<script>"},
    {"lr": "inf", "seed": "-3", "recurrent_gain": "", "task": "", "bptt_window": "-2"},
])
def test_hostile_links_fall_back_to_defaults(query):
    app = _app(query)
    assert not app.exception
    defaults = RunConfig().to_dict()
    assert {k: app.session_state[k] for k in query} == {k: defaults[k] for k in query}
    app.button(key="step_button").click().run()  # and the page still trains
    assert not app.exception and step_metric(app) == (1, RunConfig().steps)


def test_mid_run_lr_change_is_marked_and_other_changes_reset_with_a_notice():
    app = _app({"task": "cat_mat_rat"})
    app.button(key="step_button").click().run()
    app.select_slider(key="lr").set_value(1.0).run()
    app.button(key="step_button").click().run()
    assert step_metric(app)[0] == 2 and not app.info
    events = chart_data(app, "events")
    assert events[["step", "kind"]].values.tolist() == [[2, "change"]] and "lr 0.1→1" in events["event"][0]
    app.slider(key="hidden_size").set_value(8).run()
    assert step_metric(app)[0] == 0
    assert "hidden_size" in app.info[0].value


def test_divergence_explains_what_to_do():
    app = _app({"activation": "relu", "init": "identity", "recurrent_gain": "1.5", "lr": "5", "seq_len": "50"})
    for _ in range(2):
        app.button(key="step_button").click().run()
    assert _metrics(app)["State"] == "diverged"
    assert app.button(key="step_button").disabled
    message = app.error[0].value
    assert "diverged at step 2" in message and "clipping" in message and "lower learning rate" in message
    assert chart_data(app, "events")["kind"].tolist() == ["diverged"]


def test_a_failing_step_shows_its_message_within_a_second_and_reset_recovers(monkeypatch):
    real = Trainer.step

    def fail_at_step_4(trainer):
        if trainer.step_count == 3:
            raise RuntimeError("injected fault")
        return real(trainer)

    monkeypatch.setattr(Trainer, "step", fail_at_step_4)
    app = _app({"task": "cat_mat_rat", "steps": "100000"})
    clicked = time.monotonic()
    app.button(key="primary").click().run()
    while _metrics(app)["State"] != "error":  # each run is what the page's fragment does every REFRESH_S
        assert time.monotonic() - clicked < 1.0, "no error on the page within a second"
        time.sleep(REFRESH_S)
        app.run()
    assert "step 4 failed with `RuntimeError: injected fault`" in app.error[0].value
    assert "press Reset" in app.error[0].value and step_metric(app)[0] == 3
    assert app.button[0].label == "Error" and app.button(key="step_button").disabled
    deadline = time.monotonic() + 1
    while live_threads():
        assert time.monotonic() < deadline, live_threads()
        time.sleep(0.05)

    monkeypatch.setattr(Trainer, "step", real)
    app.button(key="reset_button").click().run()
    assert _metrics(app)["State"] == "idle" and not app.error
    app.button(key="step_button").click().run()
    assert step_metric(app)[0] == 1 and _metrics(app)["State"] == "paused"


def test_pause_during_a_long_step_says_pausing_until_the_step_ends(monkeypatch):
    real, started, finish = Trainer.step, threading.Event(), threading.Event()

    def long_step(trainer):
        started.set()
        finish.wait(30)  # a 20 s LSTM step, held until the test lets it end
        return real(trainer)

    monkeypatch.setattr(Trainer, "step", long_step)
    app = _app({"task": "cat_mat_rat", "steps": "100000"})
    app.button(key="primary").click().run()
    assert started.wait(10)
    app.button(key="primary").click().run()
    assert _metrics(app)["State"] == "pausing" and step_metric(app)[0] == 0
    assert "step 1 is still running" in app.info[0].value and app.button[0].label == "Pausing…"
    finish.set()
    deadline = time.monotonic() + 5
    while _metrics(app)["State"] != "paused":
        assert time.monotonic() < deadline
        time.sleep(REFRESH_S)
        app.run()
    assert step_metric(app)[0] == 1 and not app.info  # the step in flight was kept

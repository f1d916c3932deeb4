"""The step slider: after a run, any recorded step's profile and weight terms, step 1 always among them; the
broadcast's viewers see the presenter's pick."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.history import SAMPLE_STEPS
from dashboard.lab_page import RUNNER, STEP_KEY
from dashboard.live_view import LATEST
from dashboard.presenter import rooms
from models.lessons import LESSONS, run_lesson
from tests.dashboard.chart_data import chart_data
from tests.dashboard.lab_app import open_app
from tests.dashboard.threads import wait_until

LESSON = LESSONS["init_alone"]  # lesson 4: "At step 1 … more than 90% of the gradient reaches the first word"


def _step_1_check():
    """The card's step-1 number: its claim's check of ‖∂L/∂h_1‖/‖∂L/∂h_T‖ at step 1."""
    (check,) = [c for c in LESSON.claim.checks if c.label.endswith("at step 1")]
    return check


def _ratio(profile) -> float:
    """‖∂L/∂h_1‖/‖∂L/∂h_T‖ of the bold curve the profile chart draws."""
    bold = profile[(profile["recency"] == 1.0) & (profile["series"] == "‖∂L/∂h_t‖")].sort_values("t")
    return float(bold["norm"].iloc[0] / bold["norm"].iloc[-1])


def _finished_lesson(fresh_session) -> AppTest:
    app = open_app({"lesson": LESSON.key})
    runner = app.session_state[RUNNER]
    runner.set_pace(None)  # the lesson's classroom pace would take 25 s
    runner.train()
    wait_until(lambda: runner.snapshot().state == "done", timeout=120)
    return app.run()


def test_after_lesson_4_the_slider_at_step_1_shows_the_ratio_the_card_states(fresh_session):
    app = _finished_lesson(fresh_session)
    assert not app.exception
    check = _step_1_check()
    assert any(check.text in caption.value for caption in app.caption)  # the card states it
    slider = app.select_slider(key=STEP_KEY)
    assert slider.value == LATEST and "step 1" in slider.options
    end = chart_data(app, "profile")["step"]
    assert end.max() == LESSON.config.steps and 1 not in set(end)  # the run's end: step 1 is not drawn
    slider.set_value(1).run()
    profile, terms = chart_data(app, "profile"), chart_data(app, "weight_terms")
    assert set(profile["step"]) == {1} and set(terms["step"]) == {1}
    shown = _ratio(profile)
    records = run_lesson(LESSON)  # the same preset and seed, trained headless
    assert shown == pytest.approx(check.measure(records), rel=1e-5) and check.holds(shown)
    np.testing.assert_allclose(terms.sort_values("t")["norm"], records[0].weight_terms, rtol=1e-5)
    assert f"Step 1 of {LESSON.config.steps}, picked on the Lab's step slider" in " ".join(c.value for c in app.caption)
    slider = app.select_slider(key=STEP_KEY)
    slider.set_value(LATEST).run()
    assert set(chart_data(app, "profile")["step"]) != {1}


def _browser_default(app: AppTest) -> str:
    """What a browser that mounts the slider without its stored state shows (and sends back): the proto's default."""
    proto = app.select_slider(key=STEP_KEY).proto
    (index,) = proto.default
    return proto.options[int(index)]


def test_the_slider_follows_the_latest_step_until_a_step_is_picked_and_reset_goes_back_to_latest(fresh_session):
    app = open_app({"task": "cat_mat_rat", "hidden_size": "8", "batch_size": "8", "steps": "1000"})
    assert app.select_slider(key=STEP_KEY).disabled  # nothing recorded yet
    runner = app.session_state[RUNNER]
    for _ in range(3):
        runner.step_once(wait=30)
    app.run()
    assert app.select_slider(key=STEP_KEY).options == ["step 1", "step 2", "step 3", LATEST]
    assert _browser_default(app) == LATEST
    assert chart_data(app, "profile")["step"].max() == 3  # following the latest
    app.select_slider(key=STEP_KEY).set_value(2).run()
    assert _browser_default(app) == "step 2"
    runner.step_once(wait=30)
    app.run()
    assert set(chart_data(app, "profile")["step"]) == {2}  # the pick holds while the run moves on
    assert runner.snapshot().shown_step == 2
    app.button(key="reset_button").click().run()
    assert app.select_slider(key=STEP_KEY).value == LATEST and runner.snapshot().shown_step is None


def test_a_picked_step_the_run_thins_away_moves_to_the_nearest_kept_step(fresh_session):
    app = open_app({"task": "cat_mat_rat", "hidden_size": "8", "batch_size": "8", "steps": "1000"})
    runner = app.session_state[RUNNER]
    for _ in range(SAMPLE_STEPS):
        runner.step_once(wait=30)
    app.run().select_slider(key=STEP_KEY).set_value(3).run()
    runner.step_once(wait=30)  # one step past the sample's bound: every other kept step goes
    app.run()
    slider = app.select_slider(key=STEP_KEY)
    assert not app.exception and 3 not in runner.snapshot().history.sample.steps
    assert slider.value in (2, 4) and _browser_default(app) == f"step {slider.value}"
    assert set(chart_data(app, "profile")["step"]) == {slider.value}


def test_viewers_of_a_broadcast_see_the_step_the_presenter_picked(fresh_session):
    app = open_app({"task": "cat_mat_rat", "hidden_size": "8", "batch_size": "8", "steps": "1000"})
    runner = app.session_state[RUNNER]
    for _ in range(4):
        runner.step_once(wait=30)
    code = rooms().publish(runner, {})
    try:
        app.run().select_slider(key=STEP_KEY).set_value(1).run()
        viewer = AppTest.from_file("../../dashboard/app.py", default_timeout=60)
        viewer.query_params["watch"] = code
        viewer.run()
        assert not viewer.exception
        assert set(chart_data(viewer, "profile")["step"]) == {1}
        assert set(chart_data(viewer, "weight_terms")["step"]) == {1}
        assert chart_data(viewer, "loss")["step"].max() == 4  # the rest of the frame is the run as it is
    finally:
        rooms().close(code)


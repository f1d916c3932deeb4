"""The `?watch=CODE` page and the presenter's panel through streamlit.testing: viewers read, never train."""

import time

import pytest
from streamlit.runtime.caching import clear_session_resource_cache
from streamlit.testing.v1 import AppTest

from dashboard.charts import live_charts
from dashboard.player import live_threads
from dashboard.presenter import rooms
from dashboard.runner import Runner
from dashboard.watch_page import WATCH_REFRESH_S, shared_frame
from models import RunConfig, Trainer
from models.lessons import LESSONS
from tests.dashboard.chart_data import chart_data
from tests.dashboard.lab_app import step_metric
from tests.dashboard.threads import wait_until

APP = "../../dashboard/app.py"
PANEL = """
from dashboard.presenter import broadcasting, present_button
from dashboard.presses import act_on_presses
from dashboard.room_badge import room_badge
from dashboard.runner import Runner
from models import RunConfig
from models.lessons import LESSONS
import streamlit as st

@st.cache_resource(show_spinner=False)
def presenters_runner():
    return Runner(RunConfig(task="cat_mat_rat"))

info = {"title": "Lesson one", "config": {}}
act_on_presses()  # a page's first call: its buttons act here (dashboard/presses.py)
present_button(presenters_runner(), info)
room_badge(broadcasting(info), LESSONS["vanishing"])
"""


@pytest.fixture(autouse=True)
def _fresh_session():
    """Every AppTest shares the session id "test session id": drop its session resources afterwards."""
    yield
    clear_session_resource_cache("test session id")


@pytest.fixture
def room():
    """A presenter's run, three steps in, published: (code, runner, the engine's records for those steps)."""
    config = RunConfig(task="cat_mat_rat", steps=500)
    presenter_run = Runner(config)
    for _ in range(3):
        presenter_run.step_once(wait=30)
    # step_once returns with the step's record, a moment before its thread ends: a test that counts training threads
    # must not see this one end during it (it did under full CPU load).
    wait_until(lambda: not live_threads(), timeout=30)
    trainer = Trainer(config)
    records = [trainer.step() for _ in range(3)]
    code = rooms().publish(presenter_run, {"title": "Vanishing gradients", "explanation": "Watch the left end.",
                                           "watch": "The profile falls to the left.", "config": config.to_dict()})
    yield code, presenter_run, records
    rooms().close(code)
    presenter_run.close()


def _watch(code: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["watch"] = code
    return app.run()



def _no_training(monkeypatch) -> None:
    """From here on, building or starting a Runner (the dashboard's only way to train) fails loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError("the watch page built or started a Runner")

    for method in ("__init__", "train"):
        monkeypatch.setattr(Runner, method, refuse)


def test_unknown_code_explains_itself(monkeypatch):
    _no_training(monkeypatch)
    app = _watch("NOSUCH99")
    assert not app.exception
    assert "no live broadcast" in app.warning[0].value and "NOSUCH99" in app.warning[0].value
    assert not app.get("vega_lite_chart")


def test_viewer_sees_the_presenters_run_and_trains_nothing(room, monkeypatch):
    code, presenter_run, records = room
    threads = live_threads()
    _no_training(monkeypatch)
    app = _watch(code.lower())  # typed on a phone
    assert not app.exception
    assert step_metric(app) == (3, 500)
    assert chart_data(app, "loss")["loss"].tolist() == [r.loss for r in records]
    assert len(app.get("vega_lite_chart")) == len(live_charts(presenter_run.snapshot().config.model))
    assert "Vanishing gradients" in app.markdown[0].value + app.markdown[1].value
    settings = app.caption[1].value  # under the line that says what a watcher is watching
    assert "task = cat_mat_rat" in settings and "lr = " in settings
    assert "forget_bias" not in settings  # an RNN has no forget gate: only settings that apply
    assert live_threads() == threads
    assert rooms().watch(code, "presenter check").viewers == 2  # the page, this check

    presenter_run.step_once(wait=30)  # the presenter moves on: the viewer's next refresh shows it
    time.sleep(WATCH_REFRESH_S)  # the room's shared frame is rebuilt once per refresh period
    app.run()
    assert step_metric(app) == (4, 500)

    rooms().close(code)  # Stop broadcast: the viewer learns it ended and stops polling
    app.run()
    assert not app.exception
    assert "has ended" in app.info[0].value and not app.get("vega_lite_chart")


def _captions(app: AppTest) -> str:
    return " ".join(c.value for c in app.caption)


def _badge_text(app: AppTest) -> str:
    return " ".join(m.value for m in app.markdown)


def test_presenter_badge_publishes_shows_the_link_and_qr_and_ends_only_when_confirmed():
    app = AppTest.from_string(PANEL, default_timeout=60).run()
    assert [b.label for b in app.button] == ["Broadcast"] and not app.code
    app.button(key="present").click().run()
    link = app.code[0].value  # in the badge's Room menu
    assert "?watch=" in link
    code = link.partition("?watch=")[2]
    assert code in app.markdown[0].value  # the room code in large type, in the page itself
    assert "**0** watching" in _badge_text(app)
    room = rooms().watch(code, "student")
    assert room is not None and room.info["title"] == "Lesson one"
    assert app.get("image"), "no QR code in the Room menu"
    # Broadcast's place now holds a disabled "On air": a second click there cannot end the room.
    assert app.button(key="present").label == "On air" and app.button(key="present").disabled
    app.button(key="end_broadcast").click().run()  # End asks once, in a dialog (room_badge._confirm_end)
    assert rooms().watch(code, "student") is not None
    assert [d.proto.dialog.title for d in app.get("dialog")] == ["End the broadcast?"]
    assert {b.key for b in app.get("dialog")[0].button} == {"end_broadcast_yes", "end_broadcast_no"}
    app.button(key="end_broadcast_no").click().run()  # Keep broadcasting
    assert rooms().watch(code, "student") is not None and not app.get("dialog")
    app.button(key="end_broadcast").click().run()
    app.button(key="end_broadcast_yes").click().run()
    assert rooms().watch(code, "student") is None
    assert [b.label for b in app.button] == ["Broadcast"] and not app.code


def test_the_badge_asks_the_lessons_question_shows_the_live_tally_and_reveals():
    app = AppTest.from_string(PANEL, default_timeout=60).run()
    app.button(key="present").click().run()
    code = app.code[0].value.partition("?watch=")[2]
    assert app.button(key="poll_button").label == "Ask the class"
    app.button(key="poll_button").click().run()
    poll = rooms().watch(code, "a").poll
    assert poll.question == LESSONS["vanishing"].question and poll.choices == ("vanish", "stay", "explode")
    rooms().vote(code, "a", "vanish")
    rooms().vote(code, "b", "stay")
    rooms().vote(code, "b", "vanish")  # changed: still one vote
    app.run()
    assert "poll open: 2 votes (vanish 2 · stay 0 · explode 0)" in _badge_text(app)
    assert app.button(key="poll_button").label == "Reveal"
    app.button(key="poll_button").click().run()
    assert rooms().vote(code, "c", "stay") == "locked"
    assert "poll closed: 2 votes" in _badge_text(app) and app.button(key="poll_button").label == "Ask the class"


def test_closing_the_presenters_tab_keeps_the_room():
    """The room owns the broadcast run: F5 or a crashed browser must not end the class's broadcast."""
    app = AppTest.from_string(PANEL, default_timeout=60).run()
    app.button(key="present").click().run()
    code = app.code[0].value.partition("?watch=")[2]
    assert rooms().watch(code, "student") is not None
    clear_session_resource_cache("test session id")  # what Streamlit does when the session disconnects
    assert rooms().watch(code, "student") is not None
    rooms().close(code)


def test_a_student_votes_once_changes_the_vote_and_sees_the_tally_and_answer_after_train(room, monkeypatch):
    code, presenter_run, _ = room
    lesson = LESSONS["vanishing"]
    rooms().ask(code, lesson.question, lesson.choices, lesson.answer)
    rooms().vote(code, "another phone", "explode")
    _no_training(monkeypatch)
    app = _watch(code)
    vote = app.radio(key="vote_1")
    assert lesson.question in vote.label and vote.options == ["vanish", "stay", "explode"] and vote.value is None
    vote.set_value("stay").run()
    assert "Your vote is in: **stay**" in _captions(app)
    assert rooms().watch(code, "reader").poll.tally == (0, 1, 1)
    app.radio(key="vote_1").set_value("vanish").run()  # changed before the reveal: still one vote from this tab
    assert rooms().watch(code, "reader").poll.tally == (1, 0, 1) and "You changed your vote" in _captions(app)
    assert presenter_run.snapshot().step == 3  # a vote changes nothing in the run
    rooms().lock(code)  # the presenter pressed Train
    app.run()
    assert not app.radio  # nothing left to vote with
    text = " ".join(m.value for m in app.markdown)
    assert "The class predicted: vanish 1 · stay 0 · explode 1. You voted **vanish**." in text
    assert "**The run shows: vanish.**" in text


def test_viewers_share_one_frame_per_refresh_period(room):
    code, presenter_run, _ = room
    first = shared_frame(rooms(), code, log_y=False, max_age=60)
    presenter_run.step_once(wait=30)
    assert shared_frame(rooms(), code.lower(), log_y=False, max_age=60) is first  # built once for both
    fresh = shared_frame(rooms(), code, log_y=False, max_age=0)
    assert fresh is not first and fresh.snap.step == 4
    assert all(isinstance(data, bytes) for spec in fresh.specs.values() for data in spec["datasets"].values())


def test_the_watch_page_speaks_to_watchers_who_neither_train_nor_step():
    presenter_run = Runner(RunConfig(task="cat_mat_rat"))  # not started: the charts are empty
    code = rooms().publish(presenter_run, {"title": "Lesson one", "config": {}})
    try:
        app = _watch(code)
        assert not app.exception
        text = " ".join(c.value for c in app.caption) + " ".join(m.value for m in app.markdown)
        assert f"You are watching the presenter's run live (broadcast **`{code}`**)" in text
        assert "the presenter trains, pauses and changes it" in text
        assert "No step yet: the presenter starts the run, and this page follows it." in text
        assert "press Train" not in text and "Step for one batch" not in text
    finally:
        rooms().close(code)
        presenter_run.close()

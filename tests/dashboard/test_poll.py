"""Predict, then run, in the whole Lab: the badge asks the loaded lesson's question, and Train or Step locks it."""

import pytest
from streamlit.runtime.caching import clear_session_resource_cache

from dashboard.poll import question_of
from dashboard.presenter import rooms
from dashboard.room_badge import qr_png
from models.lessons import GENERIC, LESSONS, QUESTIONS
from tests.dashboard.lab_app import open_app


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    clear_session_resource_cache("test session id")  # closes the room the test opened


def _asked(query: dict[str, str]):
    app = open_app(query)
    app.button(key="present").click().run()
    code = next(c.value for c in app.code if "?watch=" in c.value).partition("?watch=")[2]  # the badge's link
    app.button(key="poll_button").click().run()
    assert rooms().vote(code, "phone", rooms().watch(code, "reader").poll.choices[1]) == "counted"
    return app, code


@pytest.mark.parametrize("control", ["primary", "step_button"])
def test_train_or_step_locks_the_lessons_poll(control):
    app, code = _asked({"lesson": "lstm", "steps": "3"})
    poll = rooms().watch(code, "reader").poll
    assert (poll.question, poll.choices, poll.locked) == (LESSONS["lstm"].question, ("yes", "no"), False)
    assert rooms().vote(code, "phone", "yes") == "changed"
    app.button(key=control).click().run()
    assert rooms().vote(code, "phone", "no") == "locked"
    assert rooms().watch(code, "reader").poll.answer == "yes"


def test_a_run_that_is_no_lesson_asks_the_generic_question_without_an_answer():
    assert question_of(None) == (QUESTIONS[GENERIC].text, ("vanish", "stay", "explode"), None)
    app, code = _asked({})
    app.button(key="primary").click().run()
    poll = rooms().watch(code, "reader").poll
    assert poll.locked and poll.answer is None and poll.tally == (0, 1, 0)


def test_the_qr_code_is_a_png_of_the_link():
    png = qr_png("http://192.168.1.20:8501/?watch=ABCDEFGH")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png != qr_png("http://192.168.1.20:8501/?watch=ABCDEFGJ")

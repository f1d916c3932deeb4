"""Links that always reproduce: a bad link's values are named with the reason they were ignored, the address bar
then holds the run the page shows, and a reload of it gives the same run without a notice."""

import math

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.links import check_link
from dashboard.sidebar import FIELDS
from dashboard.state import LESSON, PACE, PRESENTATION, query_for
from models import RunConfig
from models.lessons import LESSONS
from tests.dashboard.lab_app import open_app as _open

pytestmark = pytest.mark.usefixtures("fresh_session")
ISSUE_LINK = {"model": "lstm", "seq_len": "500", "hidden_size": "256", "batch_size": "512"}  # issue 10's link


def _shown_config(app: AppTest) -> RunConfig:
    return RunConfig(**{name: app.session_state[name] for name in FIELDS})


def test_each_ignored_value_is_named_with_its_reason():
    check = check_link({"seq_len": "99999999", "model": "banana", "lr": "abc", "foo": "1", "pace": "-2",
                        "presentation": "maybe", "lesson": "13 · No such lesson"})
    text = "\n".join(check.ignored)
    assert "`seq_len=99999999`: `seq_len=99999999` is outside [2, 500]" in text
    assert "`model=banana`: `model='banana'` is not one of rnn, lstm, residual" in text
    assert "`lr=abc`: `lr='abc'` must be a number" in text
    assert "`foo=1`: not a setting of the lab" in text
    assert "`pace=-2`" in text and "`presentation=maybe`" in text and "no lesson is called that" in text
    assert len(check.ignored) == 7 and check.config == RunConfig() and check.rewrite and check.query == {}


def _dropped(query: dict[str, str]) -> str:
    """The one size of `query` that RunConfig's lenient rule skips to stay within the cost budget."""
    config = RunConfig.from_strings(query, lenient=True)
    (name,) = [k for k, v in query.items() if str(getattr(config, k)) != v]
    return name


def test_sizes_too_large_together_drop_the_one_that_crosses_the_budget_and_say_why():
    check = check_link(ISSUE_LINK)
    (line,) = check.ignored
    dropped = _dropped(ISSUE_LINK)
    assert line.startswith(f"`{dropped}={ISSUE_LINK[dropped]}`: ") and "over the 2 s budget" in line
    assert check.config == RunConfig.from_strings(ISSUE_LINK, lenient=True)  # RunConfig's own rule
    assert getattr(check.config, dropped) == getattr(RunConfig(), dropped)
    assert check.query == {k: v for k, v in ISSUE_LINK.items() if k != dropped} and check.rewrite


def test_values_between_a_sliders_steps_move_to_the_nearest_and_say_so():
    check = check_link({"lr": "0.07", "pace": "7", "steps": "1e3"})
    assert check.config == RunConfig(lr=0.05, steps=1000) and not check.ignored
    assert check.query == {"lr": "0.05", "steps": "1000", "pace": "8"}
    assert [line.split(" →")[0] for line in check.adjusted] == ["`pace=7`", "`lr=0.07`"]
    assert check.rewrite  # the widgets would not read lr=0.07, pace=7 or steps=1e3 themselves


def test_a_link_the_lab_wrote_is_left_alone():
    for key, lesson in LESSONS.items():
        query = query_for(lesson.config, key, 12.0, True)
        check = check_link(query)
        assert (check.config, check.query, check.ignored, check.adjusted, check.rewrite) == (
            lesson.config, query, (), (), False), key


def test_a_lesson_named_alone_loads_its_preset_and_pace():
    check = check_link({LESSON: "lstm"})
    lesson = LESSONS["lstm"]
    assert check.config == lesson.config and check.rewrite and not check.ignored
    assert check.query == query_for(lesson.config, "lstm", lesson.pace, False)
    assert check_link({LESSON: "lstm", "seed": "3"}).config == RunConfig(seed=3)  # a full link keeps its own


def test_a_lesson_is_named_by_its_number_its_key_or_an_old_links_title_and_written_as_its_key():
    for number, (key, lesson) in enumerate(LESSONS.items(), 1):
        for name in (str(number), key, lesson.title):
            check = check_link({LESSON: name})
            assert check.config == lesson.config and not check.ignored and check.query[LESSON] == key, name
    assert not check_link(query_for(LESSONS["lstm"].config, "lstm", 12.0, False)).rewrite


@pytest.mark.parametrize("name", [str(len(LESSONS) + 1), "0", "Vanishing", "11 · LSTM"])
def test_a_wrong_lesson_lists_every_number_and_key(name):
    (line,) = check_link({LESSON: name}).ignored
    assert line.startswith(f"`lesson={name}`: no lesson is called that")
    assert all(f"{number} or {key}" in line for number, key in enumerate(LESSONS, 1))


def test_a_bad_link_says_what_it_ignored_and_the_address_bar_then_reproduces_the_run():
    app = _open({"seq_len": "99999999", "model": "banana", "lr": "0.07", "batch_size": "16"})
    assert not app.exception
    (notice,) = [w.value for w in app.warning]
    assert "`seq_len=99999999`: `seq_len=99999999` is outside [2, 500]" in notice
    assert "`model=banana`: `model='banana'` is not one of rnn, lstm, residual" in notice
    assert "`lr=0.07` → 0.05" in notice
    expected = RunConfig(lr=0.05, batch_size=16)
    assert _shown_config(app) == expected and dict(app.query_params) == {"lr": "0.05", "batch_size": "16"}

    again = _open(dict(app.query_params))  # a reload of what the address bar now says
    assert _shown_config(again) == expected and not again.warning
    app.slider(key="batch_size").set_value(32).run()  # the user moves on: the notice goes
    assert not app.warning


def test_the_largest_lstm_link_shows_the_budget_notice_and_a_long_run_warning():
    app = _open(ISSUE_LINK)
    notice, long_run = (w.value for w in app.warning)
    dropped = _dropped(ISSUE_LINK)
    assert f"`{dropped}={ISSUE_LINK[dropped]}`" in notice and "budget" in notice
    assert app.session_state[dropped] == getattr(RunConfig(), dropped)
    assert long_run.startswith("**This run takes about") and "500 steps" in long_run


def test_presentation_and_pace_come_back_with_a_reload():
    app = _open({PRESENTATION: "true", LESSON: "vanishing"})
    assert app.session_state[PRESENTATION] is True and app.session_state[PACE] == LESSONS["vanishing"].pace
    again = _open(dict(app.query_params))
    assert again.session_state[PRESENTATION] is True and again.session_state[PACE] == LESSONS["vanishing"].pace
    assert _shown_config(again) == LESSONS["vanishing"].config and not again.warning
    assert math.isinf(_open({}).session_state[PACE])  # no pace in the link: as fast as possible


def test_a_float_finer_than_the_link_the_lab_writes_is_rounded_and_says_so():
    check = check_link({"recurrent_gain": "1.3000001", "forget_bias": "2.5"})
    assert check.config == RunConfig(recurrent_gain=1.3, forget_bias=2.5) and check.rewrite and not check.ignored
    assert check.adjusted == ("`recurrent_gain=1.3000001` → 1.3 (the lab keeps 6 significant digits)",)
    assert check_link(check.query).notice() is None  # the address the Lab then writes is the run it shows


def test_a_parameter_given_twice_says_which_value_is_used():
    app = _open({"model": ["lstm", "rnn"], "seq_len": "30"})
    assert not app.exception
    (notice,) = [w.value for w in app.warning]
    assert "`model` given 2 times (`lstm`, `rnn`): the last one is used" in notice
    assert app.session_state["model"] == "rnn" and dict(app.query_params) == {"seq_len": "30"}

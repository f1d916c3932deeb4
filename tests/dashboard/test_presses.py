"""press_button / act_on_presses: a press acts once, in the page's own run, and only as the page last drew it."""

import pytest

import dashboard.presses as presses


class Place:
    """Stands in for st or a column: records what it was asked to draw."""

    def __init__(self) -> None:
        self.drawn: list[tuple[str, dict]] = []

    def button(self, label: str, **options: object) -> bool:
        self.drawn.append((label, options))
        return False


@pytest.fixture
def state(monkeypatch) -> dict:
    session: dict = {}
    monkeypatch.setattr(presses.st, "session_state", session)
    return session


def test_a_press_runs_the_action_the_page_drew_once_per_page_run(state):
    calls, place = [], Place()
    presses.press_button(place, "Train", key="primary", action=calls.append, args=("train",), help="h")
    assert place.drawn == [("Train", {"key": "primary", "disabled": False, "help": "h"})]
    presses.act_on_presses()
    assert calls == []  # not pressed
    state["primary"] = True  # the press, as Streamlit sets it for this run
    presses.act_on_presses()
    assert calls == ["train"]
    # Redrawn as Pause: the next press runs Pause's action, not Train's.
    presses.press_button(place, "Pause", key="primary", action=calls.append, args=("pause",))
    presses.act_on_presses()
    assert calls == ["train", "pause"]


@pytest.mark.parametrize("drawn", [{"disabled": True}, {"action": None}])
def test_a_disabled_button_or_one_without_an_action_runs_nothing(state, drawn):
    """A locked page's Train, a finished run's Done, "On air": a press the page cannot make runs nothing."""
    calls = []
    presses.press_button(Place(), "Train", key="primary", action=calls.append, args=("train",))
    presses.press_button(Place(), "Train", key="primary", **({"action": calls.append, "args": ("x",)} | drawn))
    state["primary"] = True
    presses.act_on_presses()
    assert calls == []


def test_an_entry_outlives_a_run_that_did_not_draw_its_button(state):
    """A run cut short by a newer press has not drawn every button again: a press of one it left out still acts."""
    calls = []
    presses.press_button(Place(), "Reset", key="reset_button", action=calls.append, args=("reset",))
    presses.act_on_presses()  # a run that a newer press cut short before it drew Reset again
    state["reset_button"] = True
    presses.act_on_presses()
    assert calls == ["reset"]

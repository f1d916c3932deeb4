"""Guards that must bite: a wrong room code is refused cheaply, and a guessing tab is made to wait.

Each test here was checked against the mutation it guards (docs/guards.md lists them).
"""

from collections import Counter

import pytest
import torch
from streamlit.testing.v1 import AppTest

import dashboard.watch_page as watch_page
from dashboard.broadcast import WRONG_CODES, WRONG_CODES_WINDOW
from dashboard.presenter import rooms
from dashboard.runner import Runner
from models import RunConfig, Trainer

APP = "../../dashboard/app.py"


@pytest.fixture(autouse=True)
def _fresh(fresh_session):
    yield


def _counting(monkeypatch, calls: Counter, owner, name: str) -> None:
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[name] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


@pytest.fixture
def work(monkeypatch) -> Counter:
    """Calls of everything that builds a run, a model or a chart, counted from here on."""
    calls: Counter = Counter()
    for owner, name in [(RunConfig, "__post_init__"), (Runner, "__init__"), (Trainer, "__init__"),
                        (torch.nn.Module, "__init__"), (watch_page, "build_frame"), (watch_page, "vega_spec"),
                        (watch_page, "chart_grid"), (watch_page, "shared_frame")]:
        _counting(monkeypatch, calls, owner, name)
    return calls


def _tab(code: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["watch"] = code
    return app.run()


def _try(app: AppTest, code: str) -> AppTest:
    """The same tab, opening another code (a rerun with a new query string, as a scripted client sends)."""
    app.query_params["watch"] = code
    return app.run()


def test_a_wrong_code_builds_no_run_model_chart_or_widget(work):
    app = _tab("WRONG234")
    assert not app.exception
    assert "no live broadcast" in app.warning[0].value
    assert sum(work.values()) == 0, work
    assert not app.toggle and not app.get("vega_lite_chart")  # only the notice and the way to the lab


def test_the_sixth_wrong_code_in_a_minute_is_refused_before_any_lookup(monkeypatch):
    app = _tab("WRONG200")
    for n in range(1, WRONG_CODES):
        _try(app, f"WRONG20{n}")
        assert "no live broadcast" in app.warning[0].value
    code = rooms().publish(object())  # even the right code: a refusal must tell a guesser nothing
    looked_up = Counter()
    _counting(monkeypatch, looked_up, type(rooms()), "watch")
    try:
        _try(app, code)
        assert not app.exception
        assert [w.value for w in app.warning] == [
            f"Too many wrong codes; wait {int(WRONG_CODES_WINDOW)} s, then reload this page."]
        assert looked_up["watch"] == 0 and not app.get("link_button")
    finally:
        rooms().close(code)


def test_a_refused_tab_may_try_again_once_the_window_has_passed():
    app = _tab("WRONG300")
    for n in range(1, WRONG_CODES):
        _try(app, f"WRONG30{n}")
    wrong = app.session_state[watch_page.WRONG_KEY]
    now = wrong.clock()
    wrong.clock = lambda: now + WRONG_CODES_WINDOW - 10
    _try(app, "WRONG399")
    assert "wait 10 s" in app.warning[0].value
    wrong.clock = lambda: now + WRONG_CODES_WINDOW + 1
    _try(app, "WRONG399")
    assert "no live broadcast" in app.warning[0].value


def test_an_ended_broadcast_is_no_wrong_code():
    presenter_run = Runner(RunConfig(task="cat_mat_rat", hidden_size=8))
    code = rooms().publish(presenter_run)
    app = _tab(code)
    assert app.get("vega_lite_chart")
    rooms().close(code)
    for _ in range(WRONG_CODES + 1):
        app.run()  # the viewer's page keeps asking: "ended", never "too many"
        assert "has ended" in app.info[0].value and not app.warning

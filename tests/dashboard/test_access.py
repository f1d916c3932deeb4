"""A watch-only server (RNN_LAB_PRESENTER_KEY): the Lab trains nothing until the presenter key is typed or the
page holds a broadcast room's secret; without the setting everyone trains."""

import dashboard.access as access
from dashboard.access import ENV, TYPED, WATCH_ONLY, key_matches
from dashboard.presenter import rooms
from dashboard.runner import Runner
from dashboard.state import PRESENTER
from models import RunConfig
from tests.dashboard.lab_app import open_app

LAB = {"task": "cat_mat_rat", "hidden_size": "8", "batch_size": "8"}
KEY = "correct horse battery staple"
TRAINING = ("primary", "step_button", "present")  # Train, Step, Broadcast


def _locked(app) -> list[bool]:
    return [app.button(key=key).disabled for key in TRAINING]


def _texts(app) -> str:
    return " ".join(str(e.value) for kind in ("info", "caption", "markdown", "warning", "error", "code", "text_input")
                    for e in getattr(app, kind))


def test_a_watch_only_server_trains_nothing_until_the_presenter_key(monkeypatch, fresh_session):
    monkeypatch.setenv(ENV, KEY)
    app = open_app(LAB)
    assert not app.exception and _locked(app) == [True, True, True]
    assert WATCH_ONLY in [i.value for i in app.info]
    app.text_input(key=TYPED).input("correct horse").run()
    assert _locked(app) == [True, True, True] and "That is not the presenter key." in _texts(app)
    app.text_input(key=TYPED).input(KEY).run()
    assert _locked(app) == [False, False, False] and WATCH_ONLY not in _texts(app)
    assert KEY not in _texts(app) and KEY not in str(app.query_params)  # the key is never kept or shown


def test_a_presenter_link_unlocks_a_watch_only_page(monkeypatch, fresh_session):
    monkeypatch.setenv(ENV, KEY)
    runner = Runner(RunConfig(task="cat_mat_rat", hidden_size=8, batch_size=8))
    opened = rooms().open(runner)
    try:
        app = open_app(LAB | {PRESENTER: f"{opened.code}.{opened.secret}"})
        # Train and Step unlocked; the Broadcast button is the open room's disabled "On air".
        assert _locked(app) == [False, False, True] and WATCH_ONLY not in _texts(app)
        assert app.button(key="present").label == "On air"
    finally:
        rooms().close(opened.code)
        runner.close()


def test_without_the_setting_everyone_trains(monkeypatch, fresh_session):
    monkeypatch.delenv(ENV, raising=False)
    app = open_app(LAB)
    assert _locked(app) == [False, False, False] and WATCH_ONLY not in _texts(app)


def test_the_key_is_compared_in_constant_time_and_an_empty_key_opens_nothing(monkeypatch):
    compared = []
    monkeypatch.setattr(access.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or a == b)
    assert key_matches(KEY, KEY) and not key_matches("guess", KEY)
    assert compared == [(KEY.encode(), KEY.encode()), (b"guess", KEY.encode())]
    assert not key_matches("", "")  # no key set: nothing to match (and may_train lets everyone train)

"""Guards that must bite: a wrong room code is refused cheaply, and a guessing tab is made to wait.

Each test here was checked against the mutation it guards (docs/guards.md lists them).
"""

import threading
from collections import Counter

import pytest
import torch
from streamlit.testing.v1 import AppTest

import dashboard.watch_page as watch_page
from dashboard.broadcast import WRONG_CODES, WRONG_CODES_WINDOW
from dashboard.player import THREAD_PREFIX, Player, Slots, live_threads
from dashboard.presenter import rooms
from dashboard.runner import HEARTBEAT_TIMEOUT, Runner
from models import RunConfig, Trainer
from tests.dashboard.threads import race, wait_until

APP = "../../dashboard/app.py"
SMALL = RunConfig(task="cat_mat_rat", hidden_size=8, batch_size=8, steps=100_000)


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


# --- the training cap, the heartbeat, a failing step ------------------------------------------
@pytest.mark.timeout(120)
def test_slots_never_let_more_than_their_limit_hold_one_and_lose_no_release(fine_switching):
    """Eight threads taking and giving back two slots as fast as they can: without the slots' lock, two
    threads both see a free slot and take it (three train at once), or a release is lost (used drifts)."""
    slots, limit = Slots(limit=2), 2
    count, holding, most = threading.Lock(), [0], [0]

    def body(_: int) -> None:
        assert slots.acquire(timeout=30), "a slot never came free: a release was lost"
        with count:
            holding[0] += 1
            most[0] = max(most[0], holding[0], slots.used)
        with count:
            holding[0] -= 1
        slots.release()

    errors = race([body] * 8, seconds=2.0)
    assert not errors, f"{len(errors)} errors, e.g. {errors[0]!r}"
    assert most[0] == limit and slots.used == 0


def test_slots_change_their_count_only_under_their_lock():
    """The race above cannot catch an unlocked `used -= 1` (CPython switches threads only at calls and loops, not
    inside it), so this checks the lock itself: while somebody holds it, neither a release nor a take counts."""
    slots = Slots(limit=1)
    assert slots.acquire(timeout=0)
    with slots._cond:
        release = threading.Thread(target=slots.release)
        release.start()
        release.join(0.2)
        assert slots._used == 1, "release changed the count without the slots' lock"
    release.join(10)
    assert slots.used == 0
    with slots._cond:
        take = threading.Thread(target=slots.acquire, args=(10,))
        take.start()
        take.join(0.2)
        assert slots._used == 0, "acquire changed the count without the slots' lock"
    take.join(10)
    assert slots.used == 1


def test_a_thread_whose_turn_raises_still_gives_its_slot_back(monkeypatch):
    slots, raised = Slots(limit=1), []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))

    def turn() -> bool:
        raise RuntimeError("a bug in turn()")

    player = Player(f"{THREAD_PREFIX}-guards", slots, lambda: True, turn)
    player.start()
    player.join(10)
    assert not player.is_alive() and [str(e) for e in raised] == ["a bug in turn()"]
    assert slots.used == 0 and slots.acquire(timeout=0)  # the next session trains


def test_a_step_that_raises_frees_its_slot_for_the_next_session(monkeypatch):
    slots, real = Slots(limit=1), Trainer.step

    def failing(trainer: Trainer):
        if trainer.config.hidden_size == 8:
            raise RuntimeError("injected fault")
        return real(trainer)

    monkeypatch.setattr(Trainer, "step", failing)
    broken, other = Runner(SMALL, slots=slots), Runner(SMALL.replace(hidden_size=4), slots=slots)
    broken.train()
    wait_until(lambda: broken.snapshot().state == "error")
    wait_until(lambda: slots.used == 0)
    assert other.step_once(wait=30) and other.snapshot().step == 1
    other.close()
    broken.close()


def test_a_run_nobody_watches_pauses_after_the_heartbeat_timeout_and_resumes_on_train():
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: runner.snapshot().step > 0)
    runner._last_seen -= HEARTBEAT_TIMEOUT + 1  # the page stopped running two minutes ago
    wait_until(lambda: runner.snapshot().state == "paused")
    name = f"{THREAD_PREFIX}-{runner.id}"
    wait_until(lambda: name not in live_threads())
    paused_at = runner.snapshot().step
    runner.train()  # the page is back: Train touches the run and it goes on
    wait_until(lambda: runner.snapshot().step > paused_at + 5)
    assert runner.snapshot().state == "training"
    runner.close()


def test_a_run_keeps_at_most_a_hundred_events():
    runner = Runner(SMALL)
    for n in range(110):  # every step with a new lr: one event each
        runner.configure(SMALL.replace(lr=0.1 if n % 2 else 0.2))
        assert runner.step_once(wait=30)
    events = runner.snapshot().events
    assert len(events) == 100 and events[-1].step == 110  # the latest hundred
    runner.close()


# --- fault drill: an unwritable temp folder ----------------------------------------------------
def test_the_weights_download_needs_no_temp_folder(monkeypatch):
    """The download is built in memory (models.export.to_bytes): a full or read-only temp folder cannot break it."""
    import io
    import tempfile

    from dashboard.weights import weights_bytes
    from models import export

    def unwritable(*args, **kwargs):
        raise OSError(30, "Read-only file system", tempfile.gettempdir())

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile"):
        monkeypatch.setattr(tempfile, name, unwritable)
    runner = Runner(SMALL)
    assert runner.step_once(wait=30)
    weights = runner.weights(timeout=5)
    data = weights_bytes(weights.model, weights.config, weights.step)
    assert export.load(io.BytesIO(data)).config == weights.config
    runner.close()

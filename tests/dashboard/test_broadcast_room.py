"""A room that outlives its tab (issue 20.1) and the teacher's run first (20.2): the room's secret, who owns the
run, the idle timeout, and the training slot reserved for broadcast runs."""

import pytest
from streamlit.runtime.caching import clear_session_resource_cache

import dashboard.broadcast as broadcast
from dashboard.broadcast import Rooms
from dashboard.lab_page import RUNNER
from dashboard.lifetime import Janitor, Presence
from dashboard.player import Slots
from dashboard.presenter import NOT_LIVE, rooms
from dashboard.runner import Runner
from dashboard.state import PRESENTER
from models import RunConfig
from tests.dashboard.lab_app import open_app
from tests.dashboard.threads import wait_until

SMALL = RunConfig(task="cat_mat_rat", hidden_size=8, batch_size=8, steps=100_000)
LAB = {"task": "cat_mat_rat", "hidden_size": "8", "batch_size": "8", "steps": "100000"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_only_the_rooms_secret_reopens_it_and_no_view_carries_the_secret():
    store, source = Rooms(), object()
    opened = store.open(source, {"title": "one"})
    assert len(opened.secret) >= 32 and opened.secret not in repr(opened)  # token_urlsafe(24): 192 random bits
    assert store.open(source, {"title": "one"}).secret == opened.secret  # the same room, the same secret
    assert store.open(object()).secret != opened.secret
    room = store.reopen(opened.code.lower(), opened.secret)
    assert room is not None and room.source is source and room.code == opened.code
    flipped = opened.secret[:-1] + ("A" if opened.secret[-1] != "A" else "B")  # one character off
    for wrong in ("", opened.secret[:-1], flipped, opened.secret + "x", opened.code):
        assert store.reopen(opened.code, wrong) is None
        assert store.touch(opened.code, wrong, {"title": "hijacked"}) is None
    viewer = store.watch(opened.code, "student")
    assert viewer.info == {"title": "one"}  # no wrong secret changed what students read
    assert opened.secret not in repr(viewer) and opened.secret not in repr(vars(viewer))


def test_the_secret_is_compared_in_constant_time(monkeypatch):
    compared = []

    def compare_digest(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(broadcast.hmac, "compare_digest", compare_digest)
    store = Rooms()
    opened = store.open(object())
    assert store.reopen(opened.code, "guess") is None
    assert store.touch(opened.code, opened.secret) is not None
    assert compared == [(b"guess", opened.secret.encode()), (opened.secret.encode(), opened.secret.encode())]


def test_the_idle_timeout_ends_the_room_and_releases_its_run_but_end_broadcast_hands_it_back():
    clock, released = Clock(), []
    store = Rooms(idle_seconds=100, clock=clock, release=released.append)
    idle, ended = store.open("idle run"), store.open("ended run")
    assert store.close(ended.code) == "ended run"  # End broadcast: the presenter's session keeps its run
    clock.now = 100
    assert store.holds("idle run") and released == []
    clock.now = 101  # no presenter for longer than the idle timeout
    assert store.watch(idle.code, "student") is None and store.reopen(idle.code, idle.secret) is None
    assert released == ["idle run"] and not store.holds("idle run")


def test_an_expired_rooms_runner_is_closed():
    runner = Runner(SMALL)
    runner.train()
    wait_until(lambda: runner.snapshot().step >= 2)
    store = rooms()
    opened = store.open(runner)
    monkeypatch_clock = store.clock
    try:
        store.clock = lambda: monkeypatch_clock() + store.idle_seconds + 1
        assert len(store) == 0
    finally:
        store.clock = monkeypatch_clock
    assert runner.released and store.reopen(opened.code, opened.secret) is None


def test_a_rooms_run_goes_on_when_its_presenters_tab_disconnects():
    store, janitor, runner = Rooms(), Janitor(30.0, clock=lambda: 0.0), Runner(SMALL)
    runner.train()
    wait_until(lambda: runner.snapshot().step >= 2)
    store.open(runner)
    try:
        Presence(runner, janitor, kept=store.holds).gone()  # the presenter's F5 (or crash)
        assert janitor.waiting == 0 and runner.paused_why is None
        step = runner.snapshot().step
        wait_until(lambda: runner.snapshot().step > step)  # still training for the class
        other = Runner(SMALL)
        Presence(other, janitor, kept=store.holds).gone()  # an ordinary tab: paused, released after the grace
        assert janitor.waiting == 1
        other.close()
    finally:
        runner.close()


def test_general_runs_never_take_the_reserved_slot():
    slots = Slots(limit=1, reserved=1)
    assert slots.acquire(timeout=0) and not slots.acquire(timeout=0)  # the one general slot
    assert slots.acquire(timeout=0, reserved=True)  # a room's run still trains
    assert not slots.acquire(timeout=0, reserved=True) and slots.used == 2
    slots.release()
    slots.release()
    assert slots.acquire(timeout=0, reserved=True)  # a room's run may take a general slot too
    assert not slots.acquire(timeout=0)  # and then the general runs wait: the reserve is never theirs


@pytest.mark.timeout(120)
def test_a_broadcast_run_trains_while_other_runs_hold_every_general_slot():
    slots = Slots(limit=1, reserved=1)
    student, waiting, teacher = (Runner(SMALL, slots=slots) for _ in range(3))
    try:
        student.train()
        wait_until(lambda: student.snapshot().state == "training" and student.snapshot().step >= 1)
        waiting.train(wait=0)  # an ordinary run queues behind the student's
        teacher.reserve(True)  # Broadcast pressed before Train
        teacher.train(wait=0)
        wait_until(lambda: teacher.snapshot().step >= 3)
        assert waiting.snapshot().state == "queued" and waiting.snapshot().step == 0
        teacher.pause()
        wait_until(lambda: teacher.snapshot().state == "paused")
        waiting.reserve(True)  # Broadcast pressed while queued: it takes the freed reserved slot
        wait_until(lambda: waiting.snapshot().step >= 1)
    finally:
        for runner in (student, waiting, teacher):
            runner.close()


def test_the_lab_reopens_the_room_and_its_run_from_the_presenter_link(fresh_session):
    app = open_app(LAB)
    runner = app.session_state[RUNNER]
    app.button(key="present").click().run()
    link = app.query_params[PRESENTER]
    link = link[0] if isinstance(link, list) else link
    code, _, secret = link.partition(".")
    assert secret and any("keep it to yourself" in e.label for e in app.expander)
    shown = [c.value for c in app.code if secret in c.value]  # the presenter link, and not the experiment's link
    assert len(shown) == 1 and f"presenter={link}" in shown[0] and "watch=" not in shown[0]
    assert any(f"?watch={code}" in c.value for c in app.code if secret not in c.value)
    assert rooms().holds(runner) and runner.reserved
    runner.train()
    wait_until(lambda: runner.snapshot().step >= 3)
    clear_session_resource_cache("test session id")  # the presenter's tab closes (F5): the room stays
    assert rooms().watch(code, "student") is not None
    reloaded = open_app(LAB | {PRESENTER: link})  # a new session on the presenter link
    try:
        assert reloaded.session_state[RUNNER] is runner and runner.snapshot().step >= 3
        assert code in reloaded.markdown[-1].value or any(code in m.value for m in reloaded.markdown)
        assert not runner.released and runner.snapshot().state in ("training", "queued")
        assert reloaded.button(key="present").disabled  # "On air": End broadcast is in the badge's Room menu
        reloaded.button(key="end_broadcast").click().run()  # it asks once ...
        reloaded.button(key="end_broadcast_yes").click().run()  # ... then the run stays this page's, an ordinary one
        assert rooms().watch(code, "student") is None and not runner.released and not runner.reserved
        assert PRESENTER not in reloaded.query_params
    finally:
        runner.close()


def test_a_presenter_link_to_no_live_room_says_so_without_repeating_it(fresh_session):
    opened = rooms().open(object())
    wrong = f"{opened.code}.not-the-secret"
    app = open_app(LAB | {PRESENTER: wrong})
    rooms().close(opened.code)
    assert not app.exception and NOT_LIVE in [e.value for e in app.error]
    assert PRESENTER not in app.query_params
    shown = " ".join(str(getattr(e, "value", "")) for e in app.main) + " ".join(str(w.value) for w in app.warning)
    assert "not-the-secret" not in shown

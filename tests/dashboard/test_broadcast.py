"""The room store: codes, expiry, the cap, and thread safety under a whole class polling at once."""

import threading
import time

import pytest

import dashboard.broadcast as broadcast
from dashboard.broadcast import (
    ALPHABET,
    CODE_LENGTH,
    MAX_ROOMS,
    VIEWER_FORGET,
    VIEWER_WINDOW,
    Rooms,
    RoomView,
    WrongCodes,
    normalize_code,
)
from tests.dashboard.threads import race


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_publish_gives_an_unguessable_code_and_is_idempotent_per_presenter():
    rooms, source = Rooms(), object()
    code = rooms.publish(source, {"lesson": "vanishing"})
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    assert rooms.publish(source) == code  # republishing keeps the room
    assert rooms.publish(object()) != code
    assert len(rooms) == 2


def test_codes_use_the_whole_alphabet_at_every_position_and_resist_guessing():
    codes = [broadcast.new_code() for _ in range(3000)]
    assert len(set(codes)) == len(codes)  # 31^8 codes: 3,000 draws all differ
    for position in range(CODE_LENGTH):
        assert {code[position] for code in codes} == set(ALPHABET)
    assert not set("0O1IL") & set(ALPHABET)  # read off a projector, typed on a phone
    guesses_per_s = 66  # the most the four guessing clients reached
    years_to_hit_a_room = len(ALPHABET) ** CODE_LENGTH / MAX_ROOMS / guesses_per_s / (365 * 24 * 3600)
    assert years_to_hit_a_room > 1


def test_a_drawn_code_that_is_taken_is_drawn_again(monkeypatch):
    draws = iter(["AAAAAAAA", "AAAAAAAA", "AAAAAAAA", "BBBBBBBB"])
    monkeypatch.setattr(broadcast, "new_code", lambda: next(draws))
    rooms, first, second = Rooms(), object(), object()
    assert rooms.publish(first) == "AAAAAAAA"
    assert rooms.publish(second) == "BBBBBBBB"  # never the first presenter's room handed to another
    assert rooms.watch("AAAAAAAA", "v").source is first and rooms.watch("BBBBBBBB", "v").source is second


def test_viewers_see_the_room_and_are_counted():
    clock = Clock()
    rooms, source = Rooms(clock=clock), object()
    opened = rooms.open(source, {"lesson": "lstm"})
    code, secret = opened.code, opened.secret
    room = rooms.watch(code.lower(), "viewer-1")  # typed in lower case
    assert room is not None and room.source is source and room.info == {"lesson": "lstm"}
    assert room.viewers == 1
    assert rooms.watch(code, "viewer-2").viewers == 2
    assert rooms.watch(code, "viewer-1").viewers == 2  # the same tab polling again
    clock.now = 11  # silent for more than the 10 s window: not "watching now"
    assert rooms.touch(code, secret).viewers == 0
    assert rooms.watch("NOSUCHRM", "viewer-3") is None


def test_viewers_silent_for_a_while_are_forgotten():
    """A room the whole day's classes watched holds only the viewers of the last minute (bounded memory)."""
    clock = Clock()
    rooms = Rooms(clock=clock)
    code, secret = (opened := rooms.open(object())).code, opened.secret
    for n in range(100):
        rooms.watch(code, f"morning-{n}")
    clock.now = VIEWER_FORGET + 1
    rooms.touch(code, secret)  # the presenter's heartbeat alone keeps the room, it does not keep viewers
    assert rooms.watch(code, "afternoon").viewers == 1
    assert list(rooms._rooms[code].viewers) == ["afternoon"]
    clock.now += VIEWER_WINDOW - 1
    assert rooms.watch(code, "afternoon").viewers == 1 and len(rooms._rooms[code].viewers) == 1


def test_readers_get_a_copy_not_the_live_room():
    rooms = Rooms()
    opened = rooms.open(object(), {"title": "one"})
    code = opened.code
    room = rooms.watch(code, "a")
    rooms.touch(code, opened.secret, {"title": "two"})
    rooms.watch(code, "b")
    assert room.info == {"title": "one"} and room.viewers == 1  # a snapshot of that moment
    assert isinstance(room, RoomView)
    with pytest.raises(TypeError):
        room.info["title"] = "changed"  # read-only
    with pytest.raises(AttributeError):
        room.viewers = 5  # frozen


def test_rooms_expire_when_the_presenter_leaves():
    clock = Clock()
    rooms = Rooms(idle_seconds=100, clock=clock)
    opened = rooms.open(object())
    code = opened.code
    clock.now = 90
    assert rooms.touch(code, opened.secret)
    clock.now = 180
    assert rooms.watch(code, "v") is not None  # touched at 90: still alive
    clock.now = 291
    assert rooms.watch(code, "v") is None and len(rooms) == 0
    assert not rooms.touch(code, opened.secret)


def test_the_number_of_rooms_is_capped():
    rooms = Rooms(max_rooms=3)
    for _ in range(3):
        rooms.publish(object())
    with pytest.raises(RuntimeError, match="in use"):
        rooms.publish(object())
    default = Rooms()
    for _ in range(MAX_ROOMS):
        default.publish(object())
    with pytest.raises(RuntimeError, match="in use"):
        default.publish(object())
    assert len(default) == MAX_ROOMS


def test_shared_values_are_built_once_per_period_for_every_caller():
    clock = Clock()
    rooms, builds = Rooms(clock=clock), []
    code = rooms.publish("the presenter's run")

    def build(source: str) -> tuple[str, int]:
        builds.append(source)
        time.sleep(0.05)  # long enough for the other callers to arrive while it builds
        return source, len(builds)

    results = []
    threads = [threading.Thread(target=lambda: results.append(rooms.shared(code, "frame", build, 1.0)))
               for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert builds == ["the presenter's run"] and results == [("the presenter's run", 1)] * 30
    clock.now = 1.0  # the period is over: the next caller builds afresh
    assert rooms.shared(code, "frame", build, 1.0) == ("the presenter's run", 2)
    assert rooms.shared(code, "other key", build, 1.0)[1] == 3  # one value per key
    rooms.close(code)
    assert rooms.shared(code, "frame", build, 1.0) is None


@pytest.mark.timeout(120)
def test_a_class_polling_while_rooms_open_expire_and_close_never_sees_a_torn_room(fine_switching):
    """Thirty viewers with fresh ids, a presenter, other rooms opening and closing and a clock that moves:
    without the store's lock, expiry and counting iterate dicts that others change ("dictionary changed
    size during iteration") and counts come out wrong."""
    clock = Clock()
    rooms = Rooms(clock=clock)
    opened = rooms.open("presenter")
    code = opened.code

    def viewer(n: int):
        def poll(i: int) -> None:
            room = rooms.watch(code, f"v{n}-{i % 50}")  # each viewer id reappears: counted once
            assert room is not None and room.source == "presenter"
            assert 1 <= room.viewers <= 30 * 50
        return poll

    def presenter(i: int) -> None:
        assert rooms.touch(code, opened.secret, {"step": i}).info["step"] == i
        clock.now += 0.5  # viewers drift past VIEWER_FORGET and are expired while others poll

    others = [object() for _ in range(5)]  # other presenters' runs

    def other_rooms(i: int) -> None:
        other = rooms.publish(others[i % 5])
        len(rooms)
        if i % 2:
            rooms.close(other)

    errors = race([viewer(n) for n in range(30)] + [presenter, other_rooms], seconds=3.0)
    assert clock.now > VIEWER_FORGET  # expiry ran while viewers polled
    assert not errors, f"{len(errors)} errors, e.g. {errors[0]!r}"


def test_wrong_codes_make_a_guessing_tab_wait_and_stay_a_few_numbers():
    clock = Clock()
    wrong = WrongCodes(limit=5, window=60, clock=clock)
    for second in range(5):
        assert wrong.wait() == 0
        clock.now = second
        wrong.failed()
    clock.now = 10.5
    assert wrong.wait() == 50  # the first of the five was at 0 s: free again at 60 s
    clock.now = 60
    assert wrong.wait() == 0
    wrong.failed()  # the sixth, at 60 s: the window now starts at the second one (1 s)
    assert wrong.wait() == 1
    for _ in range(1000):
        wrong.failed()
    assert len(wrong._failed) == 5  # a tab that keeps guessing holds five numbers, not a growing list


def test_normalize_code():
    assert normalize_code(" ab cd ef gh ") == "ABCDEFGH"

import threading

import pytest

from dashboard.broadcast import ALPHABET, CODE_LENGTH, Rooms, normalize_code


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


def test_viewers_see_the_room_and_are_counted():
    clock = Clock()
    rooms, source = Rooms(clock=clock), object()
    code = rooms.publish(source, {"lesson": "lstm"})
    room = rooms.watch(code.lower(), "viewer-1")  # typed in lower case
    assert room is not None and room.source is source and room.info == {"lesson": "lstm"}
    rooms.watch(code, "viewer-2")
    assert room.viewer_count(clock.now) == 2
    assert rooms.watch("NOSUCHRM", "viewer-3") is None


def test_rooms_expire_when_the_presenter_leaves():
    clock = Clock()
    rooms = Rooms(idle_seconds=100, clock=clock)
    code = rooms.publish(object())
    clock.now = 90
    assert rooms.touch(code)
    clock.now = 180
    assert rooms.watch(code, "v") is not None  # touched at 90: still alive
    clock.now = 291
    assert rooms.watch(code, "v") is None and len(rooms) == 0
    assert not rooms.touch(code)


def test_the_number_of_rooms_is_capped():
    rooms = Rooms(max_rooms=3)
    for _ in range(3):
        rooms.publish(object())
    with pytest.raises(RuntimeError, match="in use"):
        rooms.publish(object())


def test_concurrent_viewers_are_thread_safe():
    rooms, source = Rooms(), object()
    code = rooms.publish(source)
    errors = []

    def poll(i: int) -> None:
        try:
            for _ in range(200):
                assert rooms.watch(code, f"v{i}").source is source
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=poll, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert rooms.watch(code, "last").viewer_count(rooms.clock()) == 31


def test_normalize_code():
    assert normalize_code(" ab cd ef gh ") == "ABCDEFGH"

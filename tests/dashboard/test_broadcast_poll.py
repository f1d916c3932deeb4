"""A room's poll (predict, then run): one vote per viewer token, changeable until Train or Reveal locks it, a bound
on voters, the tally; and thirty phones voting at once are all counted."""

from dataclasses import replace

import pytest

from dashboard.broadcast import MAX_VOTERS, VOTE_RESULTS, Rooms
from tests.dashboard.threads import race

CHOICES = ("vanish", "stay", "explode")


def _room(max_voters: int = MAX_VOTERS) -> tuple[Rooms, str]:
    rooms = Rooms()
    code = rooms.publish(object())
    assert rooms.ask(code, "What will ‖∂L/∂h_1‖ do?", CHOICES, "vanish", max_voters=max_voters).votes == 0
    return rooms, code


def test_one_vote_per_viewer_token_changeable_until_locked_and_the_tally():
    rooms, code = _room()
    assert rooms.vote(code, "a", "stay") == "counted"
    assert rooms.vote(code.lower(), "b", "vanish") == "counted"  # the code as a student typed it
    assert rooms.vote(code, "a", "stay") == "changed"  # the same tab again: still one vote
    assert rooms.watch(code, "reader").poll.tally == (1, 1, 0)
    assert rooms.vote(code, "a", "explode") == "changed"  # changed before the reveal
    poll = rooms.watch(code, "a").poll
    assert poll.tally == (1, 0, 1) and poll.votes == 2 and poll.mine == "explode" and not poll.locked
    assert poll.answer is None  # not before the reveal
    assert rooms.watch(code, "c").poll.mine is None  # another viewer does not see a's vote as theirs


def test_a_locked_poll_refuses_votes_and_shows_the_answer():
    rooms, code = _room()
    rooms.vote(code, "a", "stay")
    locked = rooms.lock(code)
    assert locked.locked and locked.answer == "vanish" and locked.tally == (0, 1, 0)
    assert rooms.vote(code, "a", "vanish") == "locked"  # no change after the reveal
    assert rooms.vote(code, "new", "vanish") == "locked"  # and no new vote
    assert rooms.watch(code, "a").poll == replace(locked, mine="stay")


def test_the_number_of_voters_is_bounded():
    rooms, code = _room(max_voters=3)
    assert [rooms.vote(code, f"v{n}", "stay") for n in range(4)] == ["counted"] * 3 + ["full"]
    assert rooms.vote(code, "v0", "vanish") == "changed"  # a counted voter may still change their vote
    assert rooms.watch(code, "reader").poll.votes == 3 and len(rooms._rooms[code].poll.votes) == 3
    assert MAX_VOTERS >= 30  # a class of thirty phones fits


def test_a_new_question_starts_empty_and_unknown_choices_or_rooms_are_refused():
    rooms, code = _room()
    rooms.vote(code, "a", "stay")
    rooms.lock(code)
    again = rooms.ask(code, "Will it learn?", ("yes", "no"))
    assert again.number == 2 and again.tally == (0, 0) and not again.locked
    with pytest.raises(ValueError, match="choose from yes, no"):
        rooms.vote(code, "a", "stay")
    assert rooms.vote("NOSUCHRM", "a", "yes") == "no_room" and rooms.ask("NOSUCHRM", "?", ("x",)) is None
    assert rooms.lock("NOSUCHRM") is None
    other = rooms.publish(object())
    assert rooms.vote(other, "a", "yes") == "no_poll" and rooms.lock(other) is None
    assert set(VOTE_RESULTS) >= {"counted", "changed", "locked", "full", "no_poll", "no_room"}


def test_a_vote_changes_nothing_but_the_poll():
    source = object()
    rooms = Rooms()
    code = rooms.publish(source, {"title": "Lesson 2"})
    rooms.ask(code, "?", CHOICES)
    rooms.vote(code, "a", "stay")
    room = rooms.watch(code, "b")
    assert room.source is source and dict(room.info) == {"title": "Lesson 2"}


@pytest.mark.timeout(60)
def test_thirty_phones_voting_at_once_are_each_counted_once():
    rooms, code = _room()

    def phone(n: int):
        def vote(i: int) -> None:
            assert rooms.vote(code, f"phone-{n}", CHOICES[(n + i) % 3]) in ("counted", "changed")
        return vote

    def presenter(i: int) -> None:
        assert rooms.watch(code, "reader").poll.votes <= 30

    errors = race([phone(n) for n in range(30)] + [presenter], seconds=1.0)
    assert not errors, f"{len(errors)} errors, e.g. {errors[0]!r}"
    assert rooms.watch(code, "reader").poll.votes == 30

"""Broadcast ("present") mode: one presenter's run, watched live by a whole class.

A process-wide store maps short room codes to the presenter's Runner. Viewers only read
its snapshots — they start no training — so thirty students cost thirty cheap reads a
poll instead of thirty trainers on a 2-core server. Rooms expire once the presenter's page
stops touching them, and their number is capped, so the store stays bounded.

The room owns its run, not the presenter's browser session: a reload, a crash or another device reopens
the same room and run with the room's secret (`reopen`), which only the presenter's page holds (the code is
public: students type it). The room ends on `close` (End broadcast) or after `idle_seconds` without its
presenter; an expired room's run is then handed to `release` (the Lab closes the Runner).

Every read and write of a room happens under the store's lock; callers get `RoomView`s,
immutable copies, never the live room that other sessions' threads are changing.
"""

from __future__ import annotations

import contextlib
import hmac
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

# No 0/O or 1/I/L: a code is read off a projector and typed on phones.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 31^8 ≈ 8.5e11 codes: not guessable by trying links
MAX_ROOMS = 64
IDLE_SECONDS = 15 * 60  # a room whose presenter has not been seen this long is closed
VIEWER_WINDOW = 10.0  # s: a viewer polled this recently is "watching now"
VIEWER_FORGET = 60.0  # s: a viewer silent this long is dropped from the room (bounded memory)
WRONG_CODES = 5  # wrong codes a tab may try per WRONG_CODES_WINDOW; the next one waits
WRONG_CODES_WINDOW = 60.0  # s
MAX_VOTERS = 200  # a room's poll holds at most this many votes (a class of 30 with room to spare): bounded memory
# What Rooms.vote answers: the vote was counted, replaced the voter's earlier one, or was refused, and why.
VOTE_RESULTS = ("counted", "changed", "locked", "full", "no_poll", "no_room")

T = TypeVar("T")


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What a student typed -> a code to look up (case and spaces forgiven)."""
    return "".join(text.split()).upper()[: CODE_LENGTH * 2]


class WrongCodes:
    """One tab's wrong room codes: after `limit` of them within `window` seconds, the next try must wait.

    Only the last `limit` failures are kept (the oldest of them says when a try is allowed again), so a
    tab that keeps guessing holds a few floats, never a growing list.
    """

    def __init__(self, limit: int = WRONG_CODES, window: float = WRONG_CODES_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._failed: deque[float] = deque(maxlen=limit)

    def wait(self) -> int:
        """Whole seconds before this tab may try a code again; 0: now."""
        if len(self._failed) < self.limit:
            return 0
        return max(0, math.ceil(self._failed[0] + self.window - self.clock()))

    def failed(self) -> None:
        self._failed.append(self.clock())


@dataclass(frozen=True)
class Opened:
    """What the presenter's page gets when it opens a room: the public code and the room's secret."""

    code: str
    secret: str = field(repr=False)  # never logged, never sent to a viewer's page


@dataclass(frozen=True)
class PollView:
    """A room's question as it was when read: the tally per choice, and the answer once the poll is locked."""

    number: int  # the room's n-th question: a watch page keys its answer widget by it
    question: str
    choices: tuple[str, ...]
    tally: tuple[int, ...]  # votes per choice, in the order of `choices`
    locked: bool  # Train (or Reveal) locked it: no vote counts any more
    answer: str | None  # what the run shows; only once locked (None before, and for a question without one)
    mine: str | None = None  # the reading viewer's own vote (Rooms.watch), None for the presenter

    @property
    def votes(self) -> int:
        return sum(self.tally)


@dataclass
class Poll:
    """The live question of a room: one vote per viewer token, changeable until locked. Only the store touches it."""

    number: int
    question: str
    choices: tuple[str, ...]
    answer: str | None = None
    max_voters: int = MAX_VOTERS
    votes: dict[str, str] = field(default_factory=dict)  # viewer token -> choice
    locked: bool = False

    def vote(self, viewer: str, choice: str) -> str:
        """One of VOTE_RESULTS; a choice that is not offered raises ValueError listing the valid ones."""
        if choice not in self.choices:
            raise ValueError(f"unknown choice {choice!r}; choose from {', '.join(self.choices)}")
        if self.locked:
            return "locked"
        if viewer not in self.votes and len(self.votes) >= self.max_voters:
            return "full"
        result = "changed" if viewer in self.votes else "counted"
        self.votes[viewer] = choice
        return result

    def view(self, viewer: str | None = None) -> PollView:
        tally = tuple(sum(1 for v in self.votes.values() if v == c) for c in self.choices)
        return PollView(self.number, self.question, self.choices, tally, self.locked,
                        self.answer if self.locked else None, self.votes.get(viewer) if viewer else None)


@dataclass(frozen=True)
class RoomView:
    """A room as it was when read, under the store's lock."""

    code: str
    source: Any  # the presenter's Runner: anything with .snapshot()
    info: Mapping[str, Any]  # lesson key, title, presenter's notes (read-only)
    viewers: int  # viewers who polled within VIEWER_WINDOW seconds
    poll: PollView | None = None  # the room's question, if the presenter asked one


@dataclass
class _Room:
    """The live room: only the store touches it, under its lock (code, source and `building` never change)."""

    code: str
    source: Any
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    info: dict[str, Any] = field(default_factory=dict)
    last_presenter: float = 0.0
    viewers: dict[str, float] = field(default_factory=dict)  # viewer id -> last poll
    shared: dict[Hashable, tuple[float, Any]] = field(default_factory=dict)  # key -> (made, value): see Rooms.shared
    building: threading.Lock = field(default_factory=threading.Lock, repr=False)  # one builder of shared values
    poll: Poll | None = None  # the presenter's current question (Rooms.ask)
    asked: int = 0  # questions asked so far: numbers each poll

    def view(self, now: float, viewer: str | None = None) -> RoomView:
        watching = sum(1 for seen in self.viewers.values() if now - seen <= VIEWER_WINDOW)
        poll = None if self.poll is None else self.poll.view(viewer)
        return RoomView(self.code, self.source, MappingProxyType(dict(self.info)), watching, poll)


class Rooms:
    """Thread-safe, bounded room store; `clock` is injectable for tests. `release(source)` is called (outside the
    lock) with the run of every room that expired: nobody else holds it any more."""

    def __init__(self, max_rooms: int = MAX_ROOMS, idle_seconds: float = IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic,
                 release: Callable[[Any], None] = lambda source: None) -> None:
        self.max_rooms, self.idle_seconds, self.clock, self.release = max_rooms, idle_seconds, clock, release
        self._rooms: dict[str, _Room] = {}
        self._lock = threading.Lock()

    def publish(self, source: Any, info: Mapping[str, Any] | None = None) -> str:
        """Open (or keep) the room of `source`; returns its code. Raises RuntimeError when full."""
        return self.open(source, info).code

    def open(self, source: Any, info: Mapping[str, Any] | None = None) -> Opened:
        """Open (or keep) the room of `source`: its code and its presenter's secret. Raises RuntimeError when full."""
        with self._expiring():
            room = next((r for r in self._rooms.values() if r.source is source), None)
            if room is None:
                if len(self._rooms) >= self.max_rooms:
                    raise RuntimeError("all broadcast rooms are in use; try again in a few minutes")
                code = new_code()
                while code in self._rooms:
                    code = new_code()
                room = self._rooms[code] = _Room(code, source)
            room.info = dict(info or {})
            room.last_presenter = self.clock()
            return Opened(room.code, room.secret)

    def touch(self, code: str, secret: str, info: Mapping[str, Any] | None = None) -> RoomView | None:
        """The presenter's page is still open (and what it shows); the room, or None if it is gone or `secret` is
        not its secret."""
        with self._expiring():
            room = self._presenters_room(code, secret)
            if room is None:
                return None
            room.last_presenter = self.clock()
            if info is not None:
                room.info = dict(info)
            return room.view(self.clock())

    def reopen(self, code: str, secret: str) -> RoomView | None:
        """The presenter's link after a reload, a crash or on another device: the same live room and run, or None
        (no such room, or not its secret)."""
        return self.touch(code, secret)

    def _presenters_room(self, code: str, secret: str) -> _Room | None:
        """Under the lock: room `code` if `secret` is its secret. hmac.compare_digest takes as long however much
        of a guess matches, so timing the answer does not spell the secret out."""
        room = self._rooms.get(normalize_code(code))
        if room is None or not hmac.compare_digest(secret.encode(), room.secret.encode()):
            return None
        return room

    def watch(self, code: str, viewer: str) -> RoomView | None:
        """A viewer's poll: the live room, or None if there is no such (live) room."""
        with self._expiring():
            room = self._rooms.get(normalize_code(code))
            if room is None:
                return None
            room.viewers[viewer] = self.clock()
            return room.view(self.clock(), viewer)

    def shared(self, code: str, key: Hashable, build: Callable[[Any], T], max_age: float) -> T | None:
        """`build(source)` of room `code`, shared by every caller for `max_age` seconds; None if the room is gone.

        The first caller of a period builds it (outside the store's lock: other rooms never wait),
        the room's other callers wait for that build instead of repeating it.
        """
        with self._lock:
            room = self._rooms.get(normalize_code(code))
        if room is None:
            return None
        with room.building:
            with self._lock:
                made, value = room.shared.get(key, (None, None))
            if made is None or self.clock() - made >= max_age:
                made, value = self.clock(), build(room.source)
                with self._lock:
                    room.shared[key] = (made, value)
            return value

    def ask(self, code: str, question: str, choices: tuple[str, ...], answer: str | None = None,
            max_voters: int = MAX_VOTERS) -> PollView | None:
        """Open a new question in room `code`, replacing any earlier one (and its votes); None if the room is gone."""
        with self._lock:
            room = self._rooms.get(code)
            if room is None:
                return None
            room.asked += 1
            room.poll = Poll(room.asked, question, tuple(choices), answer, max_voters)
            return room.poll.view()

    def vote(self, code: str, viewer: str, choice: str) -> str:
        """`viewer`'s vote in room `code`'s question: one of VOTE_RESULTS. Only the poll changes, never the run."""
        with self._lock:
            room = self._rooms.get(normalize_code(code))
            if room is None:
                return "no_room"
            return "no_poll" if room.poll is None else room.poll.vote(viewer, choice)

    def lock(self, code: str) -> PollView | None:
        """Train or Reveal: the room's question takes no more votes and shows its answer; None if there is none."""
        with self._lock:
            room = self._rooms.get(code)
            if room is None or room.poll is None:
                return None
            room.poll.locked = True
            return room.poll.view()

    def close(self, code: str) -> Any | None:
        """End the room (End broadcast): returns its run, which goes back to the caller, not to `release`."""
        with self._lock:
            room = self._rooms.pop(code, None)
        return None if room is None else room.source

    def holds(self, source: Any) -> bool:
        """Whether a live room owns `source` (then a closed presenter tab must not release it)."""
        with self._expiring():
            return any(room.source is source for room in self._rooms.values())

    def __len__(self) -> int:
        with self._expiring():
            return len(self._rooms)

    @contextlib.contextmanager
    def _expiring(self) -> Iterator[None]:
        """The store's lock, idle rooms closed first; their runs go to `release` once the lock is let go."""
        ended: list[Any] = []
        try:
            with self._lock:
                ended = self._expire()
                yield
        finally:
            for source in ended:
                self.release(source)

    def _expire(self) -> list[Any]:
        """Under the lock: close rooms whose presenter left (returns their runs), forget viewers gone a while."""
        now = self.clock()
        ended = [c for c, r in self._rooms.items() if now - r.last_presenter > self.idle_seconds]
        sources = [self._rooms.pop(code).source for code in ended]
        for room in self._rooms.values():
            for viewer in [v for v, seen in room.viewers.items() if now - seen > VIEWER_FORGET]:
                del room.viewers[viewer]
        return sources

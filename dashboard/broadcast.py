"""Broadcast ("present") mode: one presenter's run, watched live by a whole class.

A process-wide store maps short room codes to the presenter's Runner. Viewers only read
its snapshots — they start no training — so thirty students cost thirty cheap reads a
poll instead of thirty trainers on a 2-core box. Rooms expire once the presenter's page
stops touching them, and their number is capped, so the store stays bounded.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# No 0/O or 1/I/L: a code is read off a projector and typed on phones.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8  # 31^8 ≈ 8.5e11 codes: not guessable by trying links
MAX_ROOMS = 64
IDLE_SECONDS = 15 * 60  # a room whose presenter has not been seen this long is closed


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str) -> str:
    """What a student typed -> a code to look up (case and spaces forgiven)."""
    return "".join(text.split()).upper()[: CODE_LENGTH * 2]


@dataclass
class Room:
    code: str
    source: Any  # the presenter's Runner: anything with .snapshot()
    info: dict[str, Any] = field(default_factory=dict)  # lesson key, title, presenter's notes
    last_presenter: float = 0.0
    viewers: dict[str, float] = field(default_factory=dict)  # viewer id -> last poll
    frames: dict[Any, Any] = field(default_factory=dict)  # what viewers draw, built once for all (dashboard.viewer)
    frame_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def viewer_count(self, now: float, window: float = 10.0) -> int:
        return sum(1 for seen in self.viewers.values() if now - seen <= window)


class Rooms:
    """Thread-safe, bounded room store; `clock` is injectable for tests."""

    def __init__(self, max_rooms: int = MAX_ROOMS, idle_seconds: float = IDLE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_rooms, self.idle_seconds, self.clock = max_rooms, idle_seconds, clock
        self._rooms: dict[str, Room] = {}
        self._lock = threading.Lock()

    def publish(self, source: Any, info: dict[str, Any] | None = None) -> str:
        """Open (or keep) the room of `source`; returns its code. Raises RuntimeError when full."""
        with self._lock:
            self._expire()
            room = next((r for r in self._rooms.values() if r.source is source), None)
            if room is None:
                if len(self._rooms) >= self.max_rooms:
                    raise RuntimeError("all broadcast rooms are in use; try again in a few minutes")
                code = new_code()
                while code in self._rooms:
                    code = new_code()
                room = self._rooms[code] = Room(code, source)
            room.info = dict(info or {})
            room.last_presenter = self.clock()
            return room.code

    def touch(self, code: str, info: dict[str, Any] | None = None) -> Room | None:
        """The presenter's page is still open (and what it shows); the room, or None if it is gone."""
        with self._lock:
            room = self._rooms.get(code)
            if room is not None:
                room.last_presenter = self.clock()
                if info is not None:
                    room.info = dict(info)
            return room

    def watch(self, code: str, viewer: str) -> Room | None:
        """A viewer's poll: the live room, or None if there is no such (live) room."""
        with self._lock:
            self._expire()
            room = self._rooms.get(normalize_code(code))
            if room is not None:
                room.viewers[viewer] = self.clock()
            return room

    def close(self, code: str) -> None:
        with self._lock:
            self._rooms.pop(code, None)

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._rooms)

    def _expire(self) -> None:
        now = self.clock()
        for code in [c for c, r in self._rooms.items() if now - r.last_presenter > self.idle_seconds]:
            del self._rooms[code]
        for room in self._rooms.values():  # forget viewers gone for a while: bounded too
            for viewer in [v for v, seen in room.viewers.items() if now - seen > 60]:
                del room.viewers[viewer]

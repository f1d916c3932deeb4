"""A run's record as the page reads it: bounded history buffers and the `Snapshot` that carries them.

A 100 000-step run keeps at most CAPACITY rows of scalars and PROFILE_CAPACITY per-timestep
profiles, so a session's memory and every chart's point count stay bounded however long it
trains. When a buffer fills, adjacent pairs of rows merge into one (the later step's values,
the pair's clipping fraction), and from then on only every 2nd (4th, …) step is recorded.

The training thread adds each StepRecord to a History under its run's lock; the page and the
broadcast viewers only ever see a `Snapshot`: immutable copies, safe while training goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models import RunConfig, StepRecord

SCALARS: tuple[str, ...] = ("step", "loss", "accuracy", "grad_norm", "grad_norm_clipped", "clipped",
                            "lr", "clip_threshold", "spectral_radius")
COLUMN = {name: i for i, name in enumerate(SCALARS)}
CAPACITY = 256  # rows of scalars; even, so rows pair up when halving. 512 cost the browser ~12% more work
# per refresh (Vega re-encodes every point of the three per-step charts), with no visible gain at chart width.
PROFILE_CAPACITY = 40  # rows of per-timestep profiles (heatmap rows)


@dataclass(frozen=True)
class HistoryView:
    """Copies of the kept rows, safe to read while training continues."""

    scalars: np.ndarray  # (n, len(SCALARS)) float64; column "clipped" = fraction of steps clipped
    profile_steps: np.ndarray  # (m,) int
    hidden: np.ndarray  # (m, T) float32 ‖∂L/∂h_t‖
    cell: np.ndarray | None  # (m, T) float32 ‖∂L/∂c_t‖ (LSTM)
    latest: StepRecord | None
    stride: int  # scalars are kept every `stride` steps
    profile_stride: int
    clip_count: int  # steps clipped in the whole run


@dataclass(frozen=True)
class Event:
    step: int  # the first step that used the change
    text: str


# Run states. A run polls (the page redraws) while ACTIVE; FINAL ones end only with Reset.
ACTIVE = ("queued", "training", "pausing")
FINAL = ("done", "diverged", "error")
STATES = ("idle", *ACTIVE, "paused", *FINAL)


@dataclass(frozen=True)
class Snapshot:
    """One consistent reading of a run, taken under its lock."""

    config: RunConfig  # the trainer's current config (live lr / clipping included)
    state: str  # one of STATES
    step: int  # steps published so far (the step in flight, if any, is step + 1)
    steps_per_s: float  # recent wall-clock rate (pace included)
    history: HistoryView
    events: tuple[Event, ...] = ()
    error: str | None = None  # state "error": the exception the step raised, as "Type: message"
    pace: float | None = None  # steps/s limit; None = as fast as possible
    step_running_s: float | None = None  # how long the step in flight has been running (None: no step in flight)
    seconds_per_step: float | None = None  # mean compute time of recent steps (None before the first)

    @property
    def active(self) -> bool:
        """The page should keep polling."""
        return self.state in ACTIVE

    @property
    def eta_s(self) -> float | None:
        """Seconds until the run's last step at the measured speed and the pace; None before a step is measured."""
        if self.seconds_per_step is None:
            return None
        per_step = max(self.seconds_per_step, 1 / self.pace if self.pace else 0.0)
        return max(0.0, (self.config.steps - self.step) * per_step - (self.step_running_s or 0.0))


class _Decimator:
    """Keeps rows at multiples of a stride that doubles whenever `capacity` rows are full."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.n = 0
        self.stride = 1

    def wants(self, step: int) -> bool:
        return step % self.stride == 0

    def next_index(self) -> int:
        self.n += 1
        return self.n - 1

    def compact_if_full(self, *buffers: np.ndarray) -> None:
        """Halve `buffers` in place once full: the rows left are multiples of the doubled stride."""
        if self.n < self.capacity:
            return
        for buf in buffers:
            buf[: self.n // 2] = buf[1 : self.n : 2]  # keep the later row of each pair
        self.n //= 2
        self.stride *= 2


class History:
    def __init__(self, seq_len: int, lstm: bool) -> None:
        self.rows = _Decimator(CAPACITY)
        self.scalars = np.full((CAPACITY, len(SCALARS)), np.nan)
        self.profiles = _Decimator(PROFILE_CAPACITY)
        self.profile_steps = np.zeros(PROFILE_CAPACITY, dtype=np.int64)
        self.hidden = np.zeros((PROFILE_CAPACITY, seq_len), dtype=np.float32)
        self.cell = np.zeros((PROFILE_CAPACITY, seq_len), dtype=np.float32) if lstm else None
        self.latest: StepRecord | None = None
        self.clip_count = 0
        self._clips_since_row = 0

    def add(self, rec: StepRecord) -> None:
        self.latest = rec
        self.clip_count += rec.clipped
        self._clips_since_row += rec.clipped
        if self.rows.wants(rec.step) or rec.diverged:
            self._add_scalars(rec)
        if self.profiles.wants(rec.step) or rec.diverged:
            self._add_profile(rec)

    def _add_scalars(self, rec: StepRecord) -> None:
        i = self.rows.next_index()
        accuracy = np.nan if rec.accuracy is None else rec.accuracy
        self.scalars[i] = (rec.step, rec.loss, accuracy, rec.grad_norm, rec.grad_norm_clipped,
                           self._clips_since_row / self.rows.stride, rec.lr, rec.clip_threshold,
                           rec.spectral_radius)
        if rec.clip != "norm":
            self.scalars[i, COLUMN["clip_threshold"]] = np.nan  # no norm threshold to draw
        self._clips_since_row = 0
        if self.rows.n == self.rows.capacity:  # a merged pair's clipping fraction is the mean of the two
            clipped = self.scalars[:, COLUMN["clipped"]]
            clipped[1::2] = (clipped[0::2] + clipped[1::2]) / 2
        self.rows.compact_if_full(self.scalars)

    def _add_profile(self, rec: StepRecord) -> None:
        buffers = [self.profile_steps, self.hidden] + ([self.cell] if self.cell is not None else [])
        i = self.profiles.next_index()
        self.profile_steps[i] = rec.step
        self.hidden[i] = rec.hidden
        if self.cell is not None and rec.cell is not None:
            self.cell[i] = rec.cell
        self.profiles.compact_if_full(*buffers)

    def view(self) -> HistoryView:
        n, m = self.rows.n, self.profiles.n
        return HistoryView(
            scalars=self.scalars[:n].copy(),
            profile_steps=self.profile_steps[:m].copy(),
            hidden=self.hidden[:m].copy(),
            cell=None if self.cell is None else self.cell[:m].copy(),
            latest=self.latest,
            stride=self.rows.stride,
            profile_stride=self.profiles.stride,
            clip_count=self.clip_count,
        )

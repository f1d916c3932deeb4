"""A run's record as the page reads it: bounded logs of its steps, and the `Snapshot` that carries them.

Every log holds rows of *windows*: while it has room a row is one step; once it is full, adjacent
rows merge pairwise and each row covers twice as many steps (2, 4, …), so memory and point counts
stay bounded however long a run trains. A merged row keeps each window's extreme, so a one-step
gradient spike never drops out: the scalars take the largest ‖∇L‖ (before and after clipping), the
mean loss and accuracy, the fraction of steps clipped, the latest lr / threshold / ρ and the window's
last step; a profile row is the window's step with the largest ‖∇L‖ (a real step's profile). The
window still filling is the last row of every view, so the charts always reach the current step.

Two sizes of the same logs: the charts' (CAPACITY scalar rows, PROFILE_CAPACITY profiles) and the
CSV export's (every step up to EXPORT_STEPS; per-timestep rows within EXPORT_VALUES numbers). A third
record, the step slider's `StepSample`, keeps real steps' profiles rather than windows' extremes: step 1
always (every lesson's "at step 1" sentence stays showable after the run), plus evenly spaced steps,
at most SAMPLE_STEPS rows.

The training thread adds each StepRecord to a History under its run's lock; the page and the
broadcast viewers only ever see a `Snapshot`. A log never writes a row a view can see again (it
appends past it, and halving writes new arrays), so views share the export's rows without copying.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from models import RunConfig, StepRecord

SCALARS: tuple[str, ...] = ("step", "loss", "accuracy", "grad_norm", "grad_norm_clipped", "clipped",
                            "lr", "clip_threshold", "spectral_radius", "steps_merged")
COLUMN = {name: i for i, name in enumerate(SCALARS)}
# How two adjacent windows' rows merge, column by column (the later row's value for the rest).
MEAN = [COLUMN[name] for name in ("loss", "accuracy", "clipped")]  # weighted by steps_merged
MAX = [COLUMN[name] for name in ("grad_norm", "grad_norm_clipped")]  # NaN (a diverged step) counts as the extreme
CAPACITY = 256  # rows of scalars; even, so rows pair up when halving. More rows cost the browser more work
# per refresh (Vega re-encodes every point of the three per-step charts), with no visible gain at chart width.
PROFILE_CAPACITY = 40  # rows of per-timestep profiles (heatmap rows)
SAMPLE_STEPS = 48  # rows the step slider can show: step 1 and every `stride`-th step (float32: at most
# 48 × 3 × 500 × 4 B = 288 KB per session, the LSTM at T = 500)
EXPORT_STEPS = 10_000  # the CSV keeps every step of a run this long: 10 000 × 10 float64 = 0.8 MB
EXPORT_VALUES = 1_000_000  # per-timestep numbers the CSV keeps (float32: 4 MB per session), e.g. every step
# of a 10 000-step run for T ≤ 50 (RNN: ‖∂L/∂h_t‖ and ‖δ_t h_{t−1}ᵀ‖) and 666 steps at T = 500 (LSTM, 3 series).


class _Log:
    """Rows of `stride` consecutive steps each, at most `capacity`; full, adjacent rows merge and the stride
    doubles. Subclasses say how a step joins the open window (`_join`), how a complete window is stored
    (`_store`), how stored rows halve (`_halve`, into new arrays) and how a reading is assembled. Stored rows
    are never rewritten: a row is written once, past every reading's rows. Per step this is plain Python
    (a few µs): NumPy's per-call overhead on one small row cost the training thread ~100 µs a step."""

    def __init__(self, arrays: tuple[np.ndarray, ...]) -> None:
        self.arrays = arrays  # each (capacity, ...): row i of every array is stored row i
        self.capacity = len(arrays[0])
        self.n = 0
        self.stride = 1
        self.open: Any = None  # the window still filling, not yet stored

    def add(self, rec: StepRecord) -> None:
        self.open = self._join(self.open, rec)
        if rec.step % self.stride == 0 or rec.diverged:  # the window is complete (or the run is over)
            self._store(self.n, self.open)
            self.n += 1
            self.open = None
            if self.n == self.capacity:
                self.arrays = self._halve(self.arrays, self.n)
                self.n //= 2
                self.stride *= 2

    def reading(self) -> Callable[[], Any]:
        """This moment's rows (stored ones and the open window's), assembled only when called: cheap to take."""
        return partial(self._assemble, self.arrays, self.n, self.open)

    def _join(self, open_: Any, rec: StepRecord) -> Any:
        raise NotImplementedError

    def _store(self, i: int, open_: Any) -> None:
        raise NotImplementedError

    def _halve(self, arrays: tuple[np.ndarray, ...], n: int) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def _assemble(self, arrays: tuple[np.ndarray, ...], n: int, open_: Any) -> Any:
        raise NotImplementedError


def _key(grad_norm: float) -> float:
    """A window's ranking key: ‖∇L‖, with NaN (a diverged step) above everything."""
    return math.inf if math.isnan(grad_norm) else grad_norm


def merge_rows(a: list[float], b: list[float]) -> list[float]:
    """Two adjacent windows' scalar rows (a the earlier) as one: mean loss, accuracy and clipping fraction,
    largest gradient norms, the later window's step, lr, threshold and ρ."""
    na, nb = a[-1], b[-1]
    out = list(b)
    for i in MEAN:
        out[i] = (a[i] * na + b[i] * nb) / (na + nb)
    for i in MAX:
        out[i] = a[i] if _key(a[i]) > _key(b[i]) else b[i]
    out[-1] = na + nb
    return out


class ScalarLog(_Log):
    """The per-step scalars (SCALARS), one float64 row per window."""

    def __init__(self, capacity: int) -> None:
        super().__init__((np.full((capacity - capacity % 2, len(SCALARS)), np.nan),))

    def _join(self, open_: list[float] | None, rec: StepRecord) -> list[float]:
        threshold = rec.clip_threshold if rec.clip == "norm" else math.nan  # only a norm threshold is drawn
        accuracy = math.nan if rec.accuracy is None else rec.accuracy
        row = [rec.step, rec.loss, accuracy, rec.grad_norm, rec.grad_norm_clipped, float(rec.clipped), rec.lr,
               threshold, rec.spectral_radius, 1.0]
        return row if open_ is None else merge_rows(open_, row)

    def _store(self, i: int, open_: list[float]) -> None:
        self.arrays[0][i] = open_

    def _halve(self, arrays: tuple[np.ndarray], n: int) -> tuple[np.ndarray]:
        rows = arrays[0][:n].tolist()
        fresh = np.full_like(arrays[0], np.nan)
        fresh[: n // 2] = [merge_rows(rows[i], rows[i + 1]) for i in range(0, n, 2)]
        return (fresh,)

    def _assemble(self, arrays: tuple[np.ndarray], n: int, open_: list[float] | None) -> np.ndarray:
        """(rows, len(SCALARS)): stored rows shared (never rewritten), or copied with the open window's row."""
        return arrays[0][:n] if open_ is None else np.vstack([arrays[0][:n], open_])


@dataclass(frozen=True)
class Profiles:
    """Per-timestep norms of some steps: `values[i, s]` is series `series[s]` at step `steps[i]`, t = 1..T."""

    series: tuple[str, ...]
    steps: np.ndarray  # (m,) int64
    values: np.ndarray  # (m, len(series), T) float32

    def get(self, name: str) -> np.ndarray | None:
        """(m, T): series `name` at every kept step, or None if this run does not record it."""
        return self.values[:, self.series.index(name)] if name in self.series else None


class ProfileLog(_Log):
    """Per-timestep norms (`series`: fields of StepRecord) of one step per window: the one with the largest ‖∇L‖
    (ties: the later step)."""

    def __init__(self, capacity: int, seq_len: int, series: tuple[str, ...]) -> None:
        capacity -= capacity % 2
        super().__init__((np.zeros(capacity), np.zeros(capacity, dtype=np.int64),
                          np.zeros((capacity, len(series), seq_len), dtype=np.float32)))
        self.series = series

    def _join(self, open_: tuple[float, StepRecord] | None, rec: StepRecord) -> tuple[float, StepRecord]:
        key = _key(rec.grad_norm)
        return (key, rec) if open_ is None or key >= open_[0] else open_

    def _values(self, rec: StepRecord) -> np.ndarray:
        return np.stack([getattr(rec, name) for name in self.series])  # (S, T)

    def _store(self, i: int, open_: tuple[float, StepRecord]) -> None:
        keys, steps, values = self.arrays
        keys[i], steps[i] = open_[0], open_[1].step
        for s, name in enumerate(self.series):
            values[i, s] = getattr(open_[1], name)

    def _halve(self, arrays: tuple[np.ndarray, ...], n: int) -> tuple[np.ndarray, ...]:
        keys = arrays[0]
        keep = np.arange(0, n, 2) + (keys[1:n:2] >= keys[0:n:2])  # (n/2,) the pair's larger key, ties later
        fresh = tuple(np.zeros_like(array) for array in arrays)
        for new, old in zip(fresh, arrays, strict=True):
            new[: n // 2] = old[keep]
        return fresh

    def _assemble(self, arrays: tuple[np.ndarray, ...], n: int, open_: tuple[float, StepRecord] | None) -> Profiles:
        steps, values = arrays[1][:n], arrays[2][:n]
        if open_ is not None:
            steps = np.append(steps, open_[1].step)
            values = np.concatenate([values, self._values(open_[1])[None].astype(np.float32)])
        return Profiles(self.series, steps, values)


class StepSample:
    """Per-timestep norms (`series`) of step 1 and of every `stride`-th step, at most `capacity` rows: full, it
    drops every other multiple of the stride (never step 1) and the stride doubles, so the rows stay evenly
    spread over the whole run. Like the logs, a row a reading holds is never rewritten (thinning writes new
    arrays)."""

    def __init__(self, capacity: int, seq_len: int, series: tuple[str, ...]) -> None:
        if capacity < 3:
            raise ValueError(f"a step sample needs at least 3 rows (step 1 and two more), got {capacity}")
        self.series = series
        self.steps = np.zeros(capacity, dtype=np.int64)
        self.values = np.zeros((capacity, len(series), seq_len), dtype=np.float32)
        self.n = 0
        self.stride = 1

    def _kept(self, step: int) -> bool:
        return step == 1 or step % self.stride == 0

    def add(self, rec: StepRecord) -> None:
        if not self._kept(rec.step):
            return
        if self.n == len(self.steps):
            self._thin()
            if not self._kept(rec.step):
                return
        self.steps[self.n] = rec.step
        for s, name in enumerate(self.series):
            self.values[self.n, s] = getattr(rec, name)
        self.n += 1

    def _thin(self) -> None:
        self.stride *= 2
        keep = np.flatnonzero([self._kept(int(step)) for step in self.steps[: self.n]])
        steps, values = np.zeros_like(self.steps), np.zeros_like(self.values)
        steps[: len(keep)], values[: len(keep)] = self.steps[keep], self.values[keep]
        self.steps, self.values, self.n = steps, values, len(keep)

    def reading(self) -> Profiles:
        return Profiles(self.series, self.steps[: self.n], self.values[: self.n])


@dataclass(frozen=True)
class ExportView:
    """The CSV's logs at one moment, assembled only when a download asks (they can hold every step)."""

    steps: Callable[[], np.ndarray]  # () -> (n, len(SCALARS)): every step, or windows of `stride` steps
    timesteps: Callable[[], Profiles]  # () -> per-timestep norms of every step, or one step per window
    stride: int
    profile_stride: int


@dataclass(frozen=True)
class HistoryView:
    """What the charts read, safe while training continues: the logs never rewrite a row a view holds."""

    scalars: np.ndarray  # (n, len(SCALARS)) float64, one row per window of `stride` steps (the last may be shorter)
    profile_steps: np.ndarray  # (m,) int
    hidden: np.ndarray  # (m, T) float32 ‖∂L/∂h_t‖, t = 1..T
    cell: np.ndarray | None  # (m, T) float32 ‖∂L/∂c_t‖ (LSTM)
    weight_terms: np.ndarray  # (m, T) float32 ‖δ_t h_{t−1}ᵀ‖, the terms of ∂L/∂W_h
    latest: StepRecord | None
    stride: int  # steps per scalar row
    profile_stride: int  # steps per profile row
    clip_count: int  # steps clipped in the whole run
    export: ExportView | None = None  # what the CSV downloads (None: a view built by hand)
    sample: Profiles | None = None  # what the step slider can show: step 1 and evenly spaced steps (StepSample)
    init_radius: float | None = None  # ρ at initialization (None: not known, e.g. a view built by hand)

    def sample_row(self, step: int) -> int | None:
        """The sample's row of the kept step nearest `step` (ties: the earlier); None: no step kept yet."""
        if self.sample is None or len(self.sample.steps) == 0:
            return None
        return int(np.argmin(np.abs(self.sample.steps - step)))


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
    steps_per_s: float  # wall-clock rate of the latest steps (pace included); 0 before one is measured
    history: HistoryView
    events: tuple[Event, ...] = ()
    error: str | None = None  # state "error": the exception the step raised, as "Type: message"
    pace: float | None = None  # steps/s limit; None = as fast as possible
    step_running_s: float | None = None  # how long the step in flight has been running (None: no step in flight)
    seconds_per_step: float | None = None  # mean compute time of recent steps, else of the last run of the same
    # sizes on this server (runner.StepTimes); None when neither has measured a step
    shown_step: int | None = None  # the step the profile charts show (the step slider's); None: the latest

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


def profile_series(lstm: bool) -> tuple[str, ...]:
    """The per-timestep StepRecord fields a run keeps."""
    return ("hidden", "cell", "weight_terms") if lstm else ("hidden", "weight_terms")


class History:
    def __init__(self, seq_len: int, lstm: bool, init_radius: float | None = None) -> None:
        self.init_radius = init_radius  # ρ at initialization, known before the first step
        series = profile_series(lstm)
        self.scalars = ScalarLog(CAPACITY)
        self.profiles = ProfileLog(PROFILE_CAPACITY, seq_len, series)
        self.export_scalars = ScalarLog(EXPORT_STEPS)
        rows = max(2, min(EXPORT_STEPS, EXPORT_VALUES // (len(series) * seq_len)))
        self.export_profiles = ProfileLog(rows, seq_len, series)
        self.sample = StepSample(SAMPLE_STEPS, seq_len, series)
        self.latest: StepRecord | None = None
        self.clip_count = 0

    def add(self, rec: StepRecord) -> None:
        self.latest = rec
        self.clip_count += rec.clipped
        for log in (self.scalars, self.profiles, self.export_scalars, self.export_profiles, self.sample):
            log.add(rec)

    def view(self) -> HistoryView:
        profiles = self.profiles.reading()()
        export = ExportView(self.export_scalars.reading(), self.export_profiles.reading(),
                            self.export_scalars.stride, self.export_profiles.stride)
        return HistoryView(
            scalars=self.scalars.reading()(),
            profile_steps=profiles.steps,
            hidden=profiles.get("hidden"),
            cell=profiles.get("cell"),
            weight_terms=profiles.get("weight_terms"),
            latest=self.latest,
            stride=self.scalars.stride,
            profile_stride=self.profiles.stride,
            clip_count=self.clip_count,
            export=export,
            sample=self.sample.reading(),
            init_radius=self.init_radius,
        )

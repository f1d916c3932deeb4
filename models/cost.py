"""What one training step costs: an estimate in seconds and in memory, and the budgets a run must fit in.

A shared 2-core server trains several runs at once, one torch thread each, and the lab is
live: a step that takes many seconds freezes the charts and starves other users. RunConfig
therefore rejects a configuration whose estimated step exceeds BUDGET_SECONDS, and the
dashboard can show "~X s per step, ~Y for the run" (steps × X) before a run starts.

The estimate follows where the time goes in models/backprop.py: per timestep a fixed Python
and dispatch cost, elementwise work on every (unit, sequence) pair, the recurrent GEMMs
(forward, backward and the per-step weight terms), whose cost is floored by reading the weight
matrix when the batch is small, and the eigenvalues of W_h once per step:

    seconds = c0 + c1·T + G·(c2·T·B·H + c3·T·B·H² + c4·T·H²) + c5·H³

with G = 4 gate blocks for the LSTM, 3 for the GRU and 1 for the RNNs. The coefficients are fitted to
measured steps on a 2-core reference server (one thread, thread CPU time, steady state; the first step
of a run also allocates its buffers and takes up to ~1.8× longer): `python -m benchmarks.step_cost`.
A run's memory is its peak on top of the process (run_megabytes): the scratch buffers of
models/backprop.py, which hold every timestep of a batch for the backward pass, plus a fixed part.
RunConfig also rejects a run over RUN_MEMORY_MB, and the server bounds all runs together: from
RNN_LAB_MEMORY_MB, what the whole server may use, follow the per-run budget and the number of runs
that train at once (training_slots). Measured: `python -m benchmarks.memory runs` and `... server`.

This module imports nothing from models/, so that config.py can use it.
"""

from __future__ import annotations

import os
from typing import Protocol

BUDGET_SECONDS = 2.0  # the longest a step may take on a 2-core reference server; see docs/performance.md

GATE_BLOCKS = {"rnn": 1, "lstm": 4, "residual": 1, "gru": 3}

# (c0, c1, c2, c3, c4, c5) per model, fitted by benchmarks/step_cost.py.
COEFFICIENTS: dict[str, tuple[float, ...]] = {
    "rnn": (0.00193, 9.5e-06, 1.32e-08, 7.09e-11, 4.15e-09, 1.52e-10),
    "lstm": (0.0, 6.85e-05, 9.07e-09, 7.55e-11, 2.53e-09, 1.74e-10),
    "residual": (1.48e-05, 3.33e-05, 1.51e-08, 9.14e-11, 1.45e-09, 1.32e-09),
    "gru": (0.00407, 2.05e-05, 9.42e-09, 9.11e-11, 2.91e-09, 0.0),
}


# Memory, in MB (2**20 bytes). A run's peak is (T + 1)·(H + D + 1)·B floats of inputs plus SCRATCH_SLABS
# float32 (T, H, B) slabs: the buffers the backward pass keeps for every timestep (RNN: a_t, ∂L/∂h_t, δ_t;
# LSTM: 7 cell slots and ∂L/∂h_t; GRU: 4 cell slots, 5 multipliers, W_in x_t + b_in and ∂L/∂h_t) and the
# temporaries of the multipliers and of the profile's per-timestep norms, at their
# peak together. Fitted with RUN_BASE_MB to peaks measured by `python -m benchmarks.memory runs`.
SCRATCH_SLABS = {"rnn": 6.25, "lstm": 11.2, "residual": 4.3, "gru": 15.5}
MAX_INPUT_SIZE = 29  # the largest task vocabulary (sentence): the one-hot inputs' width
RUN_BASE_MB = 90.0  # weights, optimizer, one batch, the gradient-term chunk, first-use library state
SERVER_BASE_MB = 450.0  # a server that has drawn the Lab, before any run (benchmarks/memory.py server)
RUN_MEMORY_CAP_MB = 768.0  # the most one run may hold, however large the server's budget
SERVER_MEMORY_MB = float(os.environ.get("RNN_LAB_MEMORY_MB", "2048"))  # the whole server: base and every run


def run_memory_budget(server_mb: float = SERVER_MEMORY_MB) -> float:
    """MB one run may hold: what the server's budget leaves beside its base, at most RUN_MEMORY_CAP_MB."""
    return min(RUN_MEMORY_CAP_MB, server_mb - SERVER_BASE_MB)


RUN_MEMORY_MB = run_memory_budget()


def training_slots(most: int, server_mb: float = SERVER_MEMORY_MB) -> int:
    """How many runs may train at once: at most `most` (RNN_LAB_MAX_TRAINING), and no more than the server's
    budget holds at the per-run budget each; at least one."""
    fit = int((server_mb - SERVER_BASE_MB) // run_memory_budget(server_mb))
    return max(1, min(most, fit))


class Sizes(Protocol):
    """The RunConfig fields the estimate reads."""

    model: str
    hidden_size: int
    batch_size: int

    @property
    def seq_length(self) -> int: ...


def features(config: Sizes) -> list[float]:
    """The terms of the cost model, in the order of COEFFICIENTS."""
    T, B, H = config.seq_length, config.batch_size, config.hidden_size
    G = GATE_BLOCKS[config.model]
    return [1.0, T, G * T * B * H, G * T * B * H * H, G * T * H * H, H**3]


def step_seconds(config: Sizes) -> float:
    """Estimated seconds for one Trainer.step() of `config` on a 2-core reference server, one thread."""
    return sum(c * f for c, f in zip(COEFFICIENTS[config.model], features(config), strict=True))


def run_megabytes(config: Sizes) -> float:
    """Estimated peak memory of a run of `config` in MB, on top of the process: its scratch buffers
    ((T + 1) steps of inputs, SCRATCH_SLABS (T, H, B) slabs, float32) and RUN_BASE_MB."""
    T, B, H = config.seq_length, config.batch_size, config.hidden_size
    floats = (T + 1) * (H + MAX_INPUT_SIZE + 1) * B + SCRATCH_SLABS[config.model] * T * H * B
    return RUN_BASE_MB + 4 * floats / 2**20

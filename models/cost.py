"""What one training step costs: an estimate in seconds, and the budget a run must fit in.

A shared 2-core server trains several runs at once, one torch thread each, and the lab is
live: a step that takes many seconds freezes the charts and starves other users. RunConfig
therefore rejects a configuration whose estimated step exceeds BUDGET_SECONDS, and the
dashboard can show "~X s per step, ~Y for the run" (steps × X) before a run starts.

The estimate follows where the time goes in models/backprop.py: per timestep a fixed Python
and dispatch cost, elementwise work on every (unit, sequence) pair, the recurrent GEMMs
(forward, backward and the per-step weight terms), whose cost is floored by reading the weight
matrix when the batch is small, and the eigenvalues of W_h once per step:

    seconds = c0 + c1·T + G·(c2·T·B·H + c3·T·B·H² + c4·T·H²) + c5·H³

with G = 4 gate blocks for the LSTM and 1 for the RNNs. The coefficients are fitted to
measured steps on the 2-core box (one thread, thread CPU time, steady state; the first step
of a run also allocates its buffers and takes up to ~1.8× longer): `python -m benchmarks.step_cost`.
This module imports nothing from models/, so that config.py can use it.
"""

from __future__ import annotations

from typing import Protocol

BUDGET_SECONDS = 2.0  # the longest a step may take on the 2-core box; see docs/performance.md

GATE_BLOCKS = {"rnn": 1, "lstm": 4, "residual": 1}

# (c0, c1, c2, c3, c4, c5) per model, fitted by benchmarks/step_cost.py.
COEFFICIENTS: dict[str, tuple[float, ...]] = {
    "rnn": (0.00193, 9.5e-06, 1.32e-08, 7.09e-11, 4.15e-09, 1.52e-10),
    "lstm": (0.0, 6.85e-05, 9.07e-09, 7.55e-11, 2.53e-09, 1.74e-10),
    "residual": (1.48e-05, 3.33e-05, 1.51e-08, 9.14e-11, 1.45e-09, 1.32e-09),
}


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
    """Estimated seconds for one Trainer.step() of `config` on the 2-core box, one thread."""
    return sum(c * f for c, f in zip(COEFFICIENTS[config.model], features(config), strict=True))

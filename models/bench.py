"""Benchmark: instrumented Trainer.step() vs the uninstrumented fused PyTorch step.

    python -m models.bench [--threads 2] [--rounds 7]

Both sides sample the same task batch, run forward + backward + SGD update at the same
sizes; ours also computes the exact per-timestep profile and the spectral radius. Blocks
of steps are interleaved and the ratio is taken inside each round (absolute times drift
on shared machines, ratios measured side by side do not); the table shows the median.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from models.config import RunConfig
from models.tasks import make_task
from models.trainer import Trainer

SIZES = [(3, 8, 4), (50, 64, 64), (100, 64, 64), (200, 128, 64)]  # (T, H, B)
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "leaky_relu"), ("lstm", "tanh")]


def fused_step(config: RunConfig) -> Callable[[], None]:
    """The plain training step with torch.nn.RNN / torch.nn.LSTM: nothing per timestep.

    nn.RNN has no leaky ReLU, so leaky_relu is compared against the fused ReLU step.
    """
    task = make_task(config)
    torch.manual_seed(config.seed)
    if config.model == "lstm":
        rnn: nn.Module = nn.LSTM(task.input_size, config.hidden_size, batch_first=True)
    else:
        nonlinearity = "tanh" if config.activation == "tanh" else "relu"
        rnn = nn.RNN(task.input_size, config.hidden_size, nonlinearity=nonlinearity, batch_first=True)
    head = nn.Linear(config.hidden_size, 1)
    optimizer = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=config.lr)

    def step() -> None:
        x, y = task.sample(config.batch_size)
        z = head(rnn(x)[0][:, -1]).squeeze(-1)  # (B,)
        loss = F.binary_cross_entropy_with_logits(z, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def _seconds(step: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - start) / n


def ratio(config: RunConfig, rounds: int) -> float:
    """Median over rounds of (our step time / fused step time), blocks interleaved."""
    ours, fused = Trainer(config).step, fused_step(config)
    _seconds(ours, 3), _seconds(fused, 3)  # warm caches and lazy imports
    n = max(3, int(0.15 / max(_seconds(fused, 3), 1e-5)))  # blocks of ~0.15 s
    ratios = []
    for r in range(rounds):
        pair = (_seconds(ours, n), _seconds(fused, n)) if r % 2 else (_seconds(fused, n), _seconds(ours, n))[::-1]
        ratios.append(pair[0] / pair[1])
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m models.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads; ratio = ours / fused (lower is faster)\n")
    print("| T/H/B | " + " | ".join(f"{m} {a}" for m, a in CASES) + " |")
    print("|---" * (len(CASES) + 1) + "|")
    for T, H, B in SIZES:
        cells = []
        for model, activation in CASES:
            config = RunConfig(model=model, activation=activation, task="first_token", seq_len=T, hidden_size=H,
                               batch_size=B, lr=0.01, steps=100_000)
            cells.append(f"{ratio(config, args.rounds):.2f}×")
        print(f"| {T}/{H}/{B} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

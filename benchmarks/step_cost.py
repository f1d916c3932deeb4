"""Calibrate models/cost.py: time one training step across the size caps, fit the cost model.

    python -m benchmarks.step_cost [--seq-lens 50,200,500] [--hidden 16,64,128,256] [--batch 16,128,512]
                                   [--models rnn,lstm,residual,gru]

For every model kind and size on the grid, one thread: a first Trainer.step() (it allocates
the scratch buffers), then the fastest of a few more steps, in thread CPU time (steadier than
the wall clock when other jobs share the machine), and the process's resident memory after
them. Prints each measurement beside the current estimate of models.cost.step_seconds, then
the least-squares coefficients (relative error) to paste into models/cost.py, and the range
of estimate / measurement under each. lr is tiny so that no run diverges mid-measurement.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

import models.cost as cost
from benchmarks.engine import load_report
from models.backprop import free_scratch
from models.config import RunConfig
from models.trainer import Trainer


def measure(config: RunConfig) -> tuple[float, float]:
    """(first step, fastest later step) in seconds of this thread's CPU time."""
    trainer = Trainer(config)
    start = time.thread_time()
    trainer.step()
    first = time.thread_time() - start
    best = first
    for _ in range(1 if first > 2 else 3):
        start = time.thread_time()
        trainer.step()
        best = min(best, time.thread_time() - start)
    return first, best


def resident_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def fit(rows: list[tuple[RunConfig, float]]) -> np.ndarray:
    """Non-negative coefficients minimising the squared relative error of the estimate.

    A term whose coefficient comes out negative is dropped and the rest refitted, so no
    size outside the grid can get a negative estimate.
    """
    x = np.array([cost.features(config) for config, _ in rows])  # (n, k)
    y = np.array([seconds for _, seconds in rows])
    keep = np.ones(x.shape[1], dtype=bool)
    while True:
        coef = np.zeros(x.shape[1])
        coef[keep], *_ = np.linalg.lstsq(x[:, keep] / y[:, None], np.ones_like(y), rcond=None)
        if (coef >= 0).all():
            return coef
        keep &= coef > 0


def _ints(text: str) -> list[int]:
    return [int(n) for n in text.split(",")]


def _models(text: str) -> list[str]:
    names = text.split(",")
    if unknown := [n for n in names if n not in cost.COEFFICIENTS]:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown)}: not one of {', '.join(cost.COEFFICIENTS)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.step_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--seq-lens", type=_ints, default=[50, 200, 500])
    parser.add_argument("--hidden", type=_ints, default=[16, 64, 128, 256])
    parser.add_argument("--batch", type=_ints, default=[16, 128, 512])
    parser.add_argument("--models", type=_models, default=list(cost.COEFFICIENTS),
                        help=f"the models to time and fit (default {','.join(cost.COEFFICIENTS)})")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cost.BUDGET_SECONDS = cost.RUN_MEMORY_MB = math.inf  # calibration has to time the sizes the budgets turn away
    print(f"torch {torch.__version__}, 1 thread; {load_report()}\n")
    print("| model | T/H/B | first step (s) | step (s) | estimate (s) | resident (MB) |")
    print("|---|---|---|---|---|---|")
    for model in args.models:
        rows = []
        for T, H, B in itertools.product(args.seq_lens, args.hidden, args.batch):
            config = RunConfig(model=model, task="first_token", seq_len=T, hidden_size=H, batch_size=B,
                               lr=1e-6, steps=10)
            free_scratch()  # the resident memory below is then this size's own
            first, seconds = measure(config)
            rows.append((config, seconds))
            rss = resident_mb()
            estimate = cost.step_seconds(config)
            print(f"| {model} | {T}/{H}/{B} | {first:.3f} | {seconds:.3f} | {estimate:.3f} | {rss:.0f} |", flush=True)
        coef = fit(rows)
        ratios = [float(np.dot(cost.features(c), coef)) / s for c, s in rows]
        print(f"\n{model}: coefficients {tuple(float(f'{c:.3g}') for c in coef)}; "
              f"fitted / measured {min(ratios):.2f}–{max(ratios):.2f}\n")


if __name__ == "__main__":
    main()

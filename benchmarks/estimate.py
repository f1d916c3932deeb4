"""How close the Lab's step-time estimate is to the steps that follow: `python -m benchmarks.estimate [--rounds 3]`.

Headless, with the Lab's own Runner (its training thread at the app's one torch thread): each round starts a fresh
run of the largest LSTM the step-time budget allows (tests/dashboard/lab_app.LARGEST_LSTM, T = 500, H = 256), reads
the estimate the status line shows once `--after` steps have been measured (Snapshot.seconds_per_step), then times
the next `--steps` steps from the step counter alone. The target (issue 20): within 30% of the measured time. Last, a
new run of the same sizes (what Reset builds): its estimate before its first step is the server's kept measurement
(runner.STEP_TIMES), not models/cost.py's fit. Figures depend on the machine's load, printed first.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from benchmarks.engine import load_report
from dashboard.runner import Runner
from models.cost import step_seconds
from tests.dashboard.lab_app import LARGEST_LSTM

POLL_S = 0.005


def _step_ends(runner: Runner, count: int) -> list[tuple[float, int]]:
    """(moment, step) each time the step counter moves, until it has moved `count` steps from now and moved twice.

    A step shorter than the poll moves the counter several steps at once, so `count` steps can pass in one move;
    a time per step needs two moves (it divides by the steps between them, however many)."""
    ends, last = [], runner.snapshot().step
    goal = last + count
    while last < goal or len(ends) < 2:
        step = runner.snapshot().step
        if step != last:
            ends.append((time.perf_counter(), step))
            last = step
        time.sleep(POLL_S)
    return ends


def estimate_round(after: int, steps: int) -> dict[str, float]:
    """A fresh run: the estimate once `after` steps were measured, and the median of the next `steps` steps."""
    runner = Runner(LARGEST_LSTM.replace(steps=100_000))  # closed after the steps it times
    runner.train()
    _step_ends(runner, after)
    estimate = runner.snapshot().seconds_per_step
    ends = _step_ends(runner, steps + 1)  # the first end only starts the clock: the step it ends began earlier
    runner.close()
    measured = statistics.median((t1 - t0) / (s1 - s0) for (t0, s0), (t1, s1) in itertools.pairwise(ends))
    return {"estimate": estimate, "measured": measured, "error": estimate / measured - 1}


def _spread(values: list[float], fmt: str) -> str:
    values = sorted(values)
    return f"{fmt.format(statistics.median(values))} ({fmt.format(values[0])} … {fmt.format(values[-1])})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.estimate", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh runs [default: 3]")
    parser.add_argument("--after", type=int, default=2, help="steps measured before the estimate is read [default: 2]")
    parser.add_argument("--steps", type=int, default=4, help="steps timed after it [default: 4]")
    args = parser.parse_args(argv)
    print(load_report(), flush=True)
    config = LARGEST_LSTM
    print(f"model=lstm T={config.seq_len} H={config.hidden_size} B={config.batch_size}; models/cost.py's fit before "
          f"any step: {step_seconds(config):.2f} s per step", flush=True)
    rounds = []
    for i in range(args.rounds):
        rounds.append(estimate_round(args.after, args.steps))
        r = rounds[-1]
        print(f"round {i + 1}: estimate after {args.after} steps {r['estimate']:.2f} s, next {args.steps} steps "
              f"{r['measured']:.2f} s per step (median), error {r['error']:+.0%}", flush=True)
    errors = [r["error"] for r in rounds]
    print(f"error of the estimate: {_spread(errors, '{:+.0%}')} over {len(rounds)} rounds (target within ±30%)")
    fresh = Runner(LARGEST_LSTM)  # what Reset builds, or another tab
    kept = fresh.snapshot().seconds_per_step
    fresh.close()
    print(f"a new run of the same sizes, before its first step: {kept:.2f} s per step (the server's last measurement)")


if __name__ == "__main__":
    main()

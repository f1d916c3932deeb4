"""What one click on "Slide (PNG)" costs the server: `python -m benchmarks.slide [--runs 5] [--model lstm]
[--seq-len 50] [--steps 300]`.

Trains one run as the Lab records it (its History), then times dashboard.slide.slide_png on its last snapshot: the
first call in the process (vl-convert starts its JavaScript engine then) and the median and slowest of the next
`--runs`. The Lab calls it only on a click (deferred download data), never on a page run.
"""

from __future__ import annotations

import argparse
import statistics
import time

from dashboard.history import History, Snapshot
from dashboard.slide import slide_png
from models import RunConfig, Trainer

LINK = "http://localhost:8501/?model=lstm&seq_len=50"


def recorded(config: RunConfig) -> Snapshot:
    """A finished run of `config`, recorded as the Lab records it."""
    history = History(config.seq_length, config.model == "lstm")
    for record in Trainer(config):
        history.add(record)
    return Snapshot(config, "done", config.steps, 1.0, history.view())


def seconds(snap: Snapshot) -> float:
    start = time.perf_counter()
    slide_png(snap, None, LINK)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--seq-len", type=int, default=50)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    snap = recorded(RunConfig(model=args.model, seq_len=args.seq_len, steps=args.steps))
    first = seconds(snap)
    times = [seconds(snap) for _ in range(args.runs)]
    print(f"slide_png, {args.model} T={args.seq_len}, {args.steps} steps: first call {first:.2f} s; next "
          f"{args.runs}: median {statistics.median(times):.2f} s, slowest {max(times):.2f} s")


if __name__ == "__main__":
    main()

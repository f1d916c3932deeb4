"""Does a watching class slow the presenter down? `python -m benchmarks.broadcast [--viewers 30]`.

One Runner trains the default config in its background thread, as the Lab does, and is published
in a room. N simulated viewers are threads that, while "watching" is on, each do every
WATCH_REFRESH_S the server-side work of one refresh of the `?watch=` page: Rooms.watch -> the room's
shared frame (snapshot and every chart's spec, data Arrow-encoded, rebuilt at most once per
period) -> each spec as JSON, as st.vega_lite_chart marshals it. `--per-viewer` makes every
refresh build its own frame (what sharing avoids).

The measurement alternates short windows with the viewers off and on (in ABBA order) over the
same run, so drift on a shared box and the run's own speed changes hit both conditions alike;
it prints the training rate of each condition, their ratio, and the spread of per-pair ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import torch

from dashboard.broadcast import Rooms
from dashboard.player import TORCH_THREADS
from dashboard.runner import Runner
from dashboard.watch_page import WATCH_REFRESH_S, shared_frame
from models import RunConfig
from models.trainer import warm_up

SETTLE_S = 0.3  # after switching the viewers on or off, before counting


def refresh(store: Rooms, code: str, viewer: str, max_age: float) -> int:
    """One viewer refresh's server-side work; returns the bytes it would send."""
    store.watch(code, viewer)
    frame = shared_frame(store, code, log_y=False, max_age=max_age)
    return sum(len(json.dumps({k: v for k, v in spec.items() if k != "datasets"}))
               + sum(map(len, spec["datasets"].values())) for spec in frame.specs.values())


class Class:
    """`n` viewer threads polling room `code` while `watching` is set."""

    def __init__(self, store: Rooms, code: str, n: int, max_age: float) -> None:
        self.watching, self.stop, self.refreshes = threading.Event(), threading.Event(), 0
        self.threads = [threading.Thread(target=self._poll, args=(store, code, f"v{i}", max_age), daemon=True)
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def _poll(self, store: Rooms, code: str, name: str, max_age: float) -> None:
        while not self.stop.is_set():
            if not self.watching.wait(timeout=0.1):
                continue
            next_at = time.monotonic()
            while self.watching.is_set() and not self.stop.is_set():
                refresh(store, code, name, max_age)
                self.refreshes += 1  # racy +=: a rough count is enough to show the polling rate held
                next_at += WATCH_REFRESH_S  # an overrunning refresh starts the next one at once
                time.sleep(max(0.0, next_at - time.monotonic()))

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def window(runner: Runner, seconds: float) -> tuple[int, float]:
    """(steps, seconds) the runner's own thread trained during the next `seconds`."""
    start_step, start = runner.snapshot().step, time.monotonic()
    time.sleep(seconds)
    return runner.snapshot().step - start_step, time.monotonic() - start


def measure(viewers: int, pairs: int, seconds: float, max_age: float) -> dict[str, list[tuple[int, float]]]:
    """Per condition ("alone", "watched"), the (steps, seconds) of each window, in ABBA order."""
    store, runner = Rooms(), Runner(RunConfig(steps=100_000))
    crowd = Class(store, store.publish(runner), viewers, max_age)
    windows: dict[str, list[tuple[int, float]]] = {"alone": [], "watched": []}
    runner.train()
    try:
        time.sleep(1.0)  # past the first steps' warm-up
        for i in range(pairs):
            for watched in (False, True) if i % 2 == 0 else (True, False):
                crowd.watching.set() if watched else crowd.watching.clear()
                time.sleep(SETTLE_S)
                windows["watched" if watched else "alone"].append(window(runner, seconds))
    finally:
        crowd.close()
        runner.close()
    windows["refreshes"] = [(crowd.refreshes, sum(s for _, s in windows["watched"]) + SETTLE_S * pairs)]
    return windows


def rate(windows: list[tuple[int, float]]) -> float:
    return sum(steps for steps, _ in windows) / sum(s for _, s in windows)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.broadcast", description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=30, help="simulated viewers [default: 30]")
    parser.add_argument("--seconds", type=float, default=10.0, help="training time per condition [default: 10]")
    parser.add_argument("--window", type=float, default=1.0, help="length of one alone/watched window [default: 1]")
    parser.add_argument("--per-viewer", action="store_true", help="every refresh builds its own frame (no sharing)")
    args = parser.parse_args()
    torch.set_num_threads(TORCH_THREADS)
    warm_up()
    pairs = max(2, round(args.seconds / args.window))
    w = measure(args.viewers, pairs, args.window, 0.0 if args.per_viewer else WATCH_REFRESH_S)
    ratios = sorted((ws / s2) / (wa / s1) for (wa, s1), (ws, s2) in zip(w["alone"], w["watched"], strict=True))
    refreshes, polled = w["refreshes"][0]
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"presenter alone {rate(w['alone']):.0f} steps/s | with {args.viewers} viewers "
          f"{rate(w['watched']):.0f} steps/s | ratio {rate(w['watched']) / rate(w['alone']):.0%} "
          f"(per-pair quartiles {quartiles[0]:.0%} / {quartiles[1]:.0%} / {quartiles[2]:.0%}, {pairs} pairs "
          f"of {args.window:g} s) | viewer refreshes {refreshes / polled:.0f}/s "
          f"(page rate {args.viewers / WATCH_REFRESH_S:.0f}/s){' | per-viewer frames' if args.per_viewer else ''}")


if __name__ == "__main__":
    main()

"""Does a watching class slow the presenter down? `python -m dashboard.bench_broadcast [--viewers 30]`.

Measures the presenter's training rate (a Runner training the default config in its background
thread, as the Lab does) alone and with N simulated viewers polling the same broadcast room.
Each viewer is a thread doing, every WATCH_REFRESH_S, the server-side work of one refresh of the
`?watch=` page: rooms().watch -> snapshot -> every chart's Vega-Lite spec and datasets as
chart_grid builds them -> the datasets as Arrow bytes and the spec as JSON, as st.vega_lite_chart
marshals them. Rounds alternate alone / watched so drift on a shared box hits both alike;
the ratio of each pair is printed, and their median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import torch
from streamlit import dataframe_util

from dashboard import charts
from dashboard.broadcast import Rooms
from dashboard.runner import TORCH_THREADS, Runner
from dashboard.viewer import WATCH_REFRESH_S
from models import RunConfig
from models.trainer import warm_up


def refresh(store: Rooms, code: str, viewer: str) -> int:
    """One viewer refresh's server-side work; returns the bytes it would send."""
    room = store.watch(code, viewer)
    snap = room.source.snapshot()
    sent = 0
    for name in charts.CHARTS:
        spec = charts.vega_spec(name, snap)
        sent += sum(len(dataframe_util.convert_anything_to_arrow_bytes(df)) for df in spec["datasets"].values())
        sent += len(json.dumps({k: v for k, v in spec.items() if k != "datasets"}))
    return sent


def viewer(store: Rooms, code: str, name: str, stop: threading.Event, counts: list[int]) -> None:
    """Poll at the watch page's rate (a refresh that overruns starts the next one at once)."""
    next_at = time.monotonic()
    while not stop.is_set():
        refresh(store, code, name)
        counts.append(1)
        next_at += WATCH_REFRESH_S
        stop.wait(max(0.0, next_at - time.monotonic()))


def training_rate(runner: Runner, seconds: float) -> float:
    """Steps/s of the runner's own thread over `seconds` (after a short settle)."""
    time.sleep(0.5)
    start_step, start = runner.snapshot().step, time.monotonic()
    time.sleep(seconds)
    return (runner.snapshot().step - start_step) / (time.monotonic() - start)


def measure(viewers: int, seconds: float) -> tuple[float, float]:
    """(presenter steps/s, viewer refreshes/s) with `viewers` polling; a fresh run each time."""
    store, runner = Rooms(), Runner(RunConfig(steps=100_000))
    code = store.publish(runner)
    stop, counts = threading.Event(), []
    threads = [threading.Thread(target=viewer, args=(store, code, f"v{i}", stop, counts), daemon=True)
               for i in range(viewers)]
    runner.train()
    for t in threads:
        t.start()
    try:
        rate = training_rate(runner, seconds)
        refreshes = len(counts) / (seconds + 0.5)
    finally:
        stop.set()
        runner.close()
        for t in threads:
            t.join()
    return rate, refreshes


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m dashboard.bench_broadcast", description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=30, help="simulated viewers [default: 30]")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each measurement [default: 10]")
    parser.add_argument("--rounds", type=int, default=3, help="alone/watched pairs [default: 3]")
    args = parser.parse_args()
    torch.set_num_threads(TORCH_THREADS)
    warm_up()
    measure(2, 1.0)  # warm the chart specs and code paths
    ratios = []
    for i in range(args.rounds):
        alone, _ = measure(0, args.seconds)
        watched, refreshes = measure(args.viewers, args.seconds)
        ratios.append(watched / alone)
        print(f"round {i + 1}: alone {alone:.0f} steps/s | with {args.viewers} viewers {watched:.0f} steps/s "
              f"({ratios[-1]:.0%}) | viewer refreshes {refreshes:.1f}/s "
              f"(target {args.viewers / WATCH_REFRESH_S:.0f}/s)")
    print(f"median ratio watched/alone over {args.rounds} rounds: {statistics.median(ratios):.0%}")


if __name__ == "__main__":
    main()

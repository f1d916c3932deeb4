"""Measure the live dashboard against the headless engine: `python -m benchmarks.dashboard`.

Starts `streamlit run dashboard/app.py` on a free local port, drives it with Playwright and
Debian's Chromium, and prints: headless Trainer.step() rate, in-app training rate (and its
ratio), UI refreshes per second while streaming, and latency from Train to the first step
drawn. Headless and in-app windows alternate, so the box's load drifts out of the ratios. The
last figure, headless training beside a busy-loop process, shows what the browser's rendering on
the other core costs training by itself on this machine. --beside-page adds the bound a training
worker in its own process could reach: headless training while a tab streams a run of a second
server whose training is held to a slow pace (so the page refreshes as usual but the server
trains little). Every figure is the median over the rounds with its min–max; the machine's load
average is printed first, with a warning when other work shares the cores. The server and browser
come from the browser tests' driver (tests/browser/driver.py). --ablate measures what each live chart
costs: the same figures with all charts, without each one in turn, and without any.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from benchmarks.engine import load_report
from dashboard.charts import CHARTS, live_charts
from dashboard.sidebar import share_query
from models import RunConfig, Trainer
from models.trainer import warm_up
from tests.browser import driver
from tests.browser.driver import button, chromium, open_lab, serve

CONFIGS = {  # long enough that neither finishes during a measurement
    "default (tanh RNN, T=20, H=32, B=64)": RunConfig(steps=100_000),
    "LSTM, T=50, H=64": RunConfig(model="lstm", seq_len=50, hidden_size=64, steps=100_000),
}


def headless_rate(config: RunConfig, seconds: float) -> float:
    trainer = Trainer(config)
    for _ in range(5):
        trainer.step()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        trainer.step()
        steps += 1
    return steps / (time.perf_counter() - start)


# Records (time, Step metric text) in the page whenever the text changes: cheaper and finer than polling.
WATCH_STEPS = """() => {
  window.__steps = [];
  const read = () => document.querySelector('[data-testid="stMetricValue"]')?.innerText;
  let last = read();
  new MutationObserver(() => {
    const now = read();
    if (now !== last) { last = now; window.__steps.push([performance.now() / 1000, parseInt(now)]); }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


# Run in the --beside-page server before Streamlit starts: every run trains at most PACE steps/s.
PACE = 5
SLOW_RUNS = f"""
import dashboard.runner
_init = dashboard.runner.Runner.__init__
def _paced(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    self.set_pace({PACE})
dashboard.runner.Runner.__init__ = _paced
"""


def without_charts(names: tuple[str, ...]) -> str:
    """Server-start code (serve's `before`) that leaves the live charts `names` out of the Lab: the ablation."""
    return f"""
import dashboard.charts, dashboard.live_view
_all = dashboard.charts.live_charts
def _fewer(model):
    return tuple(c for c in _all(model) if c.name not in {names!r})
dashboard.charts.live_charts = dashboard.live_view.live_charts = _fewer
"""


def app_rates(context: object, url: str, config: RunConfig, seconds: float) -> dict[str, float]:
    """Open the Lab with `config`, press Train, record every change of the step counter for `seconds`."""
    page = open_lab(context, url, share_query(config))
    page.wait_for_timeout(1000)  # let the first render settle
    page.evaluate(WATCH_STEPS)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    clicked = page.evaluate("performance.now() / 1000")
    button(page, "Train").click()
    page.wait_for_timeout(seconds * 1000)
    samples = page.evaluate("window.__steps")
    busy = _task_seconds(cdp)  # the renderer's main-thread time since Performance.enable (~ the window)
    button(page, "Pause").click()
    page.close()
    (t0, s0), (t1, s1) = samples[0], samples[-1]
    return {"first_step_s": t0 - clicked, "refresh_per_s": (len(samples) - 1) / (t1 - t0),
            "steps_per_s": (s1 - s0) / (t1 - t0), "browser_ms_per_refresh": 1000 * busy / len(samples)}


def _task_seconds(cdp: object) -> float:
    """Chromium's TaskDuration: seconds its renderer's main thread has been busy (parsing, script, layout, paint)."""
    return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")


@contextlib.contextmanager
def streaming_page(context: object, url: str, config: RunConfig) -> Iterator[None]:
    """A Lab tab on `url` (the --beside-page server, whose runs are paced) streaming a run of `config`."""
    page = open_lab(context, url, share_query(config))
    try:
        button(page, "Train").click()
        page.wait_for_timeout(1000)
        yield
    finally:
        button(page, "Pause").click()
        page.close()


@contextlib.contextmanager
def busy_core() -> Iterator[None]:
    """A pure-Python busy loop in another process, standing in for a browser rendering on the other core."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        yield
    finally:
        proc.kill()
        proc.wait()


def measure(context: object, url: str, config: RunConfig, seconds: float, rounds: int,
            paced_url: str | None = None) -> str:
    """Interleave headless and in-app windows; each round's ratio uses the mean of the headless windows around it,
    so slow drifts in the box's load cancel out. Medians over the rounds, with their min–max."""
    rounds_ = []
    before = headless_rate(config, seconds)
    for _ in range(rounds):
        app = app_rates(context, url, config, seconds)
        if paced_url:
            with streaming_page(context, paced_url, config):
                app["beside_page"] = headless_rate(config, seconds)
        after = headless_rate(config, seconds)
        headless = (before + after) / 2
        rounds_.append(app | {"headless": headless, "ratio": app["steps_per_s"] / headless}
                       | ({"beside_ratio": app["beside_page"] / headless} if paced_url else {}))
        before = after
    with busy_core():
        beside = headless_rate(config, seconds)
    spread = functools.partial(_spread, rounds_)
    line = (f"headless {spread('headless', '{:.0f}')} steps/s | in app {spread('steps_per_s', '{:.0f}')} steps/s = "
            f"{spread('ratio', '{:.0%}')} of headless | {_page_figures(rounds_)} | headless beside a busy core "
            f"{beside:.0f} steps/s ({beside / statistics.median(r['headless'] for r in rounds_):.0%})")
    if paced_url:
        line += f" | headless beside a streaming page {spread('beside_ratio', '{:.0%}')} of headless"
    return line


def _page_figures(rounds: list[dict[str, float]]) -> str:
    """What the page did over the rounds: refreshes, first step drawn, browser work per refresh."""
    return (f"UI refreshes {_spread(rounds, 'refresh_per_s', '{:.1f}')}/s | Train -> first step drawn "
            f"{_spread(rounds, 'first_step_s', '{:.2f}')} s | browser busy "
            f"{_spread(rounds, 'browser_ms_per_refresh', '{:.0f}')} ms per refresh")


def _spread(rounds: list[dict[str, float]], key: str, fmt: str) -> str:
    """'median (min–max)' of `key` over the rounds."""
    values = sorted(r[key] for r in rounds)
    return f"{fmt.format(statistics.median(values))} ({fmt.format(values[0])}–{fmt.format(values[-1])})"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measurement window [default: 5]")
    parser.add_argument("--rounds", type=int, default=3, help="in-app windows per config [default: 3]")
    parser.add_argument("--config", choices=range(len(CONFIGS)), type=int, action="append",
                        help="measure only these CONFIGS (0 = default, 1 = LSTM) [default: all]")
    parser.add_argument("--streamlit-option", action="append", default=[], metavar="NAME=VALUE",
                        help="extra `streamlit run` option, e.g. runner.postScriptGC=true")
    parser.add_argument("--beside-page", action="store_true",
                        help=f"also time headless training beside a page streaming a run paced to {PACE} steps/s")
    parser.add_argument("--drop", action="append", default=[], choices=list(CHARTS), metavar="CHART",
                        help=f"leave this live chart out of the Lab ({', '.join(CHARTS)}); repeatable")
    parser.add_argument("--against", type=Path, metavar="DIR", help="A/B: interleave every window with the same "
                        "window on a server run from another checkout (e.g. `git worktree add /tmp/old <commit>`)")
    parser.add_argument("--ablate", action="store_true", help="measure each config with all its live charts, "
                        "then once without each one and once without any, each on a fresh server")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the app does (RNN_LAB_TORCH_THREADS)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; {load_report()}", flush=True)
    warm_up()
    options = [f"--{option}" for option in args.streamlit_option]
    chosen = [(name, config) for i, (name, config) in enumerate(CONFIGS.items()) if not args.config or i in args.config]
    if args.against:
        with contextlib.ExitStack() as stack:
            urls = {side: stack.enter_context(serve(*options, root=root))[0]
                    for side, root in (("this", driver.ROOT), (str(args.against), args.against))}
            context = stack.enter_context(chromium())
            for name, config in chosen:
                for side, line in compare(context, urls, config, args.seconds, args.rounds).items():
                    print(f"{name}, {side}: {line}", flush=True)
        return
    if args.ablate:
        with chromium() as context:
            for name, config in chosen:
                for dropped in ablations(config):
                    with serve(*options, before=without_charts(dropped)) as (url, _):
                        line = measure(context, url, config, args.seconds, args.rounds)
                    print(f"{name}, without {', '.join(dropped) or 'nothing'}: {line}", flush=True)
        return
    with contextlib.ExitStack() as stack:
        url, _ = stack.enter_context(serve(*options, before=without_charts(tuple(args.drop))))
        paced_url = stack.enter_context(serve(*options, before=SLOW_RUNS))[0] if args.beside_page else None
        context = stack.enter_context(chromium())
        for name, config in chosen:
            print(f"{name}: {measure(context, url, config, args.seconds, args.rounds, paced_url)}", flush=True)


def compare(context: object, urls: dict[str, str], config: RunConfig, seconds: float, rounds: int) -> dict[str, str]:
    """A/B: the same in-app window on each server in turn, `rounds` times; per server, median (min–max)."""
    windows = {side: [] for side in urls}
    for _ in range(rounds):
        for side, url in urls.items():
            windows[side].append(app_rates(context, url, config, seconds))
    return {side: f"in app {_spread(w, 'steps_per_s', '{:.0f}')} steps/s | {_page_figures(w)}"
            for side, w in windows.items()}


def ablations(config: RunConfig) -> list[tuple[str, ...]]:
    """Nothing dropped, each of the config's live charts dropped alone, all of them dropped."""
    names = tuple(c.name for c in live_charts(config.model))
    return [(), *((name,) for name in names), names]


if __name__ == "__main__":
    main()

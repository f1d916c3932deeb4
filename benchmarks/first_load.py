"""Where a fresh server's first page load goes: `python -m benchmarks.first_load [--runs 3] [--page /]`.

Each run starts a new `streamlit run` server (tests/browser/driver.py), opens one fresh Chromium tab
at 1280 × 720 and records, on one clock (the machine's epoch time, which the browser and the
server share), when the browser first showed the app's frame, the sidebar's first widget, the
Lab's Train button and its charts, and when the server started its first script run, finished
importing the heavy modules (a meta-path hook the server process installs before Streamlit
starts) and finished that run. Times are seconds after the browser was told to open the page.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from dashboard.charts import live_charts
from models import RunConfig
from tests.browser import driver
from tests.browser.driver import chromium, serve

# Run in the server process before Streamlit starts: log when each watched module finishes importing and when
# each script run starts and ends, as epoch seconds on stderr (the server's log).
HOOK = r"""
import importlib.abc, importlib.util, sys, time
_WATCH = ("torch", "torch._dynamo", "pandas", "altair", "models.lessons", "dashboard.lab_page", "dashboard.charts")
_seen = set()

class _Timed(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name not in _WATCH or name in _seen:
            return None
        _seen.add(name)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            print(f"FIRSTLOAD import {name} {time.time():.3f}", file=sys.stderr, flush=True)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _Timed())
from streamlit.runtime.scriptrunner import script_runner as _sr
_real_run = _sr.ScriptRunner._run_script
def _run_script(self, rerun_data):
    print(f"FIRSTLOAD run-start {time.time():.3f}", file=sys.stderr, flush=True)
    try:
        return _real_run(self, rerun_data)
    finally:
        print(f"FIRSTLOAD run-end {time.time():.3f}", file=sys.stderr, flush=True)
_sr.ScriptRunner._run_script = _run_script
"""

# The last milestone: every live chart of the default run drawn.
CHART_COUNT = len(live_charts(RunConfig().model))
ALL_CHARTS = f"{CHART_COUNT} charts"
# In the page: when each milestone first appears, as epoch milliseconds.
MILESTONES = """() => {
  window.__firstload = {};
  const mark = (name, seen) => {
    if (!(name in window.__firstload) && seen()) window.__firstload[name] = performance.timeOrigin + performance.now();
  };
  const check = () => {
    mark('app frame', () => document.querySelector('[data-testid=stApp]'));
    mark('sidebar widget', () => document.querySelector('[data-testid=stSidebar] [data-testid=stSelectbox]'));
    mark('lessons', () => document.querySelector('[data-testid=stButtonGroup]'));
    mark('Train button', () => [...document.querySelectorAll('button')].some(b => b.innerText.includes('Train')));
    mark('ALL_CHARTS', () => document.querySelectorAll(
      '[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg').length >= ALL_COUNT);
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
  setInterval(check, 20);
}""".replace("ALL_CHARTS", ALL_CHARTS).replace("ALL_COUNT", str(CHART_COUNT))


def one_load(page: str, root: Path = driver.ROOT) -> dict[str, float]:
    """Seconds from the browser's request to each milestone, on a fresh server."""
    with serve(before=HOOK, root=root) as (url, log), chromium(1280, 720) as context:
        context.add_init_script(f"({MILESTONES})()")
        tab = context.new_page()
        opened = time.time()
        tab.goto(f"{url}{page}")
        tab.wait_for_function(f"window.__firstload && '{ALL_CHARTS}' in window.__firstload", timeout=120_000)
        tab.wait_for_timeout(500)  # the run's end is logged after its last element
        browser = {name: ms / 1000 - opened for name, ms in tab.evaluate("window.__firstload").items()}
        server = {}
        for what, stamp in re.findall(r"FIRSTLOAD (import \S+|run-start|run-end) ([\d.]+)", log.read_text()):
            server.setdefault(f"server: {what}", float(stamp) - opened)
    return browser | server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page", default="/")
    parser.add_argument("--root", type=Path, default=driver.ROOT,
                        help="serve another checkout, e.g. an older commit's `git archive` for a before/after")
    args = parser.parse_args()
    loads = [one_load(args.page, args.root) for _ in range(args.runs)]
    names = sorted({name for load in loads for name in load}, key=lambda n: statistics.median(
        load[n] for load in loads if n in load))
    print(f"{'milestone':36s} " + " ".join(f"run {i + 1:>2}" for i in range(args.runs)) + "   median")
    for name in names:
        times = [load.get(name) for load in loads]
        cells = " ".join(f"{t:6.2f}" if t is not None else "     —" for t in times)
        print(f"{name:36s} {cells}   {statistics.median(t for t in times if t is not None):6.2f}")


if __name__ == "__main__":
    main()

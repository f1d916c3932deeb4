"""Memory: what one run holds at its peak (checks models.cost.run_megabytes), and the server's peak with the
largest accepted runs training at once (checks the defaults against the memory budget).

    python -m benchmarks.memory runs [--sizes lstm/500/64/512,rnn/500/241/512,...]
    python -m benchmarks.memory server [--seconds 60]

`runs`: each size in a fresh process, one thread, two training steps; the growth of the process's peak
resident memory (VmHWM, reset after the imports) beside the estimate, and their ratio.
`server`: `streamlit run dashboard/app.py` with this environment's RNN_LAB_* settings, one Chromium tab per
training slot, each opened on a link to the largest run the budgets accept and set training; prints the
server's peak resident memory (its VmHWM) after the Lab's first render and after every run took two steps,
next to the server's memory budget (RNN_LAB_MEMORY_MB).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode

import models.cost as cost
from benchmarks.engine import load_report
from dashboard.player import SLOTS
from dashboard.sidebar import config_query, largest_fitting
from models.config import RANGES, RunConfig
from tests.browser.driver import button, chromium, open_lab, serve, step_count

MB = 2**20
RUN_SIZES = ("rnn/500/241/512", "residual/500/216/512", "lstm/500/64/512", "lstm/200/128/256", "rnn/200/64/128",
             "lstm/50/16/64")
# One process per size: a run's buffers are then its own, and the import of torch is not counted.
ONE_RUN = """
import sys, torch
from pathlib import Path
import models.cost as cost
from models.config import RunConfig
from models.trainer import Trainer
cost.BUDGET_SECONDS = cost.RUN_MEMORY_MB = float("inf")  # measure the sizes the budgets turn away too
torch.set_num_threads(1)
model, T, H, B = sys.argv[1].split("/")
config = RunConfig(model=model, task="first_token", seq_len=int(T), hidden_size=int(H), batch_size=int(B),
                   lr=1e-6, steps=10)
Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS: the peak from here on
status = lambda: dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
before = int(status()["VmHWM"].split()[0])
trainer = Trainer(config)
trainer.step()
trainer.step()
print((int(status()["VmHWM"].split()[0]) - before) / 1024)
"""


def run_growth_mb(size: str) -> float:
    """Peak resident memory a run of `size` ("model/T/H/B") adds to a process, in MB (two steps)."""
    done = subprocess.run([sys.executable, "-c", ONE_RUN, size], capture_output=True, text=True, timeout=600,
                          check=True)
    return float(done.stdout.strip())


def _sizes(size: str) -> SimpleNamespace:
    """What the estimates read, without RunConfig's budgets (calibration measures the sizes they turn away)."""
    model, T, H, B = size.split("/")
    return SimpleNamespace(model=model, seq_length=int(T), hidden_size=int(H), batch_size=int(B))


def runs(sizes: list[str]) -> None:
    print(f"{load_report()}\n")
    print("| model/T/H/B | measured peak growth (MB) | estimate (MB) | estimate / measured |")
    print("|---|---|---|---|")
    for size in sizes:
        measured, estimate = run_growth_mb(size), cost.run_megabytes(_sizes(size))
        print(f"| {size} | {measured:.0f} | {estimate:.0f} | {estimate / measured:.2f} |", flush=True)


def largest_accepted() -> RunConfig:
    """The accepted run with the largest memory estimate: for each model and hidden size at the longest
    sequence, the largest batch both budgets allow."""
    best = None
    seq_len = int(RANGES["seq_len"][1])
    for model in cost.GATE_BLOCKS:
        for hidden in range(8, int(RANGES["hidden_size"][1]) + 1, 8):
            batch = largest_fitting({"model": model, "task": "first_token", "seq_len": seq_len,
                                     "hidden_size": hidden}, "batch_size")
            if batch is not None:
                config = RunConfig(model=model, task="first_token", seq_len=seq_len, hidden_size=hidden,
                                   batch_size=batch)
                if best is None or cost.run_megabytes(config) > cost.run_megabytes(best):
                    best = config
    assert best is not None
    return best


def _peak_mb(pid_file: Path) -> float:
    status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


def server(seconds: float) -> None:
    config = largest_accepted().replace(steps=100)
    slots = SLOTS.limit
    print(f"{load_report()}\nRNN_LAB_MEMORY_MB = {cost.SERVER_MEMORY_MB:g}: {slots} training slot(s), at most "
          f"{cost.RUN_MEMORY_MB:g} MB per run; the largest accepted run: {config.model} T={config.seq_len} "
          f"H={config.hidden_size} B={config.batch_size}, estimated {cost.run_megabytes(config):.0f} MB")
    pid_file = Path(tempfile.mkstemp(prefix="rnnlab-server-", suffix=".pid")[1])
    with serve(before=f"import os; open({str(pid_file)!r}, 'w').write(str(os.getpid()))") as (url, _), \
            chromium() as context:
        pages = [open_lab(context, url, urlencode(config_query(config))) for _ in range(slots)]
        print(f"server after the Lab's first render ({slots} tab(s)): peak {_peak_mb(pid_file):.0f} MB", flush=True)
        for page in pages:
            button(page, "Train").click()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and min(_steps(page) for page in pages) < 2:
            time.sleep(1)
        steps = [_steps(page) for page in pages]
        peak = _peak_mb(pid_file)
    print(f"server with {slots} run(s) training (steps taken: {steps}): peak {peak:.0f} MB; "
          f"budget RNN_LAB_MEMORY_MB = {cost.SERVER_MEMORY_MB:g} MB")


def _steps(page: object) -> int:
    try:
        return step_count(page)
    except Exception:  # the metric is being redrawn
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sizes = sub.add_parser("runs", help="one run's peak growth against models.cost.run_megabytes")
    sizes.add_argument("--sizes", type=lambda text: text.split(","), default=list(RUN_SIZES))
    whole = sub.add_parser("server", help="the server's peak with the largest accepted runs training at once")
    whole.add_argument("--seconds", type=float, default=120.0, help="longest wait for every run's second step")
    args = parser.parse_args()
    if args.what == "runs":
        runs(args.sizes)
    else:
        server(args.seconds)


if __name__ == "__main__":
    main()

"""Does a day of classes leave the server's memory where it started? `python -m benchmarks.sessions
[--sessions 1000] [--urls 500] [--after 60]`.

Starts a real `streamlit run` server (tests/browser/driver.py) and drives it without a browser, over
Streamlit's own websocket protocol (protobuf BackMsg / ForwardMsg, as the page sends them): each of N
sessions opens the Lab, presses Train (the button's widget id is read from the page the server sent)
and closes its tab; then M sessions each open the Lab with a link carrying a distinct `negative_slope`
(leaky ReLU, so the slope reaches the activation chart) and close. A few clients run at once.

Prints the server's resident memory (RSS, from /proc) before (after WARM_UP cycles, so imports and
first-use caches are in), at its peak while the sessions run, and `--after` seconds after the last tab
closed, whether after − before stays within BUDGET_MB, and what the server still holds then
(AppSession, Runner, run and History objects, training threads, runners the janitor still keeps for a tab that
may return), counted without collecting garbage by a signal handler the server installs: released runners share
one idle run, so runs and histories count that one plus the runs of sessions still open or disconnected for less
than the grace period (dashboard/lifetime.py; `--after` must exceed it for a closed tab's run to count as freed).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import ClientConnection, connect

from tests.browser.driver import serve

BUDGET_MB = 60.0  # issue 21: RSS back within +60 MB of the start after the sessions closed
WARM_UP = 3  # open -> Train -> close cycles before "before": torch, the first optimizer, the chart specs
SAMPLE_S = 0.5  # peak RSS sampling period
TIMEOUT_S = 300.0  # a hung server, not a slow one: beside other load a script run took over 60 s
# Run in the server before Streamlit starts: on SIGUSR1, count (without collecting) what the server holds.
COUNT_HOOK = r"""
import gc, signal, sys, threading
def _count(signum, frame):
    names = [type(o).__name__ for o in gc.get_objects()]
    training = sum(t.name.startswith("rnnlab-train") for t in threading.enumerate())
    lifetime = sys.modules.get("dashboard.lifetime")
    waiting = lifetime.JANITOR.waiting if lifetime else 0
    print(f"SESSIONS held app_sessions={names.count('AppSession')} runners={names.count('Runner')} "
          f"runs={names.count('_Run')} histories={names.count('History')} training_threads={training} "
          f"in_grace={waiting}", file=sys.stderr, flush=True)
def _collect_and_count(signum, frame):
    from dashboard.lifetime import reclaim

    reclaim()  # what the janitor does after releasing runs, here to see how much was left to reclaim
    _count(signum, frame)
signal.signal(signal.SIGUSR1, _count)
signal.signal(signal.SIGUSR2, _collect_and_count)
"""


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MB (VmRSS)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def server_pid(port: int) -> int:
    """The pid of this process's child serving `port` (serve(before=...) passes its argv in `python -c`)."""
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                if f"'--server.port', '{port}'".encode() in (proc / "cmdline").read_bytes():  # serve(before=...)
                    return int(proc.name)
    raise RuntimeError(f"no child process serves port {port}")


class Page:
    """One browser tab's websocket session: script runs requested and read back as a real page does."""

    def __init__(self, ws: ClientConnection, query: dict[str, str]) -> None:
        self.ws, self.query = ws, urlencode(query)
        self.buttons: dict[str, str] = {}  # label -> widget id, from the last run

    def run(self, trigger: str | None = None) -> None:
        """One script run (pressing the button labelled `trigger`, if given); returns when it finished."""
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        if trigger is not None:
            msg.rerun_script.widget_states.widgets.add(id=self.buttons[trigger], trigger_value=True)
        self.ws.send(msg.SerializeToString())
        self.buttons = {}
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            forward = ForwardMsg()
            forward.ParseFromString(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.new_element.WhichOneof("type") == "button":
                button = forward.delta.new_element.button
                self.buttons[button.label] = button.id
            elif kind == "script_finished":
                return



@contextlib.contextmanager
def tab(url: str, query: dict[str, str]) -> Iterator[Page]:
    """A tab open on the app at `url` with `query`; leaving the block closes the tab (its websocket)."""
    with connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                 open_timeout=TIMEOUT_S, max_size=None, ping_interval=None) as ws:
        yield Page(ws, query)


def train_cycle(url: str) -> str:
    """Open the Lab, press Train, close the tab; returns the primary button's label after the press."""
    with tab(url, {}) as page:
        page.run()
        page.run(trigger="Train")
        return next((label for label in ("Pause", "Pausing…", "Done") if label in page.buttons), "?")


def slope_visit(url: str, slope: float) -> None:
    """Open the Lab with a link carrying `slope`, close the tab."""
    with tab(url, {"activation": "leaky_relu", "negative_slope": f"{slope:.6f}"}) as page:
        page.run()


@contextlib.contextmanager
def peak_sampler(pid: int) -> Iterator[list[float]]:
    """Samples the server's RSS every SAMPLE_S while the block runs; yields the list of samples."""
    samples, stop = [rss_mb(pid)], threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_S):
            samples.append(rss_mb(pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.append(rss_mb(pid))


def held(pid: int, log: Path, collect: bool = False) -> str:
    """What the server holds right now (its SIGUSR1 handler's line in the log); after a full gc if `collect`."""
    os.kill(pid, signal.SIGUSR2 if collect else signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in log.read_text().splitlines() if line.startswith("SESSIONS held")]
        if len(lines) > held.count.get(pid, 0):
            held.count[pid] = len(lines)
            return lines[-1].removeprefix("SESSIONS held ")
        time.sleep(0.1)
    return "no answer"


held.count = {}


def measure(sessions: int, urls: int, after: float, clients: int, options: list[str]) -> dict[str, object]:
    """Run the whole day against a fresh server (`streamlit run` `options`); returns the figures `main` prints."""
    with serve(*options, before=COUNT_HOOK) as (url, log):
        pid = server_pid(int(url.rsplit(":", 1)[1]))
        for _ in range(WARM_UP):
            train_cycle(url)
        time.sleep(2)  # the warm-up tabs' disconnects are processed
        before, held_before = rss_mb(pid), held(pid, log)
        start = time.monotonic()
        with peak_sampler(pid) as samples, ThreadPoolExecutor(clients) as pool:
            labels = list(pool.map(lambda _: train_cycle(url), range(sessions)))
            list(pool.map(lambda i: slope_visit(url, 0.001 + 0.998 * i / max(1, urls)), range(urls)))
        elapsed = time.monotonic() - start
        time.sleep(after)
        figures = {"before": before, "peak": max(samples), "after": rss_mb(pid), "elapsed": elapsed,
                   "trained": sum(label != "?" for label in labels), "held_before": held_before,
                   "held_after": held(pid, log)}
        figures["held_collected"] = held(pid, log, collect=True)  # after the readings: it frees memory
        return figures | {"collected": rss_mb(pid)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000, help="open -> Train -> close cycles")
    parser.add_argument("--urls", type=int, default=500, help="sessions opened with a distinct negative_slope")
    parser.add_argument("--after", type=float, default=60.0, help="seconds after the last close to read RSS")
    parser.add_argument("--clients", type=int, default=4, help="sessions driven at once")
    parser.add_argument("--streamlit-option", action="append", default=[], metavar="NAME=VALUE",
                        help="extra `streamlit run` option, e.g. server.disconnectedSessionTTL=120")
    args = parser.parse_args()
    r = measure(args.sessions, args.urls, args.after, args.clients, [f"--{o}" for o in args.streamlit_option])
    print(f"sessions: {args.sessions} open -> Train -> close ({r['trained']} showed Pause after Train), "
          f"{args.urls} distinct negative_slope links, {args.clients} at a time, in {r['elapsed']:.0f} s")
    print(f"RSS before: {r['before']:.0f} MB (after {WARM_UP} warm-up cycles; held: {r['held_before']})")
    print(f"RSS peak: {r['peak']:.0f} MB")
    print(f"RSS after: {r['after']:.0f} MB ({args.after:g} s after the last close; held: {r['held_after']})")
    print(f"RSS after gc.collect() and malloc_trim(0) in the server: {r['collected']:.0f} MB "
          f"(held: {r['held_collected']})")
    growth = r["after"] - r["before"]
    print(f"after - before: {growth:+.0f} MB, within +{BUDGET_MB:g} MB: {'yes' if growth <= BUDGET_MB else 'NO'}")


if __name__ == "__main__":
    main()

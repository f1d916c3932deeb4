"""How soon the Lab answers its controls: `python -m benchmarks.controls [--rounds 5]`.

On a real server and Debian's Chromium at 1280 × 720, each round opens a fresh tab on the largest LSTM the
step-time budget allows and measures, inside the page (tests/browser/driver.watch): Train → the line saying which
step runs and what a step costs; Pause → "pausing" (or "paused"); Reset → idle. Then, on a server whose step 4
fails, Train → the error's message. The browser tests check what the page says and in which order; the targets
here (one second each) are figures with their spread, not pass/fail, because they depend on the machine's load,
which is printed first.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.dashboard import _spread
from benchmarks.engine import load_report
from dashboard.sidebar import config_query
from tests.browser.driver import (
    button,
    chromium,
    failing_step,
    open_lab,
    page_text,
    primary_is,
    seconds_after_click,
    serve,
    watch,
)
from tests.browser.polling import thread_log, wait_until
from tests.dashboard.lab_app import LARGEST_LSTM

PROJECTOR = (1280, 720)
PROGRESS = ("return document.body.innerText.includes('Step 1 running for') && "
            "/~[0-9.]+ s per step \\((estimated for this server|measured)\\)/.test(document.body.innerText);")
PAUSED = f"return /Pausing: step \\d+ is still running/.test(document.body.innerText) || {primary_is('Resume')};"
IDLE = f"return {primary_is('Train')};"


def control_round(context: object, url: str, log: Path) -> dict[str, float]:
    """Seconds from each click to the page's answer, on a fresh tab of the largest LSTM; returns once the step
    that Reset abandoned has ended, so the next round does not queue behind it."""
    page = open_lab(context, url, "&".join(f"{k}={v}" for k, v in config_query(LARGEST_LSTM).items()))
    answers = {}
    for label, name, predicate in (("Train", "progress", PROGRESS), ("Pause", "pause", PAUSED),
                                   ("Reset", "reset", IDLE)):
        watch(page, **{name: predicate})
        button(page, label).click()
        answers[name] = seconds_after_click(page, name)
    page.close()
    wait_until(lambda: thread_log(log)[-1][1] == "ended (live=0)", timeout=600)
    return answers


def fault_round(context: object, url: str) -> dict[str, float]:
    """Seconds from Train to the message of a step that raises, then Reset."""
    page = open_lab(context, url, "steps=100000")
    watch(page, fault=page_text("injected fault"))
    button(page, "Train").click()
    answer = {"fault": seconds_after_click(page, "fault")}
    page.close()
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.controls", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh tabs per measurement [default: 5]")
    args = parser.parse_args()
    print(load_report(), flush=True)
    with chromium(*PROJECTOR) as context:
        with serve() as (url, log):
            controls = [control_round(context, url, log) for _ in range(args.rounds)]
        with serve(before=failing_step(4)) as (url, _):
            faults = [fault_round(context, url) for _ in range(args.rounds)]
    for name, what, rounds in (("progress", "Train -> largest LSTM's progress line", controls),
                               ("pause", "Pause -> pausing/paused", controls),
                               ("reset", "Reset -> idle", controls),
                               ("fault", "Train -> a failing step's message", faults)):
        print(f"{what}: {_spread(rounds, name, '{:.2f}')} s over {len(rounds)} rounds (target 1 s)", flush=True)


if __name__ == "__main__":
    main()

"""Two presses in quick succession: `python -m benchmarks.presses [--tries 15] [--busy]`.

Streamlit's fast reruns (on by default, and forced on Community Cloud) stop a page run that has not finished when
the next press arrives, and start one with only the newest press. A teacher makes two such pairs:

- **Train, then Broadcast** `--gap` s later: a Train whose run had not started yet is cancelled with it, and the Lab
  broadcasts an idle run (the button still says Train). Counted: tries whose run never trained.
- **Room, then End broadcast…** at once: End's run cuts short the run the menu's opening started, so the server
  never draws the menu open. Counted: tries whose menu was still on screen beside the "End the broadcast?" dialog
  (room_badge.room_button draws no menu while the dialog asks), and tries whose menu opening was cut short.

Each try is a fresh tab at 1280 x 720 on its own server. `--busy` runs one busy loop per core beside the tries:
how often a run is cut short depends on the load, which is printed first.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
from collections.abc import Iterator

from benchmarks.engine import load_report
from tests.browser.driver import broadcast, button, chromium, open_lab, recorded_page, serve

PROJECTOR = (1280, 720)
FAST = "steps=100000&pace=60"


def _spin() -> None:
    while True:
        pass


@contextlib.contextmanager
def busy(on: bool) -> Iterator[None]:
    """One busy loop per core while the block runs (when `on`)."""
    loops = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(os.cpu_count() or 1)] if on else []
    for loop in loops:
        loop.start()
    try:
        yield
    finally:
        for loop in loops:
            loop.terminate()


def train_then_broadcast(gap: float) -> bool:
    """One try, Broadcast pressed `gap` s after Train: True if the run trained."""
    with serve() as (url, _), chromium(*PROJECTOR) as context:
        page = open_lab(context, url, "steps=100000")
        button(page, "Train").click()
        page.wait_for_timeout(gap * 1000)
        broadcast(page)
        try:
            button(page, "Pause").wait_for(timeout=10_000)
        except Exception:  # Playwright's TimeoutError: the run is idle
            return False
        return True


def room_then_end() -> tuple[bool, bool]:
    """One try: (the menu stayed on screen beside the dialog, the menu's opening run was cut short)."""
    with serve() as (url, _), chromium(*PROJECTOR) as context:
        page, received = recorded_page(context, f"{url}/?{FAST}")
        button(page, "Train").click()
        button(page, "Pause").wait_for(timeout=30_000)
        broadcast(page)
        page.wait_for_timeout(2000)
        start = len(received)
        page.get_by_role("button", name="Room").click()
        page.get_by_role("button", name="End broadcast…").click()
        page.get_by_test_id("stDialog").get_by_text("Every viewer is told it ended").wait_for(timeout=30_000)
        page.wait_for_timeout(3000)  # a menu that stays, stays
        stayed = page.get_by_test_id("stPopoverBody").is_visible()
        drawn_open = any(m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "add_block"
                         and m.delta.add_block.HasField("popover") and m.delta.add_block.popover.open
                         for m in received[start:])
        return stayed, not drawn_open


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.presses", description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=15, help="fresh tabs per pair [default: 15]")
    parser.add_argument("--gap", type=float, default=0.1, help="seconds from Train to Broadcast [default: 0.1]")
    parser.add_argument("--busy", action="store_true", help="a busy loop per core beside the tries")
    args = parser.parse_args()
    with busy(args.busy):
        print(load_report(), "(busy loops on)" if args.busy else "", flush=True)
        lost = sum(not train_then_broadcast(args.gap) for _ in range(args.tries))
        print(f"Train, then Broadcast {args.gap:g} s later: Train lost in {lost} of {args.tries} tries", flush=True)
        menus = [room_then_end() for _ in range(args.tries)]
    stayed, cut = sum(s for s, _ in menus), sum(c for _, c in menus)
    print(f"Room, then End broadcast…: the menu's opening cut short in {cut} of {args.tries} tries; the menu stayed "
          f"over the dialog in {stayed} of {args.tries}", flush=True)


if __name__ == "__main__":
    main()

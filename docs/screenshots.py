"""Re-take every screenshot README and docs/*.md show: `python -m docs.screenshots [--only NAME ...]`.

Starts `streamlit run dashboard/app.py` and drives it in Debian's Chromium with the browser tests' driver
(tests/browser/driver.py); each scene below opens a page, does what its caption in the docs says, and returns the page
(a viewport shot) or one element of it. Waits follow the page's state (the script settled, the step counter, the
Done button), not the clock, so a busy machine only makes it slower.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

from models.lessons import LESSONS
from tests.browser.driver import ROOM_CODE, button, chromium, lesson_pill, open_lab, serve, settle
from tests.browser.polling import wait_until

OUT = Path(__file__).resolve().parent / "screenshots"
PROJECTOR = (1280, 720)
LESSON = (1500, 2500)  # every live chart of the run, LSTM gates included, on one screen
FINISHED = re.compile(r"^(Done|Diverged)( Shortcut Space)?$")  # the primary button's label once a run has ended
CHART = "stVegaLiteChart"


def _charts_drawn(page: object, count: int, timeout: float = 120) -> None:
    """Wait until `count` Vega charts have drawn their canvas or svg and the script has settled."""
    wait_until(lambda: page.evaluate(
        f"[...document.querySelectorAll('[data-testid={CHART}]')].filter(c => c.querySelector('canvas, svg'))"
        ".length") >= count, timeout=timeout)
    settle(page, timeout)


def _step(page: object) -> int:
    """The step the page shows, 0 before it is drawn: the Lab's Step metric ("Step (of 300)" over "94"), a
    viewer's, or presentation mode's one-line status ("Step 94 / 300 · ..."), which has no metric for
    driver.step_count to read."""
    found = re.search(r"Step \(of \d+\)\s+(\d+)|Step (\d+) /", page.evaluate("document.body.innerText"))
    return int(found.group(1) or found.group(2)) if found else 0


def _training(page: object, steps: int) -> None:
    """Press Train and return once the run is past `steps` with its charts redrawn."""
    button(page, "Train").click()
    wait_until(lambda: _step(page) >= steps, timeout=180)
    _charts_drawn(page, 2)


def _broadcast(page: object) -> str:
    """Press Broadcast; the room code, read off the room badge."""
    button(page, "Broadcast").click()
    code = page.locator(".st-key-room_code").get_by_text(ROOM_CODE)
    code.wait_for(timeout=60_000)
    return code.inner_text().strip()


def presentation(context: object, url: str) -> object:
    page = open_lab(context, url, "lesson=vanishing&presentation=true")
    _training(page, 90)
    return page


def broadcast(context: object, url: str) -> object:
    page = presentation(context, url)
    _broadcast(page)
    button(page, "Ask the class").click()  # the badge with the poll's live tally
    page.get_by_text("poll open: 0 votes").wait_for(timeout=60_000)
    page.mouse.move(0, PROJECTOR[1] - 1)  # off the button just pressed, whose tooltip would cover the pace
    settle(page, 120)
    return page


def viewer(context: object, url: str) -> object:
    code = _broadcast(presentation(context, url))
    page = context.new_page()
    page.goto(f"{url}/?watch={code}")
    wait_until(lambda: _step(page) > 120, timeout=180)
    _charts_drawn(page, 2)
    return page


def words(context: object, url: str) -> object:
    """The sentence lesson training in presentation mode, scrolled to its words view (the LSTM's two strips)."""
    page = open_lab(context, url, "lesson=sentence&presentation=true")
    _training(page, 60)
    page.locator("[class*='st-key-words_example_forget']").first.scroll_into_view_if_needed()
    settle(page, 120)
    return page


def _bptt(context: object, url: str, top: str) -> object:
    """The BPTT page with every term revealed, scrolled so the term whose caption contains `top` is at the top."""
    page = context.new_page()
    page.goto(f"{url}/bptt")
    slider = page.get_by_role("slider")
    slider.wait_for(timeout=60_000)
    slider.focus()
    slider.press("End")  # reveal every term
    page.get_by_text("Hand sums vs autograd").wait_for(timeout=60_000)
    settle(page, 120)
    # Below Streamlit's toolbar: the term's caption is the first line on screen.
    page.get_by_text(top).first.evaluate("e => { e.scrollIntoView({block: 'start'}); "
                                         "document.querySelector('[data-testid=stMain]').scrollBy(0, -70); }")
    return page


def _insight(context: object, url: str, switch: str, part: Callable[[object], object]) -> object:
    """Lesson 2's preset at initialization (seed 0) with the insight section `switch` opened: `part` of the page."""
    page = open_lab(context, url, "lesson=vanishing")
    settle(page, 120)
    page.get_by_text(switch).click()
    shot = part(page)
    shot.get_by_test_id(CHART).locator("canvas, svg").first.wait_for(timeout=120_000)
    settle(page, 120)
    return shot


def split_column(page: object) -> object:
    """The theory section's right column: the decay split and its caption."""
    return page.get_by_test_id("stColumn").filter(has_text="From h_T back to h_1").last


def slopes_expander(page: object) -> object:
    return page.get_by_test_id("stExpander").filter(has_text="Why the activation's slope matters")


def lesson(key: str) -> Callable[[object, str], object]:
    """The Lab after one click on lesson `key`'s pill and one on Train, at the end of the run."""

    def scene(context: object, url: str) -> object:
        page = open_lab(context, url, "")
        lesson_pill(page, LESSONS[key].title).click()
        page.get_by_text("What to watch.").wait_for(timeout=60_000)
        settle(page, 120)
        button(page, "Train").click()
        page.get_by_role("button", name=FINISHED).wait_for(timeout=600_000)
        _charts_drawn(page, 6)
        return page

    return scene


# name in docs/screenshots/ -> (viewport width, height, scene); the docs show exactly these (tests/test_screenshots.py).
SCENES: dict[str, tuple[int, int, Callable[[object, str], object]]] = {
    "classroom_presentation_1280x720.png": (*PROJECTOR, presentation),
    "classroom_broadcast_1280x720.png": (*PROJECTOR, broadcast),
    "classroom_viewer_1280x720.png": (*PROJECTOR, viewer),
    "words_view_1280x720.png": (*PROJECTOR, words),
    "bptt_backward_1280x720.png": (*PROJECTOR, lambda c, u: _bptt(c, u, "Through the sigmoid")),
    "bptt_update_1280x720.png": (*PROJECTOR, lambda c, u: _bptt(c, u, "For a sentence of any length")),
    "theory_split_lesson2.png": (1500, 1000, lambda c, u: _insight(c, u, "Theory: the Jacobian chain", split_column)),
    "activation_slopes.png": (1500, 1000, lambda c, u: _insight(c, u, "Why the activation's slope matters",
                                                                 slopes_expander)),
    "lesson_vanishing.png": (*LESSON, lesson("vanishing")),
    "lesson_exploding.png": (*LESSON, lesson("exploding")),
    "lesson_lstm.png": (*LESSON, lesson("lstm")),
    "lesson_gru.png": (*LESSON, lesson("gru")),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SCENES), metavar="NAME",
                        help=f"re-take only these (default: all): {', '.join(SCENES)}")
    names = parser.parse_args(argv).only or list(SCENES)
    with serve(timeout=120) as (url, _):
        for name in names:
            width, height, scene = SCENES[name]
            with chromium(width, height) as context:
                scene(context, url).screenshot(path=OUT / name)
            print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()

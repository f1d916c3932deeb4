"""The screen tells the truth about lessons 7 and 8 (issue 17), at 1280 × 720 in a real Chromium: no promise of
minutes for a run that diverges within steps, a diverged step drawn red in the heatmap (legend "diverged"), and
"Run the control" overlaying the lesson's run and its control. Charts are canvases, so their marks are read as
pixels of the colours the specs give them."""

import io
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import pytest
from PIL import Image

from dashboard.charts import CELL_COLOURS, live_charts
from dashboard.compare import PALETTE
from dashboard.sidebar import config_query
from models import RunConfig
from models.lessons import LESSONS
from tests.browser.driver import button, chromium, open_lab, settle
from tests.browser.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
FINISHED = re.compile(r"^(Done|Diverged)( Shortcut Space)?$")


def _pixels(element: object, colour: str) -> int:
    """How many pixels of `element`'s screenshot have `colour` (#rrggbb), to within antialiasing."""
    image = np.asarray(Image.open(io.BytesIO(element.screenshot())).convert("RGB"), dtype=int)
    target = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(image - target).sum(axis=2) < 12).sum())


def _charts(page: object) -> object:
    return page.get_by_test_id("stVegaLiteChart")


@pytest.mark.parametrize("key", ["exploding", "exploding_lr"])
def test_lessons_that_diverge_promise_no_minutes(server, key):
    url, _ = server
    with chromium(1280, 720) as context:
        page = open_lab(context, url, f"lesson={key}")
        settle(page)
        text = page.evaluate("document.body.innerText")
        assert "This run takes about" not in text and "min for the whole run" not in text
        assert re.search(r"for the whole run at 1 step/s \(this lesson diverges by step \d+\)", text)


def test_a_diverged_step_is_red_in_the_heatmap_and_run_the_control_overlays_both_runs(server):
    url, _ = server
    with chromium(1280, 720) as context:
        page = open_lab(context, url, "lesson=exploding")
        settle(page)
        charts = _charts(page)
        wait_until(lambda: charts.count() >= 6)
        heatmap = charts.nth([c.name for c in live_charts("rnn")].index("heatmap"))  # no other chart above it yet
        # Before any step, no red: the legend lists "diverged" only once the run has diverged.
        assert _pixels(heatmap, CELL_COLOURS[1]) == 0
        button(page, "Train").click()
        page.get_by_role("button", name=FINISHED).wait_for(timeout=120_000)
        settle(page)
        page.wait_for_timeout(1000)  # the last redraw reaches the canvas
        assert page.get_by_role("button", name="Diverged").is_visible()
        # A whole row of 20 cells is red now, each larger than a 10 × 10 px legend swatch (14,620 px measured).
        assert _pixels(heatmap, CELL_COLOURS[1]) > 20 * 10 * 10

        before = charts.count()
        button(page, "Run the control").click()
        wait_until(lambda: charts.count() == before + 2, timeout=120)  # loss and profile, side by side
        settle(page, 120)
        profile = charts.nth(1)  # the overlay's loss and profile are drawn under the lesson card, above the live charts
        page.wait_for_timeout(1000)
        assert page.get_by_text("lesson: gain=2.2: diverged at step 2").is_visible()
        # Both runs are drawn, each in its own colour of the compare palette, in order.
        assert _pixels(profile, PALETTE[0]) > 50 and _pixels(profile, PALETTE[1]) > 50


def test_a_modified_lesson_card_says_what_changed_and_restore_brings_back_the_preset_and_its_badge(server):
    url, _ = server
    with chromium(1280, 720) as context:
        changed = LESSONS["vanishing"].config.replace(hidden_size=256, lr=0.5)
        page = open_lab(context, url, urlencode({"lesson": "vanishing", **config_query(changed)}))
        settle(page)
        modified = page.get_by_text("modified: lr 0.001 → 0.5, hidden_size 16 → 256.")
        modified.wait_for()
        restore = page.get_by_role("button", name="Restore the lesson")
        box = restore.bounding_box()
        assert box is not None and box["y"] + box["height"] <= 720  # on the first screen, under the notice
        assert page.get_by_text(re.compile(r"Claim holds on \d+ of 30 seeds")).count() == 0
        restore.click()
        page.get_by_text("Claim holds on 30 of 30 seeds").wait_for()  # the badge is back
        # The restored card has fewer elements: the Restore button can stay (stale) until the run that drew it ends.
        wait_until(lambda: modified.count() == 0 and restore.count() == 0, timeout=30)
        wait_until(lambda: _url_config(page.url) == LESSONS["vanishing"].config)  # the URL is the preset's again


def test_the_control_overlays_charts_end_inside_the_page(server):
    # As one hconcat of fixed widths the pair ran past the right edge at 1280 px, the profile's t > 40 cut off.
    url, _ = server
    with chromium(1280, 720) as context:
        page = open_lab(context, url, "lesson=exploding")
        settle(page)
        charts = _charts(page)
        wait_until(lambda: charts.count() >= 6)
        before = charts.count()
        button(page, "Run the control").click()
        wait_until(lambda: charts.count() == before + 2, timeout=120)  # the overlay's loss and profile charts
        settle(page, 120)
        boxes = [charts.nth(i).evaluate(_DRAWN_BOX) for i in range(2)]  # under the lesson card, above the live ones
        assert all(box["width"] > 200 for box in boxes)
        assert boxes[0]["right"] <= boxes[1]["left"]  # side by side: loss left of the profile
        viewport = page.evaluate("document.documentElement.clientWidth")
        assert all(box["right"] <= viewport for box in boxes)


# The box of what Vega drew (its canvas or SVG, which can be wider than the element that holds it).
_DRAWN_BOX = """chart => {
    const rects = [...chart.querySelectorAll('canvas, svg')].map(c => c.getBoundingClientRect());
    return {left: Math.min(...rects.map(r => r.left)), right: Math.max(...rects.map(r => r.right)),
            width: Math.max(...rects.map(r => r.width))};
}"""


def _url_config(url: str) -> RunConfig:
    """The run configuration a Lab address holds (its other parameters left out)."""
    fields = RunConfig().to_dict()
    return RunConfig.from_strings({k: v for k, v in parse_qsl(urlsplit(url).query) if k in fields})

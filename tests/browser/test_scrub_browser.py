"""The step slider in a real browser at 1280 × 720 and on a phone: after a short run, Home on the slider shows step 1,
and the profile chart redraws."""

import pytest

from dashboard.charts import live_charts
from tests.browser.driver import button, chromium, open_lab, primary_is
from tests.browser.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]
STEPS = 30


def _stable(chart: object) -> bytes:
    """The chart's picture once two screenshots in a row agree (Vega has drawn the latest data)."""
    shots = [chart.screenshot()]
    while len(shots) < 2 or shots[-1] != shots[-2]:
        shots.append(chart.screenshot())
        assert len(shots) < 60, "the chart never stopped changing"
    return shots[-1]


@pytest.mark.parametrize("size", [(1280, 720), (390, 844)])
def test_home_on_the_step_slider_shows_step_1_after_a_run(server, size):
    url, _ = server
    with chromium(*size) as context:
        page = open_lab(context, url, f"task=cat_mat_rat&hidden_size=8&batch_size=8&steps={STEPS}")
        button(page, "Train").click()
        page.wait_for_function(primary_is("Done"), timeout=60_000)
        order = [chart.name for chart in live_charts("rnn")]  # the grid's order, the Lab's first charts
        profile = page.get_by_test_id("stVegaLiteChart").nth(order.index("profile"))
        captions = page.get_by_test_id("stCaptionContainer")
        captions.get_by_text(f"Step {STEPS} bold").wait_for(timeout=30_000)
        before = _stable(profile)

        slider = page.get_by_role("slider", name="Profile at step")
        assert slider.get_attribute("aria-valuetext") == "latest"
        slider.focus()
        slider.press("Home")  # the first recorded step: step 1
        captions.get_by_text(f"Step 1 of {STEPS}, picked on the Lab's step slider").wait_for(timeout=30_000)
        wait_until(lambda: profile.screenshot() != before, timeout=30)  # the chart redrew step 1's profile
        assert slider.get_attribute("aria-valuetext") == "step 1"
        assert page.get_by_test_id("stException").count() == 0

"""Lessons 13 and 15 in a real browser at 1280 × 720: each loads from its link and trains; the GRU's gates chart
gives its plot the chart's height (not the legend), and the truncation lesson names the timestep it cuts off."""

import io

import numpy as np
import pytest
from PIL import Image

from dashboard.charts import live_charts
from models.lessons import LESSONS
from tests.browser.driver import button, chromium, open_lab, step_count
from tests.browser.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

WIDTH, HEIGHT = 1280, 720


def _grid_rows(picture: bytes) -> np.ndarray:
    """The rows of a chart's picture crossed by a horizontal gridline: light grey (not white, not a coloured line)
    over at least a third of its width. Vega draws one per y tick, so the first and the last bound the plot."""
    rgb = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB")).astype(int)  # (H, W, 3)
    grey = (rgb.max(axis=2) - rgb.min(axis=2) < 12) & (rgb.min(axis=2) > 190) & (rgb.min(axis=2) < 250)
    return np.flatnonzero(grey.mean(axis=1) > 1 / 3)


def test_the_gru_lesson_trains_and_its_gates_plot_takes_the_charts_height(server):
    url, _ = server
    lesson = LESSONS["gru"]
    with chromium(WIDTH, HEIGHT) as context:
        page = open_lab(context, url, "lesson=gru")
        assert page.get_by_text(lesson.title.split(" · ")[1], exact=False).first.is_visible()
        bias = page.get_by_role("spinbutton", name="GRU update-gate bias")
        assert float(bias.input_value()) == lesson.config.update_bias and bias.is_enabled()
        button(page, "Train").click()
        wait_until(lambda: step_count(page) >= 30, timeout=60)
        order = [chart.name for chart in live_charts("gru")]
        gates = page.get_by_test_id("stVegaLiteChart").nth(order.index("gates"))
        gates.scroll_into_view_if_needed()
        page.get_by_text("z_t, the update gate (Cho et al. 2014)").wait_for(timeout=30_000)
        box = gates.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box  # nothing cut off at the right
        rows = _grid_rows(gates.screenshot())
        # The y axis runs 0 … 1 with a gridline at each tick: with the legend below the plot, Vega's fit into
        # Streamlit's fixed height left the plot 45 of the chart's 280 px; beside it, ~155 px.
        assert rows.size >= 2 and rows[-1] - rows[0] > 0.4 * box["height"], (rows.tolist(), box)
        assert page.get_by_test_id("stException").count() == 0


def test_the_truncation_lesson_trains_and_names_the_timestep_it_cuts_off(server):
    url, _ = server
    lesson = LESSONS["truncated"]
    cut = lesson.config.seq_len - lesson.config.bptt_window
    with chromium(WIDTH, HEIGHT) as context:
        page = open_lab(context, url, "lesson=truncated")
        assert page.get_by_role("spinbutton", name="BPTT window (0 = full)").input_value() == str(
            lesson.config.bptt_window)
        button(page, "Train").click()
        wait_until(lambda: step_count(page) >= 10, timeout=60)
        page.get_by_text(f"{cut} timestep(s) cut off by truncated BPTT (bptt_window), shaded grey").wait_for(
            timeout=30_000)
        assert page.get_by_test_id("stException").count() == 0

"""A real browser against `streamlit run`: a presenter trains and broadcasts, a second page opens the
`?watch=` link and sees the run advance, and the server runs exactly one training thread (its log)."""

import pytest

from dashboard.charts import live_charts
from tests.browser.driver import broadcast, button, chromium, open_lab, step_count
from tests.browser.polling import thread_log, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_a_class_watches_one_training_thread(server):
    url, log = server
    with chromium() as context:
        presenter = open_lab(context, url, "steps=100000")
        button(presenter, "Train").click()
        button(presenter, "Pause").wait_for(timeout=20_000)
        code = broadcast(presenter)

        viewer = context.new_page()
        viewer.goto(f"{url}/?watch={code}")
        charts = viewer.get_by_test_id("stVegaLiteChart")
        wait_until(lambda: charts.count() == len(live_charts("rnn")), timeout=60)
        wait_until(lambda: step_count(viewer) > 0)
        first, profile = step_count(viewer), charts.nth(1).screenshot()
        wait_until(lambda: step_count(viewer) > first + 50)  # the viewer's counter follows the presenter's run
        viewer.wait_for_timeout(500)
        assert charts.nth(1).screenshot() != profile  # and its gradient-profile chart is redrawn with new data
        badge = presenter.locator(".st-key-room_badge")
        wait_until(lambda: "1 watching" in badge.inner_text(), timeout=15)
        for page in (presenter, viewer):
            assert page.get_by_test_id("stException").count() == 0

        started = [name for name, event in thread_log(log) if event == "started"]
        assert len(started) == 1 and not [e for _, e in thread_log(log) if e != "started"]  # one, still running

        presenter.close()  # the presenter leaves: the thread stops, the room closes, the viewer is told
        wait_until(lambda: thread_log(log)[-1] == (started[0], "ended (live=0)"), timeout=15)
        viewer.get_by_text("has ended").wait_for(timeout=15_000)
        assert viewer.get_by_test_id("stException").count() == 0
    assert [name for name, event in thread_log(log) if event == "started"] == started

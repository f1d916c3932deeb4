"""A real browser against `streamlit run`: Train fills the charts, Pause stops the counter,
closing the tab ends the server's training thread (read from the server's log)."""

import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from dashboard.charts import live_charts
from tests.browser.driver import (
    LATE_FLUSH,
    button,
    chromium,
    connection_trail,
    kept_on_failure,
    lab_drawn,
    open_lab,
    step_count,
)
from tests.browser.polling import thread_log, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def test_train_pause_and_closing_the_tab_ends_the_thread(server):
    url, log = server
    with chromium() as context:
        page = open_lab(context, url, "steps=100000")
        charts = page.get_by_test_id("stVegaLiteChart")
        wait_until(lambda: charts.count() == len(live_charts("rnn")) + 1)  # and the activation slopes
        page.wait_for_timeout(1000)
        empty = charts.nth(1).screenshot()

        button(page, "Train").click()
        wait_until(lambda: step_count(page) > 50)
        page.wait_for_timeout(1000)
        assert charts.nth(1).screenshot() != empty  # the gradient profile got drawn

        button(page, "Pause").click()
        button(page, "Resume").wait_for()
        stopped = step_count(page)
        page.wait_for_timeout(1500)
        assert step_count(page) == stopped
        assert page.get_by_test_id("stException").count() == 0

        button(page, "Resume").click()
        wait_until(lambda: step_count(page) > stopped)
        name = thread_log(log)[-1][0]
        assert thread_log(log)[-1] == (name, "started")
        page.close()  # the tab closes while training
        # The session's on_release stops it; no training thread is left in the server.
        wait_until(lambda: any(n == name and event.startswith("ended") for n, event in thread_log(log)), timeout=10)
    assert thread_log(log)[-1] == (name, "ended (live=0)")


def test_the_lab_asks_nothing_of_another_host(server):
    """A classroom network may have no internet, and students' browsers should not call out: every request of the
    Lab's page goes to its own server. The page icon was a :material: one, which each browser fetched from
    fonts.gstatic.com; an emoji icon is an inline SVG."""
    url, _ = server
    with chromium(1280, 720) as context:
        page = context.new_page()
        hosts = set()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname))
        page.goto(f"{url}/?steps=100")
        button(page, "Train").wait_for(timeout=60_000)
        page.wait_for_function("document.querySelector(\"link[rel='shortcut icon']\")?.href.startsWith('data:')",
                               timeout=30_000)
        assert hosts == {urlsplit(url).hostname}, hosts


def test_a_press_the_page_sends_twice_acts_once(server):
    """The press that failed s36-2 (dashboard/presses.py): Pause that did not hold, Train that paused at once. Here
    every press flushes 3 s late, so the chart fragment's timer carries Pause in several reruns, and the run must
    still pause once and stay paused (on_click callbacks paused it, then resumed it once the Pause button had
    become Resume)."""
    url, log = server
    with chromium() as context:
        context.add_init_script(LATE_FLUSH)
        page = context.new_page()
        trail = connection_trail(page)
        page.goto(f"{url}/?steps=100000")
        lab_drawn(page)
        button(page, "Train").click()
        wait_until(lambda: step_count(page) > 50)
        threads = len(thread_log(log))
        page.evaluate("window.lateFlushMs = 3000")
        with kept_on_failure(log, Path(tempfile.mkdtemp(prefix="late-flush-")), trail, lab=page):
            button(page, "Pause").click()
            button(page, "Resume").wait_for(timeout=60_000)
            page.wait_for_timeout(4000)  # past the late flush: the press's own rerun has come and gone
            assert any("rerun fragment (auto) pressing primary" in line for line in trail), "no press rode a timer"
            stopped = step_count(page)
            page.wait_for_timeout(1500)
            assert step_count(page) == stopped and button(page, "Resume").count() == 1
            assert [event for _, event in thread_log(log)[threads:]] == ["ended (live=0)"]  # paused; none started

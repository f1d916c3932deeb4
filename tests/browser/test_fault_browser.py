"""A real browser against a server whose Trainer.step fails at step 4 (injected in the server process before
Streamlit starts): the page shows the exception's message, the training thread ends, the controls hold still
meanwhile, and one press of Reset recovers. How soon the message shows is `python -m benchmarks.controls`'s to
measure, not a test's."""

import pytest

from tests.browser.driver import button, chromium, failing_step, open_lab, serve
from tests.browser.polling import thread_log, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# Records, every animation frame, where the Reset button is: a control that moves while a rerun draws can lose a
# press (the pointer goes down on it and up on whatever slid under it).
TRACK_RESET = """() => {
  window.__tops = new Set();
  const track = () => {
    const reset = [...document.querySelectorAll('button')].find(b => b.innerText.trim().endsWith('Reset'));
    if (reset) window.__tops.add(Math.round(reset.getBoundingClientRect().top));
    requestAnimationFrame(track);
  };
  track();
}"""


CYCLES = 3


def test_a_failing_step_shows_its_message_and_one_reset_recovers():
    with serve(before=failing_step(4)) as (url, log), chromium() as context:
        page = open_lab(context, url, "steps=100000")
        page.wait_for_timeout(1000)  # let the first render settle
        message = page.get_by_test_id("stAlert").filter(has_text="injected fault")
        for cycle in range(1, CYCLES + 1):  # the first run of a fresh server, then runs after a Reset
            page.evaluate(TRACK_RESET)
            button(page, "Train").click()
            message.wait_for(timeout=10_000)
            assert "step 4 failed with RuntimeError: injected fault" in message.inner_text()
            assert page.get_by_test_id("stException").count() == 0  # a message, not a crash

            wait_until(lambda n=2 * cycle: len(thread_log(log)) == n, timeout=5)
            assert [event for _, event in thread_log(log)] == ["started", "ended (live=0)"] * cycle
            page.wait_for_timeout(500)
            # The primary button once took a new key per state (Train / Pause / Error): until the rerun ended, the
            # stale button stood beside the new one, the row was 28 px taller, and Reset jumped as the rerun finished.
            assert len(page.evaluate("[...window.__tops]")) == 1, "the controls moved while the run started and failed"
            button(page, "Reset").click()  # one press recovers: a new run, idle, no message
            wait_until(lambda: message.count() == 0, timeout=10)
            button(page, "Train").wait_for(timeout=10_000)
        assert log.read_text().count("step 4 failed") == CYCLES and "RuntimeError: injected fault" in log.read_text()

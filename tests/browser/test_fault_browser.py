"""A real browser against a server whose Trainer.step fails at step 4 (injected in the server process before
Streamlit starts): the page shows the exception's message promptly, the training thread ends, the
controls hold still meanwhile, and one press of Reset recovers."""

import pytest

from tests.browser.driver import button, chromium, open_lab, serve
from tests.browser.polling import thread_log, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

FAULT = """
import models.trainer

_real_step = models.trainer.Trainer.step


def _failing_step(self):
    if self.step_count == 3:
        raise RuntimeError("injected fault")
    return _real_step(self)


models.trainer.Trainer.step = _failing_step
"""


# Records, in the page, when the error's text first appears: Playwright's own polling adds up to ~0.8 s on a busy box.
WATCH_FOR = """text => {
  window.__shown = null;
  window.__clicked = performance.now();
  new MutationObserver(() => {
    if (window.__shown === null && document.body.innerText.includes(text)) window.__shown = performance.now();
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


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


def test_a_failing_step_shows_its_message_within_a_second_and_one_reset_recovers():
    with serve(before=FAULT) as (url, log), chromium() as context:
        page = open_lab(context, url, "steps=100000")
        page.wait_for_timeout(1000)  # let the first render settle
        message = page.get_by_test_id("stAlert").filter(has_text="injected fault")
        shown = []
        for cycle in range(1, CYCLES + 1):  # the first run of a fresh server, then runs after a Reset
            page.evaluate(WATCH_FOR, "injected fault")
            page.evaluate(TRACK_RESET)
            button(page, "Train").click()
            message.wait_for(timeout=10_000)
            shown.append(page.evaluate("(window.__shown - window.__clicked) / 1000"))
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
        # Issue 11 asks for one second; single runs under load can exceed it (docs/performance.md, "Error shown
        # after Train"). The median of three holds the promise without
        # letting one slow frame on a shared CI box fail the suite; the bound catches a message that never comes
        # promptly (as when the whole Lab was redrawn after Train, before the controls held still).
        assert sorted(shown)[CYCLES // 2] < 1.0 and max(shown) < 3.0, f"the error took {shown} s to show"

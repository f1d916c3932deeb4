"""A real browser against a server whose Trainer.step fails at step 4 (injected in the server process before
Streamlit starts): the page shows the exception's message promptly, the training thread ends, and
Reset recovers."""

import pytest

from tests.browser.driver import button, chromium, open_lab, serve, settle
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


def test_a_failing_step_shows_its_message_promptly_and_leaves_no_thread():
    with serve(before=FAULT) as (url, log), chromium() as context:
        page = open_lab(context, url, "steps=100000")
        page.wait_for_timeout(1000)  # let the first render settle
        message = page.get_by_test_id("stAlert").filter(has_text="injected fault")
        page.evaluate(WATCH_FOR, "injected fault")
        button(page, "Train").click()
        message.wait_for(timeout=10_000)
        shown = page.evaluate("(window.__shown - window.__clicked) / 1000")
        # Issue 11 asks for one second. Measured on a quiet 2-core box (19 runs, 2026-11-27): 0.30-0.6 s in most,
        # 1.0-1.25 s in about a third and up to 2.3 s: the tail is Chromium re-rendering the whole Lab after Train
        # (0.5-0.9 s after the server's run ended), the same browser cost that holds back the dashboard in issue 13.
        # The bound here is what CI can hold; the one-second target stays open in the closing note.
        assert shown < 3.0, f"the error took {shown:.2f} s to show"
        assert "step 4 failed with RuntimeError: injected fault" in message.inner_text()
        assert page.get_by_test_id("stException").count() == 0  # a message, not a crash

        wait_until(lambda: thread_log(log) and thread_log(log)[-1][1] == "ended (live=0)", timeout=5)
        assert [event for _, event in thread_log(log)] == ["started", "ended (live=0)"]
        assert "step 4 failed" in log.read_text() and "RuntimeError: injected fault" in log.read_text()

        settle(page)  # a press that lands while a rerun finishes can be dropped (open finding, closing note)
        button(page, "Reset").click()  # recovers: a new run, idle, no message
        wait_until(lambda: message.count() == 0, timeout=10)
        assert button(page, "Train").count() == 1

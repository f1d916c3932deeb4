"""A class's flow in a real browser at projector size (1280 × 720): Space trains and pauses, → steps, N opens the
next lesson, none of them while the focus is in a field; presentation mode's lesson menu closes after a choice; no
label of the Lab is cut short, in either mode.
Every step the run takes is held until the test lets it end (driver.held_steps), so what the page shows after each
key does not depend on the machine's speed."""

import pytest

from dashboard.lesson_panel import menu_label
from models.lessons import LESSONS
from tests.browser.driver import (
    button,
    chromium,
    held_steps,
    kept_on_failure,
    lesson_pill,
    open_lab,
    serve,
    settle,
    step_count,
)
from tests.browser.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PROJECTOR = (1280, 720)
# The texts in the Lab's main area that are cut short: Streamlit ends a label that does not fit its button with "…".
CUT_TEXTS = """() => [...document.querySelectorAll('[data-testid=stMain] *')]
  .filter(e => getComputedStyle(e).textOverflow === 'ellipsis' && e.scrollWidth > e.clientWidth && e.innerText.trim())
  .map(e => e.innerText)"""


def _lesson_in_url(page) -> str | None:
    return page.evaluate("new URLSearchParams(location.search).get('lesson')")


def _heading(page, key: str) -> object:
    return page.get_by_role("heading", name=LESSONS[key].title, exact=True)


def test_space_trains_and_pauses_right_steps_n_opens_the_next_lesson_but_not_while_typing(tmp_path):
    with serve(before=held_steps(tmp_path)) as (url, log), chromium(*PROJECTOR) as context:
        page = open_lab(context, url, "lesson=vanishing")
        field = page.get_by_role("spinbutton", name="Recurrent gain (× W_h)")
        field.click()
        for key in ("Space", "n", "ArrowRight"):
            field.press(key)
        page.get_by_role("heading", name="RNN Gradient Lab").click()  # the focus leaves the field
        page.keyboard.press("Space")
        button(page, "Pause").wait_for(timeout=30_000)
        settle(page)
        # Had the Space typed in the field trained, this Space would have paused; had its n fired, lesson 3 would show.
        assert button(page, "Pause").is_visible() and button(page, "Pausing…").count() == 0
        assert _lesson_in_url(page) == "vanishing" and _heading(page, "vanishing").is_visible()

        page.keyboard.press("Space")  # step 1 is held in flight: the run says it is pausing
        button(page, "Pausing…").wait_for(timeout=30_000)
        (tmp_path / "1").touch()
        # Once under full CPU load (s27-1) Resume never came: the server logged the tab's websocket closing 1.3 s
        # after the step ended, and no return. Not seen again in 12 runs beside a busy loop per core.
        with kept_on_failure(log, tmp_path, lab=page):
            button(page, "Resume").wait_for(timeout=30_000)
        assert step_count(page) == 1

        page.keyboard.press("ArrowRight")
        (tmp_path / "2").touch()
        wait_until(lambda: step_count(page) == 2, timeout=30)
        button(page, "Resume").wait_for(timeout=30_000)

        page.keyboard.press("n")
        _heading(page, "relu_alone").wait_for(timeout=30_000)
        wait_until(lambda: _lesson_in_url(page) == "relu_alone", timeout=30)
        button(page, "Train").wait_for(timeout=30_000)  # a lesson is a fresh run
        assert step_count(page) == 0


def test_presentation_modes_lesson_menu_closes_after_a_choice(server):
    url, _ = server
    lstm = LESSONS["lstm"].title
    with chromium(*PROJECTOR) as context:
        page = open_lab(context, url, "lesson=vanishing&presentation=true")
        page.get_by_role("button", name=menu_label(LESSONS["vanishing"])).click()
        lesson_pill(page, lstm).wait_for(timeout=30_000)
        lesson_pill(page, lstm).click()
        page.get_by_role("button", name=menu_label(LESSONS["lstm"])).wait_for(timeout=30_000)  # the new lesson's
        settle(page)
        assert lesson_pill(page, lstm).is_hidden() and _lesson_in_url(page) == "lstm"
        button(page, "Train").click(trial=True)  # nothing covers Train


@pytest.mark.parametrize("mode", ["presentation=true", "presentation=false"])
def test_no_label_is_cut_short_at_projector_size_idle_or_paused(server, mode):
    """The lesson with the longest title, idle and paused (the widest primary label, Resume): at 1280 × 720 the
    sidebar's width left "T… Space" on Train, and presentation mode's menu "Next le…" and the lesson's title cut."""
    url, _ = server
    longest = max(LESSONS.values(), key=lambda lesson: len(lesson.title))
    with chromium(*PROJECTOR) as context:
        page = open_lab(context, url, f"lesson={longest.key}&{mode}")
        settle(page)
        assert page.evaluate(CUT_TEXTS) == []
        button(page, "Train").click()
        button(page, "Pause").click()
        button(page, "Resume").wait_for(timeout=30_000)
        settle(page)
        assert page.evaluate(CUT_TEXTS) == []


def test_a_long_runs_step_is_shown_whole_at_projector_size(server):
    """Step 1000 of a 100 000-step run, paused, sidebar open: as the Step metric's value, "1234 / 100000" was cut to
    "1234 / 100…" in a quarter of the main area; the run's length is in the label now."""
    url, _ = server
    with chromium(*PROJECTOR) as context:
        page = open_lab(context, url, "steps=100000&seq_len=5&hidden_size=8")
        button(page, "Train").click()
        wait_until(lambda: step_count(page) >= 1000, timeout=120)
        button(page, "Pause").click()
        button(page, "Resume").wait_for(timeout=30_000)
        settle(page)
        assert page.evaluate(CUT_TEXTS) == []
        assert page.get_by_test_id("stMetricLabel").get_by_text("Step (of 100000)").is_visible()

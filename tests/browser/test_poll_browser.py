"""Predict, then run, and the room badge, in real pages at projector size (1280 × 720): three students vote, the
presenter's badge counts three votes, Train locks the poll and every student sees the tally and the answer; one page
cannot vote twice; the folded badge keeps the loss and gradient charts' top edges on the first screen, unfolds on
demand with the link and a QR code, and End broadcast asks once before ending. Every wait is on the page's state."""

import re

import pytest

from models.lessons import LESSONS
from tests.browser.driver import broadcast, button, chromium, open_lab, settle
from tests.browser.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PROJECTOR = (1280, 720)
PHONE = (390, 844)


def _badge(page) -> str:
    return page.locator(".st-key-room_badge").inner_text()


def _vote(student, choice: str) -> None:
    student.get_by_test_id("stRadio").get_by_text(choice, exact=True).click()
    student.get_by_text(re.compile(rf"(Your vote is in: |You changed your vote to ){choice}\.")).wait_for(
        timeout=30_000)


def test_three_students_vote_the_presenter_sees_three_votes_and_train_reveals_the_tally(server):
    url, _ = server
    lesson = LESSONS["vanishing"]
    with chromium(*PROJECTOR) as context:
        presenter = open_lab(context, url, "lesson=vanishing&presentation=true")
        code = broadcast(presenter)
        button(presenter, "Ask the class").click()
        button(presenter, "Reveal").wait_for(timeout=30_000)
        students = []
        for _ in range(3):
            student = context.new_page()
            student.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
            student.goto(f"{url}/?watch={code}")
            student.get_by_text(lesson.question).wait_for(timeout=60_000)
            students.append(student)
        _vote(students[0], "stay")
        _vote(students[0], "explode")  # the same page again: a changed vote, not a second one
        _vote(students[1], "vanish")
        _vote(students[2], "vanish")
        wait_until(lambda: "poll open: 3 votes (vanish 2 · stay 0 · explode 1)" in _badge(presenter), timeout=30)
        # On a phone the first chart is less than two screens down, question and all.
        chart = students[2].get_by_test_id("stVegaLiteChart").first
        chart.wait_for(timeout=60_000)
        assert chart.bounding_box()["y"] < 2 * PHONE[1]

        button(presenter, "Train").click()  # Train locks the poll
        for student, mine in zip(students, ("explode", "vanish", "vanish"), strict=True):
            reveal = student.get_by_text("The class predicted: vanish 2 · stay 0 · explode 1.")
            reveal.wait_for(timeout=30_000)
            assert f"You voted {mine}." in reveal.inner_text() and "The run shows: vanish." in reveal.inner_text()
            radios = student.get_by_test_id("stRadio")
            wait_until(lambda radios=radios: radios.count() == 0, timeout=30)  # nothing left to vote with
            assert student.get_by_test_id("stException").count() == 0
        wait_until(lambda: "poll closed: 3 votes" in _badge(presenter), timeout=30)
        assert presenter.get_by_test_id("stException").count() == 0


@pytest.mark.parametrize("query", ["lesson=vanishing&presentation=true", "lesson=vanishing"])
def test_the_folded_badge_keeps_the_charts_on_the_first_screen_and_end_asks_once(server, query):
    url, _ = server
    with chromium(*PROJECTOR) as context:
        page = open_lab(context, url, query)
        code = broadcast(page)
        charts = page.get_by_test_id("stVegaLiteChart")
        wait_until(lambda: charts.count() >= 2, timeout=60)
        page.get_by_text(re.compile(r"\d+ watching")).wait_for(timeout=30_000)
        settle(page)
        big = page.get_by_text(code, exact=True)
        assert big.bounding_box()["height"] >= 30  # the code in large type, to read off the projector
        for chart in (charts.nth(0), charts.nth(1)):  # the loss and the gradient profile
            assert chart.bounding_box()["y"] < PROJECTOR[1], query
        link = page.get_by_test_id("stCode").filter(has_text="?watch=")
        assert not link.is_visible()  # folded by default

        page.get_by_role("button", name=re.compile("Room")).click()  # unfolded on demand
        link.wait_for(timeout=30_000)
        assert link.inner_text().strip().endswith(f"?watch={code}")
        qr = page.get_by_test_id("stImage").locator("img")
        wait_until(lambda: qr.evaluate("img => img.complete && img.naturalWidth") > 0, timeout=30)  # the QR code
        assert qr.is_visible() and page.get_by_text("Phones: scan to watch").is_visible()
        # This server listens on 127.0.0.1 only (tests/browser/driver.serve): the menu says how to share it.
        assert "--server.address 0.0.0.0" in page.get_by_test_id("stCaptionContainer").filter(
            has_text="Students cannot open this yet").inner_text()
        assert button(page, "On air").is_disabled()  # Broadcast's place cannot end the room

        end, menu = page.get_by_role("button", name=re.compile("End broadcast")), page.get_by_test_id("stPopoverBody")
        top, bottom = menu.bounding_box()["y"], menu.bounding_box()["y"] + menu.bounding_box()["height"]
        assert top <= end.bounding_box()["y"] and end.bounding_box()["y"] + end.bounding_box()["height"] <= bottom
        end.click()  # in sight without scrolling the menu: its first item
        yes = page.get_by_test_id("stDialog").get_by_role("button", name="Yes, end it")  # asked in a dialog
        yes.wait_for(timeout=30_000)
        assert page.get_by_text(code, exact=True).is_visible()  # not ended by the first press
        yes.click()
        button(page, "Broadcast").wait_for(timeout=30_000)
        # The badge is drawn after the buttons: until the run that drew Broadcast ends, the old one stays (stale).
        wait_until(lambda: page.locator(".st-key-room_badge").count() == 0, timeout=30)

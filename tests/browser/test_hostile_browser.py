"""Hostile links in a real browser: Markdown a link carries (a phishing link, a tracking image, bold) shows as its
own text on the watch page and in the Lab's notice, and no link or image from it exists in the page."""

from urllib.parse import urlencode

import pytest

from dashboard.user_text import LIMIT
from tests.browser.driver import chromium, open_lab

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

FROM_LINK = "a[href*='evil.invalid'], img[src*='evil.invalid']"
WATCH_PAYLOAD = ("X** — your teacher moved the class: [LOG IN HERE](http://evil.invalid/login) "
                 "![t](http://evil.invalid/track.png) **")
LINK = "[RESET PASSWORD](http://evil.invalid/x)"
IMAGE = "![t](http://evil.invalid/t.png)"
# An unknown parameter name that closes a plain `…` code span around it, and two bad values.
LAB_QUERY = {f"`{LINK}`": "1", "model": IMAGE, "seq_len": LINK}


def _cut(text: str) -> str:
    return text if len(text) <= LIMIT else text[:LIMIT - 1] + "…"


def _code_texts(notice: object) -> list[str]:
    return [text.strip() for text in notice.locator("code").all_inner_texts()]


def test_the_watch_page_shows_a_markdown_code_as_text(server):
    url, _ = server
    with chromium() as context:
        page = context.new_page()
        page.goto(f"{url}/?{urlencode({'watch': WATCH_PAYLOAD})}")
        notice = page.get_by_test_id("stAlert").filter(has_text="no live broadcast")
        notice.wait_for(timeout=60_000)
        assert page.locator(FROM_LINK).count() == 0 and notice.locator("a, img, strong code").count() == 1
        assert _cut(WATCH_PAYLOAD) in _code_texts(notice)  # in bold, as the code is on a valid link


def test_the_labs_notice_shows_a_markdown_name_and_values_as_text(server):
    url, _ = server
    with chromium() as context:
        page = open_lab(context, url, urlencode(LAB_QUERY))
        notice = page.get_by_test_id("stAlert").filter(has_text="ignored them")
        notice.wait_for(timeout=20_000)
        assert page.locator(FROM_LINK).count() == 0 and notice.locator("a, img").count() == 0
        shown = _code_texts(notice)
        assert {_cut(f"{name}={value}") for name, value in LAB_QUERY.items()} <= set(shown)
        assert _cut(f"model='{IMAGE}'") in shown  # RunConfig's message quotes the value literally too
        assert "not a setting of the lab" in notice.inner_text()

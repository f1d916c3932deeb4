"""BPTT by hand on a projector (issue 20.8): each "Next term" brings its term into view, at 1280 × 720 and on a
phone (there, once the page is scrolled to the button: the controls stack above the terms)."""

import re

import pytest

from tests.browser.driver import chromium
from tests.browser.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _in_view(element: object, height: int) -> bool:
    box = element.bounding_box()
    return box is not None and 0 <= box["y"] and box["y"] + box["height"] <= height


@pytest.mark.parametrize("size", [(1280, 720), (390, 844)])
def test_next_term_shows_the_new_term_without_scrolling_the_page(server, size):
    url, _ = server
    with chromium(*size) as context:
        page = context.new_page()
        page.goto(f"{url}/bptt")
        terms = page.locator(".st-key-bptt_terms").get_by_test_id("stMarkdownContainer")
        terms.first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Next term ▶").evaluate("b => b.scrollIntoView({block: 'start'})")
        for shown in range(2, 14):
            page.get_by_role("button", name="Next term ▶").click()
            newest = terms.filter(has_text=re.compile(rf"^\s*{shown}\.\s"))  # "**13.** Through each tanh: ..."
            newest.first.wait_for(timeout=30_000)
            wait_until(lambda newest=newest: _in_view(newest.first, size[1]), timeout=10)  # the box follows it
            assert _in_view(page.get_by_role("button", name="Next term ▶"), size[1])  # and the button stays in view

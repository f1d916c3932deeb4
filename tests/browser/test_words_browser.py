"""The sentence lesson in a real browser at 1280 × 720: a sentence's words, shaded by a gradient that changes while
training, the cue first, and the LSTM's forget-gate strip; nothing cut off at the right edge."""

import pytest

from models.tasks import CUES, Sentence
from tests.browser.driver import button, chromium, open_lab, step_count
from tests.browser.polling import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

WIDTH, HEIGHT = 1280, 720
GRADIENT, FORGET = "words_example_gradient_strip", "words_example_forget_strip"  # the strips' containers
# The words and the cell fills of a strip, read from its SVG (Vega's marks; the legend's text is not a mark).
READ = """key => {
  const root = document.querySelector(`.st-key-${key}`);
  if (!root) return null;
  return {words: [...root.querySelectorAll('g.mark-text.role-mark text')].map(t => t.textContent),
          fills: [...root.querySelectorAll('g.mark-rect.role-mark path')].map(p => p.getAttribute('fill'))};
}"""


# The bottom of a strip's container and of its colour legend (title, bar, end labels): Streamlit cuts what is below.
BOTTOMS = """key => {
  const root = document.querySelector(`.st-key-${key}`);
  return [root.getBoundingClientRect().bottom, root.querySelector('g.role-legend').getBoundingClientRect().bottom];
}"""


def _strip(page: object, key: str) -> dict | None:
    return page.evaluate(READ, key)


def _fills(page: object) -> list[str]:
    return _strip(page, GRADIENT)["fills"]


def _drawn(page: object, key: str, words: int) -> bool:
    strip = _strip(page, key)
    return strip is not None and len(strip["words"]) == len(strip["fills"]) == words


def test_the_sentence_lesson_shades_its_words_live(server, tmp_path):
    shots = tmp_path
    url, _ = server
    with chromium(WIDTH, HEIGHT) as context:
        page = open_lab(context, url, "lesson=sentence")
        button(page, "Train").click()
        wait_until(lambda: _drawn(page, GRADIENT, 50) and _drawn(page, FORGET, 50),
                   timeout=60)
        first, step = _strip(page, GRADIENT), step_count(page)
        assert first["words"][0] in CUES and set(first["words"]) <= set(Sentence.vocab)
        # Each strip's Vega view updates on its own: wait for a moment both show the same refresh's sentence.
        wait_until(lambda: _strip(page, FORGET)["words"] == _strip(page, GRADIENT)["words"], timeout=60)
        # Shading follows training: a later refresh draws other fills (a later step's norms, another batch).
        wait_until(lambda: step_count(page) > step and _fills(page) != first["fills"], timeout=60)
        for key in (GRADIENT, FORGET):
            box = page.locator(f".st-key-{key}").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, (key, box)  # nothing cut off at the right
            strip_bottom, legend_bottom = page.evaluate(BOTTOMS, key)
            assert legend_bottom <= strip_bottom, (key, legend_bottom, strip_bottom)  # nor below
        page.locator(f".st-key-{GRADIENT}").scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "words.png"))

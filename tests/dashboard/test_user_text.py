"""dashboard.user_text.literal: whatever a user sent shows as exactly those characters, as one code span, which
no Markdown renderer parses (no link, image or formatting), cut to LIMIT characters."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.user_text import EMPTY, LIMIT, literal
from tests.dashboard.markdown_text import code_span, outside_code

WATCH_PAYLOAD = ("X** — your teacher moved the class: [LOG IN HERE](http://evil.invalid/login) "
                 "![t](http://evil.invalid/track.png) **")
COUNTED = re.compile(r"(.*?)(?: (\([\d,]+ characters\)))?", re.DOTALL)  # a code span, then a cut text's length
MARKDOWN = st.text(alphabet=st.sampled_from("`* _[]()!<>:/\\#-|~$\n\r\t\u202e\u2028 ax"), min_size=1, max_size=LIMIT)


def _shown(markdown: str) -> tuple[str, str]:
    """(what a literal's code span shows, the plain text after it)."""
    span, length = COUNTED.fullmatch(markdown).groups()
    assert not outside_code(span)  # nothing of the text is left for the Markdown parser
    return code_span(span), length or ""


def test_the_watch_payload_is_one_code_span_of_its_own_text():
    assert _shown(literal(WATCH_PAYLOAD[:LIMIT])) == (WATCH_PAYLOAD[:LIMIT], "")
    assert _shown(literal(WATCH_PAYLOAD)) == (WATCH_PAYLOAD[:LIMIT - 1] + "…", f"({len(WATCH_PAYLOAD)} characters)")


def test_a_long_text_is_cut_to_a_prefix_and_its_length():
    assert literal("9" * 5000) == f"`{'9' * (LIMIT - 1)}…` (5,000 characters)"
    assert literal("x" * LIMIT) == f"`{'x' * LIMIT}`"  # exactly LIMIT: shown whole, no count


def test_backticks_spaces_and_line_breaks():
    assert literal("a`b") == "``a`b``" and code_span(literal("`a``")) == "`a``"
    assert code_span(literal(" a ")) == " a " and code_span(literal("   ")) == "   "
    assert code_span(literal("a\n\n[x](http://evil.invalid)")) == "a  [x](http://evil.invalid)"
    assert literal("") == EMPTY


@settings(max_examples=500, deadline=None)
@given(st.one_of(MARKDOWN, st.text(min_size=1), st.text(min_size=LIMIT - 1, max_size=3 * LIMIT)))
def test_any_text_shows_as_its_own_characters_in_one_code_span(text):
    shown, length = _shown(literal(text))
    assert len(shown) <= LIMIT and length == ("" if len(text) <= LIMIT else f"({len(text):,} characters)")
    cut = text if len(text) <= LIMIT else text[:LIMIT - 1] + "…"
    assert len(shown) == len(cut) and all(a == b or b == " " for a, b in zip(cut, shown, strict=True))


@given(st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=LIMIT))
def test_printable_text_is_shown_unchanged(text):
    assert code_span(literal(text)) == text

"""How CommonMark reads code spans, for tests of text a user sent: what one code span shows, and what a notice
leaves outside its code spans (the part a renderer parses as Markdown)."""

import re
from collections.abc import Iterator

RUN = re.compile("`+")


def code_span(markdown: str) -> str:
    """The characters `markdown` shows when it is exactly one code span (CommonMark 0.31 §6.1); else
    AssertionError."""
    fence = RUN.match(markdown)
    assert fence, markdown
    n = len(fence.group())
    content = markdown[n:-n]
    assert markdown.endswith(fence.group()) and len(markdown) > 2 * n, markdown
    assert content[:1] != "`" and content[-1:] != "`", markdown  # else the fence would be a longer run
    assert n not in {len(run) for run in RUN.findall(content)}, markdown  # a run as long would close it early
    assert "\n" not in content and "\r" not in content, markdown  # a blank line would end the paragraph
    if content.startswith(" ") and content.endswith(" ") and content.strip(" "):
        content = content[1:-1]
    return content


def _pieces(markdown: str) -> Iterator[tuple[bool, str]]:
    """(is a code span, its text as written) in order: a backtick run opens a span when a run of the same length
    follows (the CommonMark rule); an unmatched run is literal text."""
    at = 0
    while (opening := RUN.search(markdown, at)) is not None:
        n = len(opening.group())
        closing = next((r for r in RUN.finditer(markdown, opening.end()) if len(r.group()) == n), None)
        if closing is None:
            yield False, markdown[at:opening.end()]
            at = opening.end()
        else:
            yield False, markdown[at:opening.start()]
            yield True, markdown[opening.start():closing.end()]
            at = closing.end()
    yield False, markdown[at:]


def outside_code(markdown: str) -> str:
    """`markdown` without its code spans: what a renderer parses as Markdown."""
    return "".join(text for code, text in _pieces(markdown) if not code)


def code_spans(markdown: str) -> list[str]:
    """What each code span of `markdown` shows."""
    return [code_span(text) for code, text in _pieces(markdown) if code]

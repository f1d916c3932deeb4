"""How CommonMark reads code spans, for tests of text a user sent: what one code span shows, and what a notice
leaves outside its code spans (the part a renderer parses as Markdown)."""

import re

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


def outside_code(markdown: str) -> str:
    """`markdown` without its code spans: a backtick run opens one when a run of the same length follows (the
    CommonMark rule); an unmatched run is literal text."""
    out, at = [], 0
    while (opening := RUN.search(markdown, at)) is not None:
        out.append(markdown[at:opening.start()])
        n = len(opening.group())
        closing = next((r for r in RUN.finditer(markdown, opening.end()) if len(r.group()) == n), None)
        if closing is None:
            out.append(opening.group())
            at = opening.end()
        else:
            at = closing.end()
    return "".join(out) + markdown[at:]

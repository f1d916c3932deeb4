"""Text a user sent (a link's values and parameter names, a room code), for a notice: shown as typed, never as
Markdown.

Every Streamlit notice renders its body as GitHub-flavoured Markdown, where a backslash before each special
character is not enough: remark-gfm turns a bare `http://…`, `www.…` or `name@host.tld` in any text into a link
after the escapes are resolved. The one construct whose content is never parsed is a code span, so user text
goes into one (CommonMark 0.31, "Code spans"): a fence of more backticks than any run inside; a space inside
the fence when the text starts or ends with a backtick or a space (the renderer strips one on each side
unless the text is all spaces); no line breaks, since a blank line would end the span and leave the rest as
Markdown.
"""

from __future__ import annotations

import re
import unicodedata

LIMIT = 60  # characters of user text a notice shows; a link can carry megabytes
EMPTY = "(empty)"
# Line breaks would end the span; tabs and NUL show as nothing; format characters (a right-to-left override)
# would make the text read as something other than what it is.
HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def literal(text: str, limit: int = LIMIT) -> str:
    """`text` as Markdown that shows exactly its characters as code; a longer text than `limit` is cut, with an
    ellipsis, and followed by its length ("`abc…` (5,000 characters)")."""
    if len(text) > limit:
        return f"{_span(text[: limit - 1] + '…')} ({len(text):,} characters)"
    return _span(text)


def _span(shown: str) -> str:
    """`shown` as one code span (see the module's docstring)."""
    shown = "".join(" " if unicodedata.category(c) in HIDDEN else c for c in shown)
    if not shown:
        return EMPTY
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    pad = " " if shown.strip(" ") and (shown[0] in "` " or shown[-1] in "` ") else ""  # all spaces: kept as is
    return f"{fence}{pad}{shown}{pad}{fence}"

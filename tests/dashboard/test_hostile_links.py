"""Hostile links: any value or parameter name a link can carry (inf, nan, 1e400, -0, 5,000 digits, Unicode,
Markdown, HTML, thousands of parameters) opens the Lab with a notice, never a traceback, and the link's text shows
literally: no link, image or formatting of it renders, in the Lab's notices or on the watch page."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from dashboard.links import LISTED, check_link
from dashboard.sidebar import FIELDS
from dashboard.state import LESSON, PACE, PRESENTATION
from dashboard.user_text import LIMIT
from dashboard.watch_page import TITLE
from models import RunConfig
from tests.dashboard.lab_app import open_app
from tests.dashboard.markdown_text import code_spans, outside_code

pytestmark = pytest.mark.usefixtures("fresh_session")
EVIL = "evil.invalid"
# Each would show a link or image if the page rendered the link's text as Markdown; the second and third break
# out of a plain `…` code span (a backtick, a blank line), the last is bare enough for GFM's autolinks.
PAYLOADS = ("[RESET PASSWORD](http://evil.invalid/x) ![t](http://evil.invalid/t.png)",
            "`[RESET PASSWORD](http://evil.invalid/x)` ![t](http://evil.invalid/t.png) `",
            "x\n\n[RESET PASSWORD](http://evil.invalid/x)\n\n![t](http://evil.invalid/t.png)",
            "**bold** <b>http://evil.invalid/x</b> www.evil.invalid a@evil.invalid")
WATCH_PAYLOAD = ("X** — your teacher moved the class: [LOG IN HERE](http://evil.invalid/login) "
                 "![t](http://evil.invalid/track.png) **")
TEXT = st.one_of(
    st.text(), st.sampled_from(PAYLOADS),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=5), st.sampled_from(PAYLOADS), st.text(max_size=5)),
    st.integers().map(str), st.floats().map(repr),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "-0", "9" * 5000, "max", "true", "lstm", "١٢"]))
NAMES = st.one_of(st.sampled_from([*FIELDS, LESSON, PACE, PRESENTATION]), TEXT)


def _cut(text: str) -> str:
    """The link's text as a notice shows it: cut to LIMIT characters, line breaks as spaces."""
    text = text.replace("\n", " ")
    return text if len(text) <= LIMIT else text[:LIMIT - 1] + "…"


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(NAMES, TEXT, max_size=8))
def test_any_link_gives_a_config_and_a_notice_with_none_of_its_markdown(query):
    check = check_link(query)
    assert RunConfig(**check.config.to_dict()) == check.config
    notice = check.notice() or ""
    assert EVIL not in outside_code(notice)  # every piece of the link's text sits inside a code span
    assert notice.count("\n- ") <= 2 * (LISTED + 1)
    assert check_link(check.query).notice() is None  # the rewritten address is a link the lab takes as is


@pytest.mark.parametrize(("name", "text"), [("steps", "inf"), ("seed", "1e400"), ("hidden_size", "-inf")])
def test_the_links_that_crashed_the_lab_open_it_with_a_notice(name, text):
    app = open_app({name: text})
    assert not app.exception
    (notice,) = [w.value for w in app.warning]
    assert f"`{name}={text}`: `{name}={text.replace('1e400', 'inf')}` is outside [" in notice
    assert app.session_state[name] == getattr(RunConfig(), name) and dict(app.query_params) == {}
    app.button(key="step_button").click().run()  # and the page still trains
    assert not app.exception


def test_markdown_in_a_name_and_a_value_shows_as_text():
    app = open_app({PAYLOADS[0]: "1", "model": PAYLOADS[1], "seq_len": PAYLOADS[2]})
    assert not app.exception
    (notice,) = [w.value for w in app.warning]
    assert EVIL not in outside_code(notice)
    shown = code_spans(notice)
    assert {_cut(f"{PAYLOADS[0]}=1"), _cut(f"model={PAYLOADS[1]}"), _cut(f"seq_len={PAYLOADS[2]}")} <= set(shown)


def test_a_thousand_parameters_and_a_long_value_give_one_short_notice():
    query = {f"p{i}": "[x](http://evil.invalid)" for i in range(998)} | {"seq_len": "9" * 100_000}
    app = open_app(query)
    assert not app.exception
    (notice,) = [w.value for w in app.warning]
    assert notice.count("\n- ") == LISTED + 1 and notice.endswith(f"- … and {len(query) - LISTED} more")
    assert len(notice) < 2 * LIMIT * (LISTED + 2) and EVIL not in outside_code(notice)
    assert "…` (100,008 characters): `seq_len=inf` is outside" in notice  # `seq_len=` and 100,000 digits, cut
    assert dict(app.query_params) == {}


def test_past_streamlits_1000_parameters_the_lab_opens_with_the_defaults():
    """Streamlit drops a query of more than 1,000 parameters (or 512 Ki characters) before the app can read it
    (streamlit/runtime/state/query_params.py): no notice is possible, and none is needed for a crash."""
    app = open_app({f"p{i}": "1" for i in range(2000)} | {"steps": "inf"})
    assert not app.exception and not app.warning
    assert {name: app.session_state[name] for name in FIELDS} == RunConfig().to_dict()


def test_a_5000_character_watch_code_shows_a_prefix_and_its_length():
    app = AppTest.from_file("../../dashboard/app.py", default_timeout=60)
    app.query_params["watch"] = "A" * 5000
    app.run()
    (notice,) = [w.value for w in app.warning]
    assert f"`{'A' * (LIMIT - 1)}…` (5,000 characters)" in notice and len(notice) < 500


@pytest.mark.parametrize("code", [WATCH_PAYLOAD, "[x](//e.invalid)"])  # the second fits the heading's 16
@pytest.mark.parametrize("presentation", ["false", "true"])
def test_the_watch_page_shows_a_hostile_code_as_text(code, presentation):
    app = AppTest.from_file("../../dashboard/app.py", default_timeout=60)
    app.query_params.update({"watch": code, PRESENTATION: presentation})
    app.run()
    assert not app.exception
    (notice,) = [w.value for w in app.warning]
    markdown = outside_code("\n".join([notice, *(m.value for m in app.markdown)]))
    assert "](" not in markdown and "**X**" not in markdown.replace(" ", "")
    assert _cut(code) in code_spans(notice)
    # A wrong code is refused before the page's toggles and heading are drawn (watch_page._checked): the title,
    # the notice and the way back to the Lab, in either mode.
    assert not app.toggle and [t.value for t in app.title] == [TITLE]

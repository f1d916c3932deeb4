"""One click on a lesson loads its whole preset into the sidebar's session state."""

from streamlit.testing.v1 import AppTest

from dashboard.sidebar import LR_GRID
from models import RunConfig
from models.lessons import LESSONS


def _panel():
    import streamlit as st

    from dashboard.lesson_panel import lesson_card, lesson_picker, pop_loaded_lesson

    lesson = lesson_picker()
    if lesson is not None:
        lesson_card(lesson)
    loaded = pop_loaded_lesson()
    st.session_state["loads"] = st.session_state.get("loads", []) + ([loaded.key] if loaded else [])
    st.write({"model": st.session_state.get("model"), "seq_len": st.session_state.get("seq_len")})


def test_picking_a_lesson_applies_its_config_and_shows_its_card():
    app = AppTest.from_function(_panel, default_timeout=30).run()
    assert not app.exception and not app.markdown
    app.button_group(key="lesson").set_value("lstm").run()
    config = LESSONS["lstm"].config
    for name, value in config.to_dict().items():
        assert app.session_state[name] == value, name
    assert LESSONS["lstm"].title in app.markdown[0].value
    assert any("Claim holds on 10 of seeds 0–9" in m.value for m in app.markdown)  # the badge
    assert LESSONS["lstm"].claim_text in app.caption[0].value
    assert "python -m models.lessons lstm --seeds 0-9" in app.caption[0].value
    app.run()  # a rerun without a click does not count as loading the lesson again
    assert app.session_state["loads"] == ["lstm"]


def test_every_lesson_lr_is_on_the_sidebar_grid():
    # apply_config snaps lr to the slider's grid: a lesson off the grid would silently run another lr.
    for lesson in LESSONS.values():
        assert lesson.config.lr in LR_GRID, lesson.key


def _panel_and_sidebar():
    import streamlit as st

    from dashboard.lesson_panel import lesson_picker
    from dashboard.sidebar import sidebar

    lesson_picker()
    st.session_state["shown_config"] = sidebar().to_dict()


def test_one_click_sets_the_real_sidebar_and_a_url_that_reproduces_the_lesson():
    app = AppTest.from_function(_panel_and_sidebar, default_timeout=30).run()
    for key, lesson in LESSONS.items():
        app.button_group(key="lesson").set_value(key).run()
        assert not app.exception
        assert app.session_state["shown_config"] == lesson.config.to_dict(), key
        assert RunConfig.from_strings(dict(app.query_params)) == lesson.config, key


def test_a_shared_link_opens_with_the_lesson_card():
    # The browser writes a clicked pill into the URL by its label; here, the link's way back in.
    shared = AppTest.from_function(_panel, default_timeout=30)
    shared.query_params["lesson"] = LESSONS["vanishing"].title
    shared.run()
    assert not shared.exception and LESSONS["vanishing"].title in shared.markdown[0].value
    assert shared.session_state["loads"] == []  # the link carries the config itself; nothing is re-applied

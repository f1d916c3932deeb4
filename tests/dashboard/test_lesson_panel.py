"""One click on a lesson loads its whole preset into the sidebar's session state."""

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.lesson_panel import diverges_by, modifications
from dashboard.live_view import LONG_RUN_S, duration, per_second
from dashboard.sidebar import LR_GRID, config_query
from dashboard.state import LESSON
from models import RunConfig
from models.cost import step_seconds
from models.lessons import LESSONS, run_lesson
from tests.dashboard.lab_app import open_app


def _panel():
    import streamlit as st

    from dashboard.lesson_panel import lesson_card, lesson_picker, pop_loaded_lesson
    from dashboard.presses import act_on_presses
    from dashboard.state import read_config

    act_on_presses()  # Next lesson acts here, as on the Lab (dashboard/presses.py)
    lesson = lesson_picker()
    if lesson is not None:
        lesson_card(lesson, read_config())
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
    assert any("Claim holds on 30 of 30 seeds; the control on 0 of 30" in m.value for m in app.markdown)  # the badge
    assert LESSONS["lstm"].claim_text in app.caption[0].value
    assert "python -m models.lessons lstm --seeds 0-29" in app.caption[0].value
    app.run()  # a rerun without a click does not count as loading the lesson again
    assert app.session_state["loads"] == ["lstm"]


def test_next_lesson_loads_each_lesson_in_turn_and_the_last_has_none():
    app = AppTest.from_function(_panel, default_timeout=30).run()
    app.button_group(key="lesson").set_value("worked_example").run()
    for key in list(LESSONS)[1:]:
        app.button(key="next_lesson").click().run()
        assert app.session_state[LESSON] == key and app.session_state["loads"][-1] == key
        assert app.session_state["seq_len"] == LESSONS[key].config.seq_len and app.query_params[LESSON] == key
    assert not [b for b in app.button if b.key == "next_lesson"]  # after the last lesson


def test_presentation_mode_has_next_lesson_beside_the_menu_not_in_the_folded_card():
    # The menu's closing on a choice needs a browser (AppTest sends the popover as closed on every run):
    # tests/browser/test_flow_browser.py.
    app = open_app({"presentation": "true", "lesson": "vanishing"})
    assert [b.key for b in app.button if b.key == "next_lesson"] == ["next_lesson"]
    app.button(key="next_lesson").click().run()
    assert app.session_state[LESSON] == "relu_alone" and app.expander[0].label.startswith(
        f"**{LESSONS['relu_alone'].title}**")


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
        assert app.query_params[LESSON] == key, key  # the key, not the pill's label
        assert RunConfig.from_strings({k: v for k, v in app.query_params.items() if k != LESSON}) == lesson.config, key


@pytest.mark.parametrize("name", ["2", "vanishing", LESSONS["vanishing"].title])  # an old link: the full title
def test_a_shared_link_opens_with_the_lesson_card(name):
    shared = AppTest.from_function(_panel, default_timeout=30)
    shared.query_params[LESSON] = name
    shared.run()
    assert not shared.exception and LESSONS["vanishing"].title in shared.markdown[0].value
    assert shared.session_state["loads"] == []  # the link carries the config itself; nothing is re-applied


# --- lessons that diverge end in seconds: no promise of minutes ----------------------------------------------
def test_a_lesson_whose_claim_says_it_diverges_ends_by_the_claims_bound_on_any_seed_and_only_as_its_preset():
    capped = {key: diverges_by(lesson, lesson.config) for key, lesson in LESSONS.items()}
    # Lessons 7 and 8 say "the run diverges before step N" (checked on every seed the card names); no other does.
    assert {key for key, step in capped.items() if step is not None} == {"exploding", "exploding_lr"}
    for key in ("exploding", "exploding_lr"):
        lesson = LESSONS[key]
        (bound,) = [c.below for c in lesson.claim.checks if c.says and "diverges before step" in c.says]
        assert capped[key] == bound - 1 and diverges_by(lesson, lesson.config.replace(seed=7)) == bound - 1
        assert diverges_by(lesson, lesson.control) is None  # the control is not the claim's run
        assert diverges_by(lesson, lesson.config.replace(steps=lesson.config.steps + 1)) is None


@pytest.mark.usefixtures("fresh_session")
@pytest.mark.parametrize("key", ["exploding", "exploding_lr"])
def test_lessons_7_and_8_promise_seconds_until_they_diverge_not_minutes(key):
    lesson = LESSONS[key]
    app = open_app({"lesson": key})
    assert not app.exception
    last = diverges_by(lesson, lesson.config)
    per_step = max(step_seconds(lesson.config), 1 / lesson.pace)
    assert lesson.config.steps * per_step > LONG_RUN_S  # steps × pace alone would promise minutes
    assert not [w for w in app.warning if "This run takes" in w.value]
    text = app.get("progress")[0].proto.text
    assert text.endswith(f"~{duration(last * per_step)} for the whole run at {per_second(lesson.pace)} "
                         f"(this lesson diverges by step {last})")
    # Change the preset in one setting and the claim no longer speaks for the run: minutes again.
    changed = lesson.config.replace(steps=lesson.config.steps - 1)
    other = open_app({"lesson": key, "pace": f"{lesson.pace:g}", **config_query(changed)})
    assert [w for w in other.warning if w.value.startswith(f"**This run takes about "
                                                           f"{duration(changed.steps * per_step)}**")]


# --- "Run the control" ----------------------------------------------------------------------------------
def _runs_drawn(app: AppTest) -> dict[str, pd.DataFrame]:
    """The datasets of the charts that overlay runs (a `run` column), by dataset name."""
    frames = {d.name: pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas()
              for chart in app.get("vega_lite_chart") for d in chart.proto.datasets}
    return {name: frame for name, frame in frames.items() if "run" in frame.columns}


@pytest.mark.usefixtures("fresh_session")
def test_run_the_control_overlays_the_lesson_and_its_control_trained_at_the_pages_seed():
    app = open_app({"lesson": "exploding", "seed": "3"})
    assert not _runs_drawn(app)
    app.button(key="run_control").click().run(timeout=120)
    assert not app.exception
    lesson = LESSONS["exploding"]
    expected = {False: run_lesson(lesson, 3), True: run_lesson(lesson, 3, control=True)}
    loss = next(frame for frame in _runs_drawn(app).values() if "loss" in frame.columns)
    labels = list(dict.fromkeys(loss["run"]))
    assert labels == ["lesson: gain=2.2", "control: gain=1"]  # what the control changes, named by its role
    for label, control in zip(labels, (False, True), strict=True):
        drawn = loss[loss["run"] == label]
        records = expected[control]
        assert drawn["step"].tolist() == [r.step for r in records]
        np.testing.assert_array_equal(drawn["loss"].to_numpy(), [r.loss for r in records])
    # The lesson's run has one finite loss (step 1): drawn as a dot, which a line alone would not draw.
    overlay, _ = [c for c in app.get("vega_lite_chart") if '"run"' in c.proto.spec]  # loss, then profile
    assert '"filter": "datum.n == 1 && isFinite(datum[\'loss\'])"' in overlay.proto.spec
    caption = next(c.value for c in app.caption if c.value.startswith("lesson: gain=2.2: "))
    assert caption.startswith(f"lesson: gain=2.2: diverged at step {len(expected[False])} · control: gain=1: "
                              f"done at step {lesson.control.steps}")


@pytest.mark.usefixtures("fresh_session")
def test_a_card_off_its_preset_says_what_changed_hides_its_claim_and_restore_puts_the_preset_back():
    lesson = LESSONS["vanishing"]
    changed = lesson.config.replace(hidden_size=256, lr=0.5)
    app = open_app({"lesson": lesson.key, **config_query(changed)})
    assert not app.exception
    (modified,) = [w.value for w in app.warning if w.value.startswith("modified:")]
    assert modified.startswith("modified: lr 0.001 → 0.5, hidden_size 16 → 256. ")
    assert not [m for m in app.markdown if "Claim holds" in m.value]  # the seed badge speaks for the preset only
    assert lesson.watch in " ".join(m.value for m in app.markdown)  # the lesson's text stays

    app.button(key="restore_lesson").click().run()
    assert not app.exception
    assert not [w for w in app.warning if w.value.startswith("modified:")]
    assert any(f"Claim {lesson.robustness}" in m.value for m in app.markdown)  # the badge is back
    assert {name: app.session_state[name] for name in lesson.config.to_dict()} == lesson.config.to_dict()
    assert RunConfig.from_strings({k: v for k, v in app.query_params.items() if k in lesson.config.to_dict()}) \
        == lesson.config


def test_the_seed_is_no_modification_and_settings_that_do_not_apply_are_not_listed():
    lesson = LESSONS["vanishing"]  # an RNN: no forget gate
    assert modifications(lesson, lesson.config.replace(seed=7, forget_bias=3.0)) == []
    assert modifications(lesson, lesson.config.replace(model="lstm")) == ["model rnn → lstm"]


def _log_toggle():
    import streamlit as st

    from dashboard.live_view import log_scale_toggle, set_log_default

    if "lesson_default" in st.session_state:  # a lesson loaded in this run, as lab_page does
        set_log_default("log_loss", st.session_state.pop("lesson_default"))
    st.session_state["log_y"] = log_scale_toggle(st, "log_loss")


def test_the_log_scale_toggle_is_automatic_until_flipped_and_a_lesson_sets_its_default():
    app = AppTest.from_function(_log_toggle, default_timeout=30).run()
    assert app.session_state["log_y"] is None  # untouched: charts.loss_log decides from the loss
    app.toggle(key="log_loss").set_value(True).run()
    assert app.session_state["log_y"] is True
    app.toggle(key="log_loss").set_value(False).run()
    assert app.session_state["log_y"] is False  # flipped off: linear, whatever the loss spans
    app.session_state["lesson_default"] = True
    app.run()
    assert app.session_state["log_y"] is True and app.toggle(key="log_loss").value is True
    app.session_state["lesson_default"] = False
    app.run()
    assert app.session_state["log_y"] is None  # a new lesson forgets the earlier choice

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
from models import RunConfig
from models.cost import step_seconds
from models.lessons import LESSONS, run_lesson
from tests.dashboard.lab_app import open_app


def _panel():
    import streamlit as st

    from dashboard.lesson_panel import lesson_card, lesson_picker, pop_loaded_lesson
    from dashboard.state import read_config

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
    (overlay,) = [c for c in app.get("vega_lite_chart") if '"run"' in c.proto.spec]
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

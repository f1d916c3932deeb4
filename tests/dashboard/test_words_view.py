"""The words view through streamlit.testing: a sentence of the batch as words, shaded by the engine's own numbers."""

import io

import numpy as np
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.lab_page import WORDS_KEY
from dashboard.words_view import STRIPS, strip_frame, strip_spec
from models import RunConfig, Trainer
from models.tasks import Sentence
from tests.dashboard.lab_app import open_app

pytestmark = pytest.mark.usefixtures("fresh_session")

LINK = {"task": "sentence", "model": "lstm", "seq_len": "14", "hidden_size": "8", "batch_size": "16"}
CONFIG = RunConfig(task="sentence", model="lstm", seq_len=14, hidden_size=8, batch_size=16)


def _strips(app: AppTest) -> list:
    """The "words" dataset of every words strip on the page, in page order (gradient first)."""
    return [pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas()
            for chart in app.get("vega_lite_chart") for d in chart.proto.datasets if d.name == "words"]


def _steps(app: AppTest, n: int) -> AppTest:
    for _ in range(n):
        app.button(key="step_button").click().run()
    assert not app.exception
    return app


def test_the_words_view_prints_a_sentence_shaded_by_the_snapshots_per_timestep_norms():
    app = _steps(open_app(LINK), 2)
    trainer = Trainer(CONFIG)
    record = [trainer.step() for _ in range(2)][-1]
    gradient, forget = _strips(app)
    for index in (0, 3):  # the picker's first sentence, then the fourth
        if index:
            app.selectbox(key=WORDS_KEY).select(index).run()
            gradient, forget = _strips(app)
        words = [Sentence.vocab[i] for i in record.examples[index]]
        assert gradient["word"].tolist() == forget["word"].tolist() == words
        assert gradient["t"].tolist() == list(range(1, 15))
        np.testing.assert_array_equal(gradient["value"].to_numpy(), record.hidden.astype(np.float64))
        np.testing.assert_array_equal(forget["value"].to_numpy(), record.gates[0].astype(np.float64))
        assert gradient["cue"].tolist() == [True] + [False] * 13
    caption = next(c.value for c in app.caption if "is the cue" in c.value)
    assert "‖∂L/∂h_t‖" in caption and "over the whole batch" in caption and "forget gate" in caption


def test_an_rnn_shows_one_strip_and_other_tasks_none():
    app = _steps(open_app({**LINK, "model": "rnn"}), 1)
    assert len(_strips(app)) == 1
    app = _steps(open_app({"task": "first_token", "seq_len": "14"}), 1)
    assert not _strips(app) and WORDS_KEY not in [w.key for w in app.selectbox]


def test_strip_specs_are_constant_and_unknown_strips_raise():
    assert strip_spec("gradient", False, 2) is strip_spec("gradient", False, 2)
    with pytest.raises(ValueError, match="valid: gradient, forget"):
        strip_spec("nope", False, 2)
    assert set(STRIPS) == {"gradient", "forget"}


def test_words_truncated_bptt_cuts_off_are_marked_and_zeros_are_drawn_below_the_rest():
    record = Trainer(RunConfig(task="sentence", seq_len=12, hidden_size=4, batch_size=8, bptt_window=4)).step()
    words = [Sentence.vocab[i] for i in record.examples[0]]
    frame = strip_frame(words, record.hidden, record.truncated).to_pandas()
    assert frame["cut"].tolist() == [True] * 8 + [False] * 4  # the window keeps the last 4 words
    assert (frame["value"][:8] == 0).all() and (frame["shade"][:8] < frame["shade"][8:].min()).all()
    assert not frame["dark"][:8].any()  # black text on the grey cells
    assert frame["line"].tolist() == [0] * 10 + [1] * 2 and frame["column"].tolist()[-2:] == [0, 1]


def test_a_watcher_sees_the_presenters_sentence_shaded_by_the_same_numbers():
    from dashboard.presenter import rooms
    from dashboard.runner import Runner

    config = RunConfig(task="sentence", model="lstm", seq_len=12, hidden_size=4, batch_size=8, steps=50)
    presenter_run = Runner(config)
    presenter_run.step_once(wait=30)
    code = rooms().publish(presenter_run, {"title": "13", "config": config.to_dict()})
    try:
        app = AppTest.from_file("../../dashboard/app.py", default_timeout=60)
        app.query_params["watch"] = code
        app.run()
        assert not app.exception
        record = Trainer(config).step()
        gradient, forget = _strips(app)
        assert gradient["word"].tolist() == [Sentence.vocab[i] for i in record.examples[0]]
        np.testing.assert_array_equal(gradient["value"].to_numpy(), record.hidden.astype(np.float64))
        np.testing.assert_array_equal(forget["value"].to_numpy(), record.gates[0].astype(np.float64))
    finally:
        rooms().close(code)
        presenter_run.close()


def test_a_picked_sentence_past_a_smaller_batch_falls_back_to_the_first():
    """Streamlit resets a selectbox whose value left its options; this keeps the view from relying on more."""
    app = _steps(open_app(LINK), 1)
    app.selectbox(key=WORDS_KEY).select(7).run()
    widget = next(w for kind in ("select_slider", "slider", "number_input", "selectbox")
                  for w in app.sidebar.get(kind) if w.key == "batch_size")
    widget.set_value(4).run()
    app = _steps(app, 1)
    assert app.selectbox(key=WORDS_KEY).value == 0 and len(app.selectbox(key=WORDS_KEY).options) == 4
    assert len(_strips(app)[0]) == 14

"""The Lab in front of a class: pace, progress and estimates, long-run warnings, the default run's note,
presentation mode, the cost budget in the sidebar, the weights download and where students can open a broadcast."""

import dataclasses
import io
import json
import math
import statistics
import threading
from types import SimpleNamespace

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.charts import vega_spec
from dashboard.lab_page import DEFAULT_RUN_NOTE, weights_download
from dashboard.live_view import chart_grid, duration, progress_line, run_estimate, speed, speed_metric
from dashboard.presenter import reach
from dashboard.runner import Runner
from dashboard.sidebar import config_query, largest_fitting
from dashboard.state import PACE, PACES, nearest_pace
from models import RunConfig, Trainer
from models.cost import BUDGET_SECONDS, RUN_MEMORY_MB, run_megabytes, step_seconds
from models.export import load
from models.lessons import LESSONS
from tests.dashboard.lab_app import LARGEST_LSTM
from tests.dashboard.lab_app import open_app as _open

pytestmark = pytest.mark.usefixtures("fresh_session")


@pytest.fixture
def held_step(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Trainer.step held until the test sets `finish`; `started` is set once one is in flight."""
    started, finish, real = threading.Event(), threading.Event(), Trainer.step

    def held(trainer):
        started.set()
        finish.wait(30)
        return real(trainer)

    monkeypatch.setattr(Trainer, "step", held)
    yield started, finish
    finish.set()


def _progress(app: AppTest) -> str:
    return app.get("progress")[0].proto.text


def test_every_lesson_pace_is_on_the_pace_slider_and_a_lesson_click_applies_it():
    for lesson in LESSONS.values():
        assert lesson.pace is None or lesson.pace in PACES, lesson.key  # else the lesson would run at another pace
    app = _open()
    app.button_group(key="lesson").set_value("irnn").run()
    assert app.session_state[PACE] == LESSONS["irnn"].pace == 32
    assert app.query_params["pace"] == "32"
    assert _progress(app).endswith("for the whole run at 32 steps/s")  # the runner follows the slider
    assert f"~{duration(LESSONS['irnn'].config.steps / 32)} for the whole run" in _progress(app)


def test_nearest_pace():
    assert nearest_pace(None) == math.inf and nearest_pace(math.inf) == math.inf
    assert nearest_pace(7) == 8 and nearest_pace(1000) == 200 and nearest_pace(0.1) == 0.5


def test_durations_read_like_a_person_says_them():
    assert [duration(s) for s in (0.004, 0.8, 12.4, 210, 1000, 3900)] == [
        "4 ms", "0.8 s", "12 s", "3.5 min", "17 min", "1 h 05 min"]


def test_progress_names_the_step_in_flight_the_time_per_step_and_the_time_left():
    idle = Runner(LARGEST_LSTM).snapshot()
    estimate = step_seconds(LARGEST_LSTM)
    assert progress_line(idle) == (f"~{duration(estimate)} per step (estimated for this server) · "
                                   f"~{duration(500 * estimate)} for the whole run")
    running = dataclasses.replace(idle, state="training", step_running_s=12.3)
    assert progress_line(running).startswith("Step 1 running for 12 s · ")
    assert progress_line(dataclasses.replace(idle, state="queued")).startswith("Waiting for a free core · ")
    measured = dataclasses.replace(idle, state="training", step=10, seconds_per_step=1.5, step_running_s=0.5)
    assert progress_line(measured) == (f"Step 11 running for 0.5 s · ~1.5 s per step (measured) · "
                                       f"~{duration(490 * 1.5 - 0.5)} left")
    fast = dataclasses.replace(Runner(RunConfig()).snapshot(), state="training", step=3, step_running_s=0.001,
                               seconds_per_step=0.002)
    assert not progress_line(fast).startswith("Step")  # a 2 ms step is not worth following
    paced = dataclasses.replace(fast, pace=4.0, seconds_per_step=None, step=0)
    assert run_estimate(paced) == pytest.approx(500 / 4 - 0.001)  # the pace, not the compute, sets the time
    done = progress_line(dataclasses.replace(measured, state="done", step=500, step_running_s=None))
    assert done == "~1.5 s per step (measured)"  # nothing left once the run is over


def test_a_run_estimated_over_three_minutes_is_announced_before_it_starts():
    app = _open(config_query(LARGEST_LSTM))
    (warning,) = [w.value for w in app.warning]
    assert warning.startswith(f"**This run takes about {duration(500 * step_seconds(LARGEST_LSTM))}**")
    assert "500 steps" in warning and "estimated on this server" in warning
    assert not [w for w in _open().warning if "This run takes" in w.value]
    slow = _open({"pace": "0.5"})  # 500 cheap steps at half a step per second: the pace makes it long
    assert [w.value for w in slow.warning if w.value.startswith("**This run takes about 17 min**")]


def test_the_default_run_stays_at_chance_on_every_seed_as_its_note_says():
    """The numbers DEFAULT_RUN_NOTE states: loss ≈ ln 2, accuracy ≈ 50%, and under 1/1000 of h_T's gradient at h_1."""
    assert all(text in DEFAULT_RUN_NOTE for text in ("ln 2 = 0.693", "≈ 50%", "seeds 0–9", "under 1/1000"))
    assert "first of 20 words" in DEFAULT_RUN_NOTE and RunConfig().seq_len == 20 and RunConfig().task == "first_token"
    learners = [lesson for lesson in LESSONS.values() if lesson.title.split(" · ")[0] in ("4", "5", "6", "11")]
    assert "lessons 4, 5, 6 and 11 learn" in DEFAULT_RUN_NOTE and len(learners) == 4
    for lesson in learners:  # "learn": each one's tested claim includes reaching a low loss or a high accuracy
        assert "loss < 0.1" in lesson.claim_text or "accuracy over the last 100 steps > 0.99" in lesson.claim_text
    torch.set_num_threads(1)
    for seed in range(10):
        records = list(Trainer(RunConfig(seed=seed)))
        last = records[-100:]
        assert abs(statistics.fmean(r.loss for r in last) - math.log(2)) < 0.01, seed
        assert 0.45 < statistics.fmean(r.accuracy for r in last) < 0.55, seed
        assert records[0].hidden[0] / records[0].hidden[-1] < 1e-3, seed


def test_the_default_note_shows_for_the_defaults_only():
    assert any(DEFAULT_RUN_NOTE == i.value for i in _open().info)
    assert any(DEFAULT_RUN_NOTE == i.value for i in _open({"seed": "4"}).info)  # true on every seed 0–9
    assert not any(DEFAULT_RUN_NOTE == i.value for i in _open({"lesson": "vanishing"}).info)
    assert not any(DEFAULT_RUN_NOTE == i.value for i in _open({"hidden_size": "8"}).info)


def test_presentation_mode_folds_text_and_sizes_the_charts_for_a_projector():
    app = _open({"presentation": "true", "lesson": "vanishing"})
    assert not app.metric and app.markdown  # the status is one line
    assert any(line.value.startswith("#### Step **0 / 300**") for line in app.markdown)
    assert app.expander[0].label.startswith(f"**{LESSONS['vanishing'].title}**")
    snap = Runner(LESSONS["vanishing"].config).snapshot()
    chart = json.loads(app.get("vega_lite_chart")[0].proto.spec)
    for presentation in (True, False):
        expected = {k: v for k, v in vega_spec("loss", snap, False, presentation).items() if k != "datasets"}
        assert ({k: v for k, v in chart.items() if k in expected} == expected) is presentation
    app.toggle(key="presentation").set_value(False).run()
    assert [m.label for m in app.metric] == [f"Step (of {LESSONS['vanishing'].config.steps})", "Speed", "Loss", "State"]
    assert not app.expander[0].label.startswith(f"**{LESSONS['vanishing'].title}**")


def test_a_size_that_breaks_the_budget_moves_back_to_the_largest_that_fits():
    app = _open({"model": "lstm", "seq_len": "500", "batch_size": "256"})
    app.slider(key="hidden_size").set_value(256).run()
    fitted = largest_fitting({"model": "lstm", "seq_len": 500, "batch_size": 256}, "hidden_size")
    assert 32 < fitted < 256 and app.session_state["hidden_size"] == fitted
    assert app.query_params["hidden_size"] == str(fitted)
    (notice,) = [w.value for w in app.sidebar.warning]
    assert notice.startswith("hidden_size = 256 was too large") and f"Set to {fitted} instead." in notice
    RunConfig(model="lstm", seq_len=500, batch_size=256, hidden_size=fitted)  # fits
    with pytest.raises(ValueError, match="budget"):
        RunConfig(model="lstm", seq_len=500, batch_size=256, hidden_size=fitted + 1)  # the largest that does


@pytest.mark.parametrize(("hidden", "batch", "limit"), [(256, 128, "s budget"), (64, 512, "MB memory budget")])
def test_a_choice_that_breaks_the_budget_goes_back(hidden, batch, limit):
    """The LSTM at these sizes: over the time budget, or fast enough but over the memory one; the RNN fits both."""
    sizes = {"seq_len": 500, "batch_size": batch, "hidden_size": hidden}
    lstm = SimpleNamespace(model="lstm", seq_length=500, batch_size=batch, hidden_size=hidden)
    assert (step_seconds(lstm) > BUDGET_SECONDS) is (limit == "s budget")
    assert run_megabytes(lstm) > RUN_MEMORY_MB
    RunConfig(model="rnn", **sizes)
    app = _open({k: str(v) for k, v in sizes.items()} | {"model": "rnn"})
    assert app.session_state["hidden_size"] == hidden and not app.sidebar.warning
    app.selectbox(key="model").set_value("lstm").run()
    notice = app.sidebar.warning[0].value
    assert app.session_state["model"] == "rnn" and "model = lstm was too large" in notice and limit in notice


def test_the_weights_download_is_the_trained_model():
    config = RunConfig(task="cat_mat_rat", hidden_size=8, steps=100)
    runner = Runner(config)
    for _ in range(2):
        runner.step_once(wait=30)
    trainer = Trainer(config)
    trainer.step(), trainer.step()
    data = weights_download(runner)
    assert torch.load(io.BytesIO(data), weights_only=True)["step"] == 2  # the safe loader reads it as it is
    checkpoint = load(io.BytesIO(data))
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(checkpoint.model.state_dict()[name], tensor), name
    assert checkpoint.step == 2 and checkpoint.config == config


def test_the_weights_download_never_copies_a_model_mid_step(held_step):
    started, _ = held_step
    runner = Runner(RunConfig(task="cat_mat_rat", hidden_size=8, steps=100))
    runner.train()
    assert started.wait(10)
    with pytest.raises(RuntimeError, match="pause the run"):
        weights_download(runner, timeout=0.2)  # never a copy of weights an optimizer step is writing
    runner.close(wait=False)


def test_the_weights_button_is_disabled_while_a_step_may_run(held_step):
    started, _ = held_step
    app = _open({"task": "cat_mat_rat"})
    assert not _weights_button(app).proto.disabled
    app.button(key="primary").click().run()
    assert started.wait(10)
    app.run()
    assert _weights_button(app).proto.disabled
    assert any("Pause to download the weights" in c.value for c in app.caption)
    app.button(key="reset_button").click().run()


def _weights_button(app: AppTest):
    (button,) = [b for b in app.get("download_button") if b.proto.id.endswith("download_weights")]
    assert button.proto.label == "Weights (.pt)"
    return button


@pytest.mark.parametrize(("page", "listen", "lan", "base", "hint"), [
    ("http://localhost:8501/", None, "192.168.1.23", "http://192.168.1.23:8501/", "room's network"),
    ("http://127.0.0.1:8501/?lesson=x", "127.0.0.1", "192.168.1.23", "http://192.168.1.23:8501/",
     "--server.address 0.0.0.0"),
    ("http://localhost:8501/", None, "127.0.0.1", "http://localhost:8501/", "no address on a network"),
    ("https://rnn-lab.streamlit.app/", None, "10.0.0.5", "https://rnn-lab.streamlit.app/", None),
    ("http://192.168.1.23:8501/", None, "192.168.1.23", "http://192.168.1.23:8501/", None),
])
def test_students_get_an_address_they_can_open(page, listen, lan, base, hint):
    where = reach(page, listen, lan)
    assert where.base == base
    assert (where.hint is None) if hint is None else (hint in where.hint)


def test_speed_reads_the_current_rate_in_the_right_unit_and_number():
    assert [speed(rate) for rate in (0.5, 1, 2, 9.9, 0.4, 0.97, 0)] == [
        "2 s/step", "1 step/s", "2 steps/s", "9.9 steps/s", "2.5 s/step", "1 step/s", "—"]
    # The Lab's metric: the unit in the label, so the value stays short.
    assert [speed_metric(rate) for rate in (494.23, 1, 0.4, 0)] == [
        ("Speed (steps/s)", "494.2"), ("Speed (step/s)", "1"), ("Speed (s/step)", "2.5"), ("Speed", "—")]


def test_the_lab_asks_its_user_to_train_and_an_unknown_audience_is_refused():
    assert "No step yet: press Train, or Step for one batch." in [c.value for c in _open().caption]
    with pytest.raises(ValueError, match="lab, watch"):
        chart_grid(Runner(RunConfig()).snapshot(), {}, audience="students")

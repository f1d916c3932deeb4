"""The slide: the Lab's loss and gradient charts with the same data, the run's settings and its reproduce link in the
caption (read from the spec, no rendering), a PNG of exactly the slide's size; the Lab's button, keyed, in both
modes, and its data drawn from the run at click time."""

import struct
from dataclasses import replace

import pytest
import vl_convert

from dashboard import charts, lab_page, slide
from dashboard.history import History, Snapshot
from dashboard.runner import Runner
from models import RunConfig, Trainer
from models.config import CHOICES
from tests.dashboard.lab_app import open_app

LINK = "http://lab.example:8501/?model=lstm&seq_len=7&hidden_size=5&seed=3&steps=3"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    """A real 3-step LSTM run, recorded as the Lab records it."""
    config = RunConfig(model="lstm", seq_len=7, hidden_size=5, steps=3, seed=3)
    history = History(config.seq_length, True)
    for record in Trainer(config):
        history.add(record)
    return Snapshot(config, "done", config.steps, 1.0, history.view())


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_caption_has_the_runs_settings_in_words_and_its_reproduce_link(snap):
    title = slide.slide_spec(snap, None, LINK)["title"]
    assert title["orient"] == "bottom"
    settings, link = title["text"]
    assert settings == "LSTM, tanh · T = 7 · hidden 5 · lr 0.1 · seed 3 · step 3 of 3"
    assert link == f"Reproduce this run: {LINK}"


def test_a_step_picked_on_the_step_slider_is_the_profile_the_slide_shows_and_says(snap):
    picked = replace(snap, shown_step=1)
    spec = slide.slide_spec(picked, None, LINK)
    assert spec["title"]["text"][0].endswith("step 3 of 3 · profile at step 1")
    assert spec["datasets"]["profile"] == charts.profile_frame(snap.history, 1).to_pylist()
    assert spec["datasets"]["profile"] != charts.profile_frame(snap.history, None).to_pylist()


@pytest.mark.parametrize("picked", [None, 2])
def test_the_slide_draws_the_labs_loss_and_profile_charts_with_the_same_data(snap, picked):
    snap = replace(snap, shown_step=picked)
    spec = slide.slide_spec(snap, True, LINK)
    for view, name in zip(spec["hconcat"], slide.CHARTS, strict=True):
        lab = charts.vega_spec(name, snap, True, presentation=True)
        assert view["layer"] == lab["layer"] and view["title"] == lab["title"]
        assert all(spec["datasets"][key] == table.to_pylist() for key, table in lab["datasets"].items())
    assert spec["config"] == charts.vega_spec("loss", snap, True, presentation=True)["config"]
    loss_y = spec["hconcat"][0]["layer"][0]["layer"][0]["encoding"]["y"]
    assert loss_y["scale"]["type"] == "log"  # the Lab's scale choice reaches the slide


def test_the_png_is_the_slide_at_scale_two_and_shows_the_caption(snap):
    assert png_size(slide.slide_png(snap, None, LINK)) == (2560, 1440)
    svg = vl_convert.vegalite_to_svg(slide.slide_spec(snap, None, LINK))
    # Drawn, not only specified: the axes' ticks and the caption (an invalid tick format drew none of it).
    for text in ("training step", ">0.5<", "Reproduce this run: http://lab.example:8501/"):
        assert text in svg, text


@pytest.mark.parametrize(("width", "height", "box"), [
    (1000, 450, "0 -56.25 1000 562.5"),  # wider than 16:9: white above and below
    (400, 450, "-200 0 800 450"),  # taller: white left and right
])
def test_fit_svg_gives_the_slides_size_and_keeps_the_drawing_whole_and_centred(width, height, box):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    fitted = slide.fit_svg(svg + "<g/></svg>")
    assert fitted.startswith(f'<svg xmlns="http://www.w3.org/2000/svg" width="1280" height="720" viewBox="{box}">')
    assert f'<rect x="{box.split()[0]}" y="{box.split()[1]}"' in fitted and fitted.endswith("<g/></svg>")
    with pytest.raises(ValueError, match="viewBox"):
        slide.fit_svg("<svg/>")


def test_every_model_and_activation_has_a_name_and_an_unknown_one_is_refused():
    assert set(slide.MODEL_NAMES) == set(CHOICES["model"])
    assert set(slide.ACTIVATION_NAMES) == set(CHOICES["activation"])
    with pytest.raises(ValueError, match="rnn, lstm, residual, gru"):
        slide.named(slide.MODEL_NAMES, "transformer", "model")


def test_the_download_draws_the_run_as_it_is_at_click_time_with_its_link(monkeypatch):
    drawn = []
    monkeypatch.setattr(lab_page, "slide_png", lambda snap, log_y, link: drawn.append((snap, log_y, link)) or b"png")
    runner = Runner(RunConfig(seq_len=9, lr=0.5))
    try:
        shown = {lab_page.LOG_KEY: None}
        shown[lab_page.LOG_KEY] = True  # the fragment flipped the scale after the button was drawn
        assert lab_page.slide_download(runner, shown, "vanishing", "http://lab.example/") == b"png"
    finally:
        runner.close(wait=False)
    (snap, log_y, link), = drawn
    assert snap.config == RunConfig(seq_len=9, lr=0.5) and log_y is True
    assert link == "http://lab.example/?lr=0.5&seq_len=9&lesson=vanishing"


@pytest.mark.parametrize("query", [{}, {"presentation": "true"}])
def test_the_lab_has_the_keyed_slide_button_in_both_modes(query):
    app = open_app(query)
    buttons = [b for b in app.get("download_button") if b.proto.id.endswith("download_slide")]
    assert [b.proto.label for b in buttons] == ["Slide (PNG)"]
    assert buttons[0].proto.help == lab_page.SLIDE_HELP and "1280 × 720" in lab_page.SLIDE_HELP

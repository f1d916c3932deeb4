"""The slide in a real browser at projector size (1280 × 720): after a run's steps, one click on "Slide (PNG)" downloads
a PNG of the slide's size, in the Lab and in presentation mode, and the button sits in the control row on the first
screen."""

import pytest

from tests.browser.driver import button, chromium, open_lab, primary_is
from tests.dashboard.test_slide import png_size

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

PROJECTOR = (1280, 720)


@pytest.mark.parametrize("mode", ["", "&presentation=true"])
def test_one_click_downloads_the_slide_as_a_png(server, mode, tmp_path):
    url, _ = server
    with chromium(*PROJECTOR) as context:
        page = open_lab(context, url, f"task=cat_mat_rat&steps=3{mode}")
        button(page, "Train").click()
        page.wait_for_function(primary_is("Done"), timeout=120_000)  # all 3 steps: the run is done
        slide = page.get_by_role("button", name="Slide (PNG)")
        box = slide.bounding_box()
        assert box is not None and box["y"] + box["height"] <= PROJECTOR[1]  # on the first screen
        with page.expect_download(timeout=120_000) as download:
            slide.click()
        assert download.value.suggested_filename == "rnn_lab_rnn_tanh_cat_mat_rat_T3_slide.png"
        path = tmp_path / "slide.png"
        download.value.save_as(path)
        assert png_size(path.read_bytes()) == (2560, 1440)

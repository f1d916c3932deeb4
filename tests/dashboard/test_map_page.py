"""Trainability map page: renders, shows exactly the sweep's numbers, and a picked cell opens the lab."""

import json

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.map_page import GAINS, SEQ_LENS, heatmap, picked_config
from dashboard.state import PAGE_REQUEST
from models import RunConfig
from models.sweep import COLUMNS, trainability_map


def map_app():
    from dashboard.map_page import render

    render()


def whole_app_with_a_pick_button():
    import streamlit as st

    from dashboard.app import main
    from dashboard.map_page import open_in_lab
    from models import RunConfig

    # Stands in for a click on the cell (gain 1.3, T = 50): AppTest cannot click inside a Vega chart.
    st.button("pick", key="test_pick", on_click=open_in_lab,
              args=(RunConfig(init="orthogonal", recurrent_gain=1.3, seq_len=50),))
    main()  # app.py's own pages and routing


def chart(at: AppTest) -> tuple[dict, pd.DataFrame]:
    """The heatmap's Vega-Lite spec and its data, as Streamlit sends them to the browser."""
    (element,) = [e for e in at.main if getattr(e, "type", None) == "vega_lite_chart"]
    (dataset,) = element.proto.datasets
    return json.loads(element.proto.spec), pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()


def test_page_shows_exactly_the_sweeps_numbers():
    at = AppTest.from_function(map_app, default_timeout=60).run()
    assert not at.exception
    spec, data = chart(at)
    expected = trainability_map(RunConfig(), GAINS, SEQ_LENS)  # the lab's defaults
    pd.testing.assert_frame_equal(data[list(COLUMNS)], expected, check_exact=True)
    assert spec["params"][0]["select"] == {"type": "point", "fields": ["gain", "seq_len"], "on": "click"}

    at.selectbox(key="map_init").set_value("orthogonal").run()
    _, data = chart(at)
    expected = trainability_map(RunConfig(init="orthogonal"), GAINS, SEQ_LENS)
    pd.testing.assert_frame_equal(data[list(COLUMNS)], expected, check_exact=True)
    # Regression pin: 1.26 is the crossing this code computed when the test was written (README's table), not
    # an independent value; the claim tested is that the caption states the sweep's own crossing.
    assert "1.26 (T = 20)" in at.caption[0].value


def test_out_of_range_cells_are_drawn_outside_the_colour_scale():
    frame = trainability_map(RunConfig(init="orthogonal"), (0.1, 1.0), (500,))
    assert frame["below_range"].tolist() == [True, False]
    colour = heatmap(frame).to_dict()["encoding"]["color"]
    assert colour["condition"]["test"] == "datum.below_range || datum.above_range"
    assert colour["field"] == "log_ratio" and colour["scale"]["domainMid"] == 0


@pytest.mark.parametrize(("selection", "expected"), [
    ({"cell": [{"gain": 1.3, "seq_len": 50}]}, {"recurrent_gain": 1.3, "seq_len": 50}),
    ({"cell": []}, None),
    ({}, None),
])
def test_picked_cell_becomes_a_config(selection, expected):
    base = RunConfig(model="lstm", init="orthogonal")
    picked = picked_config(base, selection)
    assert picked == (None if expected is None else base.replace(**expected))


def test_picked_cell_opens_the_lab_with_its_settings():
    at = AppTest.from_function(whole_app_with_a_pick_button, default_timeout=60)
    at.session_state[PAGE_REQUEST] = "map"  # as if the map had been opened from the navigation
    at.run()
    assert [t.value for t in at.title] == ["Trainability map"]
    at.button(key="test_pick").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["RNN Gradient Lab"]
    assert at.number_input(key="recurrent_gain").value == 1.3
    assert at.slider(key="seq_len").value == 50
    assert at.selectbox(key="init").value == "orthogonal"

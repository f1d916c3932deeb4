"""Trainability map page: renders, shows exactly the sweep's numbers and its zero contour, and a picked cell opens
the lab with its configuration in the URL."""

import json

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.map_page import GAINS, SEQ_LENS, edge, heatmap, picked_config
from dashboard.state import PAGE_REQUEST
from models import RunConfig
from models.sweep import COLUMNS, crossings, trainability_map
from tests.dashboard.lab_app import open_app


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


def reload(at: AppTest) -> AppTest:
    """A new session on the address `at` shows, as a reload of the page would be."""
    return open_app(dict(at.query_params))


def chart(at: AppTest) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The heatmap's Vega-Lite spec, its cells and its zero contour, as Streamlit sends them to the browser."""
    (element,) = [e for e in at.main if getattr(e, "type", None) == "vega_lite_chart"]
    frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in element.proto.datasets]
    (cells,) = [f for f in frames if "log_ratio" in f]
    (contour,) = [f for f in frames if "curve" in f]
    return json.loads(element.proto.spec), cells, contour


def test_page_shows_exactly_the_sweeps_numbers():
    at = AppTest.from_function(map_app, default_timeout=60).run()
    assert not at.exception
    spec, data, _ = chart(at)
    expected = trainability_map(RunConfig(), GAINS, SEQ_LENS)  # the lab's defaults
    pd.testing.assert_frame_equal(data[list(COLUMNS)], expected, check_exact=True)
    assert spec["params"][0]["select"] == {"type": "point", "fields": ["gain", "seq_len"], "on": "click"}

    at.selectbox(key="map_init").set_value("orthogonal").run()
    _, data, contour = chart(at)
    expected = trainability_map(RunConfig(init="orthogonal"), GAINS, SEQ_LENS)
    pd.testing.assert_frame_equal(data[list(COLUMNS)], expected, check_exact=True)
    # The black line is the sweep's own zero crossing at every length that crosses it (docs/using.md's table).
    assert contour.set_index("seq_len")["gain"].to_dict() == crossings(expected).dropna().to_dict()
    assert len(contour) == len(SEQ_LENS)
    # Regression pin: 1.26 is the crossing this code computed when the test was written (docs/using.md's table), not
    # an independent value; the claim tested is that the caption states the sweep's own crossing.
    assert "1.26 (T = 20)" in at.caption[0].value


def test_out_of_range_cells_are_drawn_outside_the_colour_scale():
    frame = trainability_map(RunConfig(init="orthogonal"), (0.1, 1.0), (500,))
    assert frame["below_range"].tolist() == [True, False]
    cells, _ = heatmap(frame).to_dict()["layer"]
    colour = cells["encoding"]["color"]
    assert colour["condition"]["test"] == "datum.below_range || datum.above_range"
    assert colour["field"] == "log_ratio" and colour["scale"]["domainMid"] == 0
    assert colour["title"] == ["log10 ‖∂L/∂h_1‖", "/ ‖∂L/∂h_T‖"]  # h_1: the state after the first word


def test_the_contour_joins_each_lengths_crossing_and_skips_lengths_that_never_cross():
    # T = 5 crosses 0 between gains 1 and 2 (log ratios -1 and 3: at 1.25); T = 10 stays below 0.
    frame = pd.DataFrame({"gain": [1.0, 2.0, 1.0, 2.0], "seq_len": [5, 5, 10, 10], "log_ratio": [-1.0, 3.0, -2.0, -1.0],
                          "below_range": False, "above_range": False})
    assert edge(frame)[["seq_len", "gain"]].values.tolist() == [[5, 1.25]]


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
    at.session_state[PAGE_REQUEST] = ("map", None)  # as if the map had been opened from the navigation
    at.run()
    assert [t.value for t in at.title] == ["Trainability map"]
    at.button(key="test_pick").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["RNN Gradient Lab"]
    assert at.number_input(key="recurrent_gain").value == 1.3
    assert at.slider(key="seq_len").value == 50
    assert at.selectbox(key="init").value == "orthogonal"
    (note,) = [i.value for i in at.info if "trainability map" in i.value]  # says what the click loaded
    assert "recurrent gain 1.3 and sequence length 50" in note and "rnn / tanh / orthogonal init" in note
    at.run()
    assert not [i for i in at.info if "trainability map" in i.value]  # once
    # The address bar holds the cell's configuration as the Lab opens, and a reload gives the same run.
    expected = RunConfig(init="orthogonal", recurrent_gain=1.3, seq_len=50)
    assert RunConfig.from_strings(at.query_params) == expected
    again = reload(at)
    assert [t.value for t in again.title] == ["RNN Gradient Lab"] and not again.warning
    assert {k: again.session_state[k] for k in ("init", "recurrent_gain", "seq_len")} == {
        "init": "orthogonal", "recurrent_gain": 1.3, "seq_len": 50}

"""The BPTT page reveals one term per click and ends with hand sums equal to autograd's."""

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.bptt_page import mat, num, steps
from models.bptt_by_hand import worked_example


def _page():
    from dashboard.bptt_page import render

    render()


@pytest.fixture
def app() -> AppTest:
    return AppTest.from_function(_page, default_timeout=30).run()


def test_starts_with_one_term_and_next_reveals_another(app):
    assert not app.exception
    assert len(app.latex) == 1 and app.slider(key="bptt_step").value == 1
    app.button(key="bptt_next").click().run()
    assert len(app.latex) == 2 and app.slider(key="bptt_step").value == 2
    app.button(key="bptt_back").click().run()
    app.button(key="bptt_back").click().run()  # clamped at the first term
    assert len(app.latex) == 1 and app.slider(key="bptt_step").value == 1


def test_last_term_shows_hand_sums_next_to_autograd(app):
    count = len(steps(worked_example()))
    app.slider(key="bptt_step").set_value(count).run()
    assert not app.exception
    assert len(app.latex) == count + 2 * 6  # every term, then hand | autograd for six parameters
    assert "Largest difference" in app.success[0].value
    assert float(app.success[0].value.split(": ")[1].split(" ")[0]) < 1e-10
    hand = [x.value for x in app.latex if "by hand" in x.value]
    auto = [x.value for x in app.latex if "autograd" in x.value]
    assert [h.split("=", 1)[1] for h in hand] == [a.split("=", 1)[1] for a in auto]  # same numbers to 4 digits


def test_other_sentence_changes_the_numbers(app):
    first = app.latex[0].value
    app.selectbox(key="bptt_sentence").set_value("mat mat cat").run()
    assert app.latex[0].value != first and "y = 0" in app.latex[0].value


def test_latex_formatting():
    assert num(0.5) == "0.5" and num(-1.23456e-5) == r"-1.23\times 10^{-5}" and num(0) == "0"
    assert mat([1.0, 2.0]) == r"\begin{bmatrix} 1 \\ 2 \end{bmatrix}"
    assert all(latex.count("{") == latex.count("}") for _, latex in steps(worked_example()))

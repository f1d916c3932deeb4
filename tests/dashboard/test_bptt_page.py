"""The BPTT page reveals one term per click and ends with hand sums equal to autograd's."""

import re

import numpy as np
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
    assert len(app.latex) == count + 6  # every term, then hand over autograd for six parameters
    assert "Largest difference" in app.success[0].value
    assert float(app.success[0].value.split(": ")[1].split(" ")[0]) < 1e-10
    for latex in [x.value for x in app.latex[count:]]:
        hand, auto = re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", latex)
        assert hand == auto  # same numbers to 4 digits
        assert latex.index("by hand") < latex.index("autograd")


def _term(example, words: str) -> str:
    return next(latex for caption, latex in steps(example) if words in caption)


def test_first_word_gradient_general_form_and_update_are_shown():
    e = worked_example()
    norms = e.gradient_norms
    first = _term(e, "first word's state receives less gradient")
    assert f"= {num(norms[0])}" in first and f"= {num(norms[2])}" in first and r"\;<\;" in first
    general = _term(e, "any length $T$")
    assert r"\sum_{t=1}^{T} \delta_t" in general
    # The product has an order: the Jacobian nearest the loss first.
    assert r"= J_T J_{T-1} \cdots J_{t+1}" in general and r"\prod" not in general
    sizes = _term(e, "sizes of the three terms")
    # ∂L/∂W_h's t = 1 term is 0 (h_0 = 0), so with 50 words the longest non-zero chain is t = 2's: 50 − 2.
    caption = next(caption for caption, _ in steps(e) if "sizes of the three terms" in caption)
    assert "carries 48 Jacobians" in caption and "49" not in caption
    assert all(num(float(np.linalg.norm(m))) in sizes for m in e.terms["W_h"])
    update = _term(e, "One step of gradient descent")
    assert f"- {e.lr:g} {mat(e.hand['W_h'])}" in update and f"= {mat(e.updated['W_h'])}" in update
    assert rf"L: {num(e.loss)} \to {num(e.loss_after)}" in _term(e, "before and after the step")


def test_every_vector_is_a_column_and_every_gradient_term_an_outer_product():
    e = worked_example()
    into = _term(e, "Into the last hidden state")
    assert f"= {mat(e.dL_dh[2])}" in into and e.dL_dh[2].ndim == 1  # mat() of a 1-D array is a column
    back = _term(e, "Back one step")
    assert r"\right)^{\!\top}" in back  # the transposed Jacobian multiplies the column gradient
    assert r"\delta_t h_{t-1}^\top" in next(c for c, _ in steps(e) if "outer product" in c)


def test_other_sentence_changes_the_numbers(app):
    first = app.latex[0].value
    app.selectbox(key="bptt_sentence").set_value("mat mat cat").run()
    assert app.latex[0].value != first and "y = 0" in app.latex[0].value


def test_latex_formatting():
    assert num(0.5) == "0.5" and num(-1.23456e-5) == r"-1.23\times 10^{-5}" and num(0) == "0"
    assert mat([1.0, 2.0]) == r"\begin{bmatrix} 1 \\ 2 \end{bmatrix}"
    assert all(latex.count("{") == latex.count("}") for _, latex in steps(worked_example()))

"""BPTT by hand: the cat / mat / rat example's forward pass and every chain-rule factor, in LaTeX.

`steps(example)` is pure (numbers -> LaTeX); `render()` is the page: a step-through control
reveals one term at a time, and at the end the hand sums stand next to autograd's values.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import streamlit as st

from models.bptt_by_hand import PARAMETERS, SENTENCE, WorkedExample, worked_example
from models.tasks import CatMatRat

SENTENCES = tuple(" ".join(words) for words in itertools.product(CatMatRat.vocab, repeat=3))
SYMBOLS = {"W_in": r"W_{in}", "W_h": r"W_h", "b_in": r"b_{in}", "b_h": r"b_h", "W_out": r"W_{out}",
           "b_out": r"b_{out}"}


def num(v: float) -> str:
    """A number as LaTeX: 4 significant digits, powers of ten written out."""
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.4g}"
    exponent = math.floor(math.log10(abs(v)))
    return rf"{v / 10**exponent:.3g}\times 10^{{{exponent}}}"


def mat(m: np.ndarray) -> str:
    """A matrix (or a 1-D array as a column vector) as a LaTeX bmatrix."""
    rows = np.atleast_2d(m).T if np.ndim(m) == 1 else np.atleast_2d(m)
    body = r" \\ ".join(" & ".join(num(float(v)) for v in row) for row in rows)
    return rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"


def row(v: np.ndarray) -> str:
    """A gradient with respect to a vector, written as a row (the chain rule multiplies on the right)."""
    return mat(np.atleast_2d(v))


def _forward(e: WorkedExample) -> list[tuple[str, str]]:
    p = e.params
    out = [
        (f"The sentence “{' '.join(e.sentence)}”: one-hot words, label $y = {e.y:g}$ (1 iff a rat appears).",
         ", ".join(rf"x_{t + 1} = {mat(e.x[t])}" for t in range(3)) + rf",\quad y = {e.y:g}"),
        ("The weights (seeded; two hidden units so every matrix fits on a line).",
         rf"W_{{in}} = {mat(p['W_in'])},\ W_h = {mat(p['W_h'])},\ b = b_{{in}} + b_h = {mat(p['b_in'] + p['b_h'])},"
         rf"\ W_{{out}} = {mat(p['W_out'])},\ b_{{out}} = {num(float(p['b_out'][0]))}"),
    ]
    for t in range(3):
        out.append((f"Forward step {t + 1}: read word “{e.sentence[t]}”, starting from $h_{t}$.",
                    rf"a_{t + 1} = W_{{in}} x_{t + 1} + W_h h_{t} + b = {mat(e.a[t])},\quad "
                    rf"h_{t + 1} = \tanh(a_{t + 1}) = {mat(e.h[t + 1])}"))
    out.append(("Readout and loss (binary cross-entropy).",
                rf"z = W_{{out}} h_3 + b_{{out}} = {num(e.z)},\quad \hat y = \sigma(z) = {num(e.y_hat)},\quad "
                rf"L = -y\log\hat y - (1-y)\log(1-\hat y) = {num(e.loss)}"))
    return out


def _summed(caption: str, lhs: str, e: WorkedExample, symbol: str) -> tuple[str, str]:
    """A weight gradient as its three per-step terms and their sum."""
    return caption, lhs + " = " + " + ".join(mat(m) for m in e.terms[symbol]) + f" = {mat(e.hand[symbol])}"


def _backward(e: WorkedExample) -> list[tuple[str, str]]:
    out = [
        ("Start at the loss.",
         r"\frac{\partial L}{\partial \hat y} = -\frac{y}{\hat y} + \frac{1-y}{1-\hat y} = " + num(e.dL_dyhat)),
        (r"Through the sigmoid: the two factors multiply to $\hat y - y$.",
         rf"\frac{{\partial \hat y}}{{\partial z}} = \hat y(1-\hat y) = {num(e.dyhat_dz)},\quad "
         rf"\frac{{\partial L}}{{\partial z}} = {num(e.dL_dyhat)} \cdot {num(e.dyhat_dz)} = {num(e.dL_dz)}"),
        ("Into the last hidden state.",
         rf"\frac{{\partial z}}{{\partial h_3}} = W_{{out}} = {row(e.params['W_out'][0])},\quad "
         rf"\frac{{\partial L}}{{\partial h_3}} = {num(e.dL_dz)}\, W_{{out}} = {row(e.dL_dh[2])}"),
    ]
    for t in (2, 1):  # ∂h_3/∂h_2, then ∂h_2/∂h_1
        out.append((rf"Back one step through time: the Jacobian $\partial h_{t + 1}/\partial h_{t} = "
                    rf"\mathrm{{diag}}(1 - h_{t + 1}^2)\,W_h$.",
                    rf"\frac{{\partial h_{t + 1}}}{{\partial h_{t}}} = {mat(e.jacobians[t])},\quad "
                    rf"\frac{{\partial L}}{{\partial h_{t}}} = {row(e.dL_dh[t])}\,"
                    rf"\frac{{\partial h_{t + 1}}}{{\partial h_{t}}} = {row(e.dL_dh[t - 1])}"))
    out.append((r"Through each tanh: $\delta_t = \partial L/\partial a_t = \partial L/\partial h_t \odot (1 - h_t^2)$.",
                r",\ ".join(rf"\delta_{t + 1} = {row(e.delta[t])}" for t in range(3))))
    out.append(_summed(r"$\partial L/\partial W_h$: one term per step, $\delta_t h_{t-1}^\top$ "
                       r"($h_0 = 0$, so step 1 adds nothing).",
                       r"\frac{\partial L}{\partial W_h}", e, "W_h"))
    out.append(_summed(r"$\partial L/\partial W_{in}$: one term per step, $\delta_t x_t^\top$.",
                       r"\frac{\partial L}{\partial W_{in}}", e, "W_in"))
    out.append(_summed(r"Biases: $b_{in}$ and $b_h$ enter every $a_t$ the same way, so both get $\sum_t \delta_t$.",
                       r"\frac{\partial L}{\partial b_{in}} = \frac{\partial L}{\partial b_h}", e, "b_in"))
    out.append(("The readout is used once, at the end.",
                rf"\frac{{\partial L}}{{\partial W_{{out}}}} = \frac{{\partial L}}{{\partial z}}\, h_3^\top = "
                rf"{mat(e.hand['W_out'])},\quad \frac{{\partial L}}{{\partial b_{{out}}}} = {num(e.dL_dz)}"))
    return out


def steps(example: WorkedExample) -> list[tuple[str, str]]:
    """Every term of the walk-through in order, as (plain-text caption, LaTeX)."""
    return _forward(example) + _backward(example)


def _move(delta: int, count: int) -> None:
    st.session_state.bptt_step = min(max(st.session_state.bptt_step + delta, 1), count)


def controls(count: int) -> tuple[str, int]:
    """The sentence and how many terms to show; returns (sentence, number of terms revealed)."""
    sentence = st.selectbox("Sentence", SENTENCES, index=SENTENCES.index(SENTENCE), key="bptt_sentence")
    if "bptt_step" not in st.session_state:
        st.session_state.bptt_step = 1
    back, forward, _ = st.columns([1, 1, 6])
    back.button("◀ Back", key="bptt_back", on_click=_move, args=(-1, count), width="stretch")
    forward.button("Next term ▶", key="bptt_next", on_click=_move, args=(1, count), type="primary",
                   width="stretch")
    shown = st.slider(f"Terms revealed (of {count})", 1, count, key="bptt_step", format="%d",
                      help="Drag to reveal the walk-through one term at a time.")
    return sentence, shown


def comparison(example: WorkedExample) -> None:
    """Hand-summed gradients next to autograd's for the same model and sentence."""
    st.subheader("Hand sums vs autograd")
    for symbol in PARAMETERS:
        hand, auto = st.columns(2)
        name = SYMBOLS[symbol]
        hand.latex(rf"\text{{by hand: }} \frac{{\partial L}}{{\partial {name}}} = {mat(example.hand[symbol])}")
        auto.latex(rf"\text{{autograd: }} \frac{{\partial L}}{{\partial {name}}} = {mat(example.autograd[symbol])}")
    st.success(f"Largest difference over every entry: {example.max_difference:.2e} (float64).")


def render() -> None:
    """The page: backpropagation through time worked out with real numbers."""
    st.title("BPTT by hand")
    st.markdown("A tanh RNN with two hidden units reads three words. Every number below is computed from its "
                "actual weights; step through the chain rule and compare with PyTorch's autograd at the end.")
    count = len(steps(worked_example()))
    sentence, shown = controls(count)
    example = worked_example(sentence)
    for index, (caption, latex) in enumerate(steps(example)[:shown]):
        st.markdown(f"**{index + 1}.** {caption}")
        st.latex(latex)
    if shown == count:
        comparison(example)
    else:
        st.caption(f"{count - shown} more term(s); the comparison with autograd appears after the last one.")

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
TERMS_HEIGHT = 380  # px: the title, the controls and this box fit a 1280 × 720 projector's first screen
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


def _d(top: str, bottom: str) -> str:
    return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"


def _forward(e: WorkedExample) -> list[tuple[str, str]]:
    p = e.params
    out = [
        (f"The sentence “{' '.join(e.sentence)}”: one-hot words, label $y = {e.y:g}$ (1 iff a rat appears).",
         ", ".join(rf"x_{t + 1} = {mat(e.x[t])}" for t in range(3)) + rf",\quad y = {e.y:g}"),
        ("The weights (seeded; two hidden units so every matrix fits on a line). Every vector is a column.",
         rf"\begin{{gathered}} W_{{in}} = {mat(p['W_in'])},\quad W_h = {mat(p['W_h'])}, \\ "
         rf"b = b_{{in}} + b_h = {mat(p['b_in'] + p['b_h'])},\quad W_{{out}} = {mat(p['W_out'])},\quad "
         rf"b_{{out}} = {num(float(p['b_out'][0]))} \end{{gathered}}"),
    ]
    for t in range(3):
        out.append((f"Forward step {t + 1}: read word “{e.sentence[t]}”, starting from $h_{t}$"
                     + (" (the zero state)." if t == 0 else "."),
                    rf"a_{t + 1} = W_{{in}} x_{t + 1} + W_h h_{t} + b = {mat(e.a[t])},\quad "
                    rf"h_{t + 1} = \tanh(a_{t + 1}) = {mat(e.h[t + 1])}"))
    out.append(("Readout and loss (binary cross-entropy).",
                rf"z = W_{{out}} h_3 + b_{{out}} = {num(e.z)},\quad \hat y = \sigma(z) = {num(e.y_hat)},\quad "
                rf"L = -y\log\hat y - (1-y)\log(1-\hat y) = {num(e.loss)}"))
    return out


def _summed(caption: str, lhs: str, e: WorkedExample, symbol: str) -> tuple[str, str]:
    """A weight gradient as its three per-step terms, and their sum on a second line (fits a 1280 px projector)."""
    terms = " + ".join(mat(m) for m in e.terms[symbol])
    return caption, rf"\begin{{aligned}} {lhs} &= {terms} \\ &= {mat(e.hand[symbol])} \end{{aligned}}"


def _backward(e: WorkedExample) -> list[tuple[str, str]]:
    dyhat_dz = _d(r"\hat y", "z")
    out = [
        ("Start at the loss.",
         _d("L", r"\hat y") + r" = -\frac{y}{\hat y} + \frac{1-y}{1-\hat y} = " + num(e.dL_dyhat)),
        (r"Through the sigmoid: the two factors multiply to $\hat y - y$.",
         rf"{dyhat_dz} = \hat y(1-\hat y) = {num(e.dyhat_dz)},\quad "
         rf"{_d('L', 'z')} = {num(e.dL_dyhat)} \cdot {num(e.dyhat_dz)} = {num(e.dL_dz)}"),
        ("Into the last hidden state: a gradient is a column vector, shaped like $h_3$.",
         rf"{_d('L', 'h_3')} = W_{{out}}^\top {_d('L', 'z')} = {mat(e.params['W_out'][0])} \cdot {num(e.dL_dz)}"
         rf" = {mat(e.dL_dh[2])}"),
    ]
    for t in (2, 1):  # ∂h_3/∂h_2, then ∂h_2/∂h_1
        jac = _d(f"h_{t + 1}", f"h_{t}")
        out.append((rf"Back one step through time: the Jacobian $\partial h_{t + 1}/\partial h_{t} = "
                    rf"\mathrm{{diag}}(1 - h_{t + 1}^2)\,W_h$, transposed.",
                    rf"{jac} = {mat(e.jacobians[t])},\quad "
                    rf"{_d('L', f'h_{t}')} = \left({jac}\right)^{{\!\top}} {_d('L', f'h_{t + 1}')} = "
                    rf"{mat(e.dL_dh[t - 1])}"))
    norms = e.gradient_norms
    out.append(("After only two steps back, the first word's state receives less gradient than the last word's. "
                "Lesson 2 stretches the same chain over 49 steps.",
                rf"\lVert {_d('L', 'h_1')} \rVert = {num(norms[0])} \;<\; \lVert {_d('L', 'h_2')} \rVert = "
                rf"{num(norms[1])} \;<\; \lVert {_d('L', 'h_3')} \rVert = {num(norms[2])}"))
    out.append((r"Through each tanh: $\delta_t = \partial L/\partial a_t = (1 - h_t^2) \odot \partial L/\partial h_t$,"
                r" a column like $a_t$.",
                r",\ ".join(rf"\delta_{t + 1} = {mat(e.delta[t])}" for t in range(3))))
    out.append(_summed(r"$\partial L/\partial W_h$: one term per step, the outer product $\delta_t h_{t-1}^\top$ "
                       r"($h_0 = 0$, so step 1 adds nothing).", _d("L", "W_h"), e, "W_h"))
    out.append(_summed(r"$\partial L/\partial W_{in}$: one term per step, $\delta_t x_t^\top$.",
                       _d("L", "W_{in}"), e, "W_in"))
    out.append(_summed(r"Biases: $b_{in}$ and $b_h$ enter every $a_t$ the same way, so both get $\sum_t \delta_t$.",
                       _d("L", "b_{in}") + " = " + _d("L", "b_h"), e, "b_in"))
    out.append(("The readout is used once, at the end.",
                rf"{_d('L', 'W_{out}')} = {_d('L', 'z')}\, h_3^\top = {mat(e.hand['W_out'])},\quad "
                rf"{_d('L', 'b_{out}')} = {num(e.dL_dz)}"))
    return out


def _general(e: WorkedExample) -> list[tuple[str, str]]:
    """The same sum for any length T, and the sizes of its terms in this example."""
    sizes = [float(np.linalg.norm(m)) for m in e.terms["W_h"]]
    return [
        ("For a sentence of any length $T$, the term of word $t$ travels back through $T - t$ Jacobians: the sum "
         "over every path from the loss to $W_h$.",
         rf"{_d('L', 'W_h')} = \sum_{{t=1}}^{{T}} \delta_t\, h_{{t-1}}^\top,\quad "
         rf"\delta_t = \mathrm{{diag}}(f'(a_t)) \left({_d('h_T', 'h_t')}\right)^{{\!\top}} {_d('L', 'h_T')},\quad "
         rf"{_d('h_T', 'h_t')} = J_T J_{{T-1}} \cdots J_{{t+1}},\quad "
         rf"J_k = {_d('h_k', 'h_{k-1}')} = \mathrm{{diag}}(f'(a_k))\, W_h"),
        ("Here $T = 3$: the sizes of the three terms. With 50 words, the earliest term that is not 0 is "
         "$t = 2$'s ($h_0 = 0$ makes $t = 1$'s vanish), and it carries 48 Jacobians.",
         r",\quad ".join(rf"\lVert \delta_{t + 1} h_{t}^\top \rVert = {num(v)}" for t, v in enumerate(sizes))),
    ]


def _update(e: WorkedExample) -> list[tuple[str, str]]:
    """One step of gradient descent with these gradients, and what it does to this sentence's loss."""
    lines = [rf"{SYMBOLS[k]} &\leftarrow {mat(e.params[k])} - {e.lr:g} {mat(e.hand[k])} \\ &= {mat(e.updated[k])}"
             for k in ("W_h", "W_in", "W_out")]
    out = [(rf"One step of gradient descent, $W \leftarrow W - \eta\, \partial L/\partial W$ with $\eta = {e.lr:g}$: "
            "the weight matrices.", r"\begin{aligned} " + r" \\ ".join(lines) + r" \end{aligned}")]
    out.append(("The same step for the biases, and the loss of this sentence before and after the step.",
                rf"b_{{in}}, b_h \leftarrow {mat(e.updated['b_in'])}, {mat(e.updated['b_h'])},\quad "
                rf"b_{{out}} \leftarrow {num(float(e.updated['b_out'][0]))},\qquad "
                rf"L: {num(e.loss)} \to {num(e.loss_after)}"))
    return out


def steps(example: WorkedExample) -> list[tuple[str, str]]:
    """Every term of the walk-through in order, as (plain-text caption, LaTeX)."""
    return _forward(example) + _backward(example) + _general(example) + _update(example)


def _move(delta: int, count: int) -> None:
    st.session_state.bptt_step = min(max(st.session_state.bptt_step + delta, 1), count)


def controls(count: int) -> tuple[str, int]:
    """The sentence and how many terms to show, on one row; returns (sentence, number of terms revealed)."""
    if "bptt_step" not in st.session_state:
        st.session_state.bptt_step = 1
    # "Next term ▶" keeps its whole label on a 1280 × 720 projector with the sidebar open.
    pick, back, forward, reveal = st.columns([2, 1, 1.4, 2.6], vertical_alignment="bottom")
    sentence = pick.selectbox("Sentence", SENTENCES, index=SENTENCES.index(SENTENCE), key="bptt_sentence")
    back.button("◀ Back", key="bptt_back", on_click=_move, args=(-1, count), width="stretch")
    forward.button("Next term ▶", key="bptt_next", on_click=_move, args=(1, count), type="primary",
                   width="stretch")
    shown = reveal.slider(f"Terms revealed (of {count})", 1, count, key="bptt_step", format="%d",
                          help="Drag to reveal the walk-through one term at a time.")
    return sentence, shown


def comparison(example: WorkedExample) -> None:
    """Hand-summed gradients next to autograd's for the same model and sentence."""
    st.subheader("Hand sums vs autograd")
    for symbol in PARAMETERS:
        st.latex(rf"\begin{{aligned}} {_d('L', SYMBOLS[symbol])} &= {mat(example.hand[symbol])} && \text{{by hand}} "
                 rf"\\ &= {mat(example.autograd[symbol])} && \text{{autograd}} \end{{aligned}}")
    st.success(f"Largest difference over every entry: {example.max_difference:.2e} (float64).")


def render() -> None:
    """The page: backpropagation through time worked out with real numbers."""
    st.title("BPTT by hand")
    st.markdown("A tanh RNN with two hidden units reads three words. Every number below is computed from its "
                "actual weights; step through the chain rule and compare with PyTorch's autograd at the end.")
    count = len(steps(worked_example()))
    sentence, shown = controls(count)
    example = worked_example(sentence)
    # The terms scroll in a box under the controls that follows the newest one: on the page itself each new term
    # landed below the fold of a 1280 × 720 projector, so "Next term" seemed to do nothing.
    with st.container(height=TERMS_HEIGHT, autoscroll=True, key="bptt_terms"):
        for index, (caption, latex) in enumerate(steps(example)[:shown]):
            st.markdown(f"**{index + 1}.** {caption}")
            st.latex(latex)
        if shown == count:
            comparison(example)
        else:
            st.caption(f"{count - shown} more term(s); the comparison with autograd appears after the last one.")

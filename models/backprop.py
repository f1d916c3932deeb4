"""Backpropagation through time with the per-timestep gradient profile, exactly.

For a many-to-one network with loss L (batch mean) and h_t the state after reading x_t,
one backward pass yields both the parameter gradients and, for every t:
  hidden[t]       = ‖∂L/∂h_t‖_F over the (B, H) matrix (total derivative via later steps),
  cell[t]         = ‖∂L/∂c_t‖_F (LSTM only),
  weight_terms[t] = ‖δ_tᵀ h_{t-1}‖_F with δ_t = ∂L/∂a_t: the step-t term of ∂L/∂W_h
                    (GRU: a_t is h_{t-1} W_hhᵀ + b_hh, whose n block r_t gates).

All models take a hand-written BPTT with no autograd, for every activation (f and f′ come
from the cells' tables), in feature-major scratch buffers reused per thread. Step t reads one
slab (h_{t-1}; x_t; 1), so its pre-activation is one GEMM; going back, a timestep is one small
GEMM and one or two in-place elementwise ops; afterwards one batched GEMM forms δ_t slab_tᵀ for
every t: the h rows are the step-t terms, whose norms are the profile, and the sums over t are
all the parameter gradients. That skips autograd's per-op bookkeeping, so the Elman step beats
the fused torch.nn.RNN one and the LSTM's comes within ~1.3× of oneDNN's fused kernel at one
thread (docs/performance.md). Tests compare everything with an independent unrolled autograd.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.cells import ACTIVATIONS, DERIVATIVES, DERIVATIVES_FROM_OUTPUT, GRU, LSTM, ElmanRNN, RecurrentModel

# name -> (loss value, ∂loss/∂logit) for a batch-mean loss over (B,) outputs.
LOSSES: dict[str, Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]] = {
    "bce": lambda z, y: (F.binary_cross_entropy_with_logits(z, y), (torch.sigmoid(z) - y) / len(z)),
    "mse": lambda z, y: (F.mse_loss(z, y), 2 * (z - y) / len(z)),
}

# The LSTM keeps PyTorch's gate order i, f, g, o in its parameters. Inside the forward pass
# the rows are reordered to i, f, o, g so one sigmoid covers the three gates; the backward
# pass uses g, i, f, o (see _lstm_backprop for why). Indices are gate blocks.
FORWARD_ORDER = (0, 1, 3, 2)
BACKWARD_ORDER = (2, 0, 1, 3)
BACKWARD_TO_TORCH = (1, 2, 0, 3)  # inverse of BACKWARD_ORDER


@dataclass(frozen=True)
class GradientProfile:
    """How the gradient of one batch spreads over the timesteps."""

    loss: float
    hidden: np.ndarray  # (T,) ‖∂L/∂h_t‖
    cell: np.ndarray | None  # (T,) ‖∂L/∂c_t‖, LSTM only
    weight_terms: np.ndarray  # (T,) ‖δ_tᵀ h_{t-1}‖
    gates: np.ndarray | None = None  # (3, T) mean forget, input, output gate (LSTM); (2, T) update, reset (GRU)
    truncated: np.ndarray | None = None  # (T,) bool: steps the gradient does not reach (truncated BPTT)


@dataclass(frozen=True)
class Backprop:
    """One forward + backward pass: what a training step needs, and its profile."""

    loss: Tensor  # () batch-mean loss
    logits: Tensor  # (B,)
    grads: dict[str, Tensor]  # by parameter name, as in model.named_parameters()
    profile: GradientProfile


class _Workspace(threading.local):
    """Per-thread scratch buffers, reused while the shapes stay the same.

    A training step needs tens of MB of scratch; fresh allocations that large come from
    the OS each time and cost a page fault per 4 KB on first touch. Thread-local, because
    several runs train at once on a shared server. Nothing returned to callers aliases them.
    Their contents are stale: whatever is read must be written first, in every step.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        buffer = self.buffers.get(name)
        if buffer is None or buffer.shape != shape or buffer.dtype != like.dtype:
            self.buffers.pop(name, None)  # free the old one before allocating the new one
            buffer = self.buffers[name] = like.new_empty(shape)
        return buffer


_workspace = _Workspace()


def free_scratch() -> None:
    """Give back this thread's scratch buffers (otherwise kept for its next step of the same size)."""
    _workspace.buffers.clear()


def _norms(x: Tensor) -> np.ndarray:
    """(T, ...) -> (T,) Frobenius norm of each timestep's slice, as float64.

    Summed in x's dtype, except the rows where that fails: squares below the normal range
    lose digits or vanish (float32: a vanishing gradient with entries under ~1e-23 would read 0),
    and squares past the largest float read inf for an exploding one. Those rows, a small norm
    or an inf one, are summed again in float64.
    """
    flat = x.flatten(1)  # (T, N)
    norms = torch.linalg.vector_norm(flat, dim=1)
    info = torch.finfo(x.dtype)
    # Entries whose squares underflow add at most N·tiny to the sum: negligible above this.
    redo = (norms < math.sqrt(flat.shape[1] * info.tiny / info.eps)) | torch.isinf(norms)
    norms = norms.double()
    if redo.any():
        norms[redo] = torch.linalg.vector_norm(flat[redo], dim=1, dtype=torch.float64)
    return norms.numpy()


def _parameter_grads(delta: Tensor, inputs: Tensor, hidden: int) -> tuple[dict[str, Tensor], np.ndarray]:
    """Gradients of W_ih, W_hh and the biases from δ_t (T, K, B); and the (T,) ‖δ_tᵀ h_{t-1}‖_F.

    Each of them is a sum over timesteps of δ_t times what step t read: inputs[t] =
    (h_{t-1}; x_t; 1), see _start. One batched GEMM forms those per-step products, in chunks
    of ~16 MB: their h_{t-1} rows are the weight terms of the profile, and the sums over t are
    the gradients, so no GEMM is spent on the sums.
    """
    T, K, _ = delta.shape
    rows = inputs.shape[1]  # H + D + 1
    chunk = min(T, max(1, (1 << 22) // (K * rows)))
    products = _workspace.get("products", (chunk, rows, K), delta)
    total = delta.new_zeros(rows, K)
    norms = []
    for s in range(0, T, chunk):
        n = min(chunk, T - s)
        torch.bmm(inputs[s : s + n], delta[s : s + n].transpose(1, 2), out=products[:n])  # (n, H + D + 1, K)
        norms.append(_norms(products[:n, :hidden]))  # the step-t term, transposed: the same norm
        total += products[:n].sum(0)
    bias = total[-1]
    grads = {
        "rnn.weight_ih_l0": total[hidden:-1].T.contiguous(),
        "rnn.weight_hh_l0": total[:hidden].T.contiguous(),
        "rnn.bias_ih_l0": bias,
        "rnn.bias_hh_l0": bias.clone(),
    }
    return grads, np.concatenate(norms)


def _first_kept(T: int, window: int) -> int:
    """The earliest step truncated BPTT backpropagates into: the state is detached before the last
    `window` steps, so ∂L/∂h_t is exactly 0 for t < T - window. 0 (full BPTT) when window is 0 or ≥ T."""
    return T - window if 0 < window < T else 0


def _truncated_mask(T: int, start: int) -> np.ndarray:
    """(T,) bool, True where the gradient was cut off (t < start): a mark of its own, not a small value."""
    return np.arange(T) < start


def _start(model: RecurrentModel, x: Tensor, gates: int) -> tuple[Tensor, Tensor, Tensor]:
    """Buffers for one pass over x (B, T, D), and the weights that read them.

    Everything runs feature-major, each timestep's (H, B) slab contiguous: per-timestep
    elementwise ops on strided slices cost several times more than on contiguous ones.
    inputs (T + 1, H + D + 1, B): inputs[t] = (h_{t-1}; x_t; 1), all that step t reads, so
    that a_t = (W_hh W_ih b) inputs[t] is one GEMM forward and _parameter_grads needs one.
    h = inputs[:, :H] is a view: h[t + 1] = h_t, h[0] = the zero initial state.
    w (gates·H, H + D + 1) stacks the weights, gate blocks in FORWARD_ORDER.
    """
    rnn = model.rnn
    inputs = _inputs(x, rnn.hidden_size)
    bias = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[:, None]
    w = _gate_blocks(torch.cat([rnn.weight_hh_l0, rnn.weight_ih_l0, bias], dim=1), FORWARD_ORDER[:gates])
    return inputs, inputs[:, :rnn.hidden_size], w


def _inputs(x: Tensor, hidden: int) -> Tensor:
    """The (T + 1, H + D + 1, B) buffer of _start, with x, the ones and h_{-1} = 0 written in."""
    B, T, D = x.shape
    inputs = _workspace.get("inputs", (T + 1, hidden + D + 1, B), x)
    inputs[:T, hidden : hidden + D] = x.permute(1, 2, 0)
    inputs[:T, -1] = 1.0
    inputs[0, :hidden] = 0.0
    return inputs


def _head(model: RecurrentModel, h_last: Tensor, y: Tensor, loss: str, grad_h: Tensor
          ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Loss, logits (B,) and the head's gradients from h_{T-1} (H, B); writes ∂L/∂h_{T-1} into grad_h."""
    head = model.head
    z = F.linear(h_last.T, head.weight, head.bias).squeeze(-1)  # (B,)
    value, dz = LOSSES[loss](z, y)
    torch.mul(head.weight.T, dz, out=grad_h)  # (H, B)
    return value, z, {"head.weight": dz[None] @ h_last.T, "head.bias": dz.sum().reshape(1)}


@torch.no_grad()
def _rnn_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str, window: int) -> Backprop:
    rnn = model.rnn
    T = x.shape[1]
    start = _first_kept(T, window)
    inputs, h, w = _start(model, x, 1)
    a = _workspace.get("rnn.a", h[1:].shape, x)  # (T, H, B), a_t
    act = ACTIVATIONS[rnn.activation]
    a_t, in_t, h_t = a.unbind(0), inputs.unbind(0), h.unbind(0)  # per-timestep views, made once
    for t in range(T):
        torch.mm(w, in_t[t], out=a_t[t])
        act(a_t[t], rnn.negative_slope, out=h_t[t + 1])
        if rnn.residual:
            h_t[t + 1].add_(h_t[t])
    grad_h = _workspace.get("grad_h", h[1:].shape, x)  # ∂L/∂h_t
    value, z, head_grads = _head(model, h[T], y, loss, grad_h[T - 1])

    # f'(a_t), (T, H, B), later δ_t; from h_t = f(a_t) when there is no skip path to undo.
    if rnn.residual:
        delta = DERIVATIVES[rnn.activation](a, rnn.negative_slope)
    else:
        delta = DERIVATIVES_FROM_OUTPUT[rnn.activation](h[1:], rnn.negative_slope)
    w_hh_t = rnn.weight_hh_l0.T.contiguous()  # ∂L/∂h_{t-1} = W_hhᵀ δ_t
    d_t, g_t = delta.unbind(0), grad_h.unbind(0)
    for t in range(T - 1, start - 1, -1):
        d_t[t].mul_(g_t[t])
        if t > start:
            torch.mm(w_hh_t, d_t[t], out=g_t[t - 1])
            if rnn.residual:  # the skip path: ∂h_t/∂h_{t-1} = I + diag(f') W_h
                g_t[t - 1].add_(g_t[t])
    delta[:start], grad_h[:start] = 0.0, 0.0  # the loop never reached them: f′ and stale scratch
    grads, terms = _parameter_grads(delta, inputs[:T], rnn.hidden_size)
    profile = GradientProfile(float(value), _norms(grad_h), None, terms, truncated=_truncated_mask(T, start))
    return Backprop(value, z, grads | head_grads, profile)


def _gate_blocks(weight: Tensor, order: tuple[int, ...]) -> Tensor:
    """(G·H, ·) or (G·H,) rows with the gate blocks in `order`."""
    return weight.view(len(order), -1, *weight.shape[1:])[list(order)].flatten(0, 1)


def _lstm_forward(rnn: LSTM, inputs: Tensor, w: Tensor) -> Tensor:
    """Runs the LSTM, keeping in one buffer what the backward pass needs (inputs, w from _start).

    cells (T + 1, 7, H, B): cells[t] = (i_t, f_t, o_t, a_g, g_t, c_{t-1}, act(c_t)) with the
    gates after their nonlinearity and a_g the candidate's pre-activation; c_t sits at
    cells[t + 1, 5], and c_{-1} = cells[0, 5] = 0. _lstm_multipliers reuses the same memory.
    """
    T, H, B = inputs.shape[0] - 1, rnn.hidden_size, inputs.shape[2]
    cells = _workspace.get("lstm.cells", (T + 1, 7, H, B), inputs)
    cells[0, 5] = 0.0
    act = ACTIVATIONS[rnn.activation]
    # Per-timestep views, made once: indexing inside the loop would cost more than the maths.
    a_t, sig_t, i_t, f_t, o_t, pre_g, g_t, c_t, act_c = (v.unbind(0) for v in (
        cells[:, :4].flatten(1, 2), cells[:, :3], *cells.unbind(1)))
    in_t, h_t = inputs.unbind(0), inputs[:, :H].unbind(0)
    for t in range(T):
        torch.mm(w, in_t[t], out=a_t[t])  # (4H, B) pre-activations
        sig_t[t].sigmoid_()
        act(pre_g[t], rnn.negative_slope, out=g_t[t])
        torch.mul(i_t[t], g_t[t], out=c_t[t + 1])
        c_t[t + 1].addcmul_(f_t[t], c_t[t])  # c_t = f_t c_{t-1} + i_t g_t
        act(c_t[t + 1], rnn.negative_slope, out=act_c[t])
        torch.mul(o_t[t], act_c[t], out=h_t[t + 1])  # h_t = o_t act(c_t)
    return cells


def _lstm_multipliers(rnn: LSTM, cells: Tensor) -> Tensor:
    """Turns cells into the multipliers of the backward pass, in place: slots
    (0, f_t, i_t g′_t, g_t σ′(i_t), c_{t-1} σ′(f_t), act(c_t) σ′(o_t), o_t act′(c_t)).

    Once multiplied by ∂L/∂c_t (slots 1-4) or ∂L/∂h_t (slots 5-6) these are the carry
    f_t ∂L/∂c_t into step t-1, δ_t in the gate order g, i, f, o, and the direct part of ∂L/∂c_t.
    In place, so the LSTM needs one (T + 1, 7, H, B) buffer rather than two; the order of the
    ops is the order in which the forward values are last read. σ′ = s(1 - s).
    """
    T = cells.shape[0] - 1
    slope = DERIVATIVES_FROM_OUTPUT[rnn.activation]
    i, f, o, ig, g, c_prev, act_c = cells[:T].unbind(1)  # (T, H, B) each; the names say what they hold now
    mg = slope(g, rnn.negative_slope).mul_(i)
    torch.addcmul(i, i, i, value=-1, out=ig).mul_(g)  # slot 3: g σ′(i)
    torch.addcmul(f, f, f, value=-1, out=g).mul_(c_prev)  # slot 4: c_{t-1} σ′(f)
    torch.addcmul(o, o, o, value=-1, out=c_prev).mul_(act_c)  # slot 5: act(c) σ′(o)
    torch.mul(o, slope(act_c, rnn.negative_slope), out=act_c)  # slot 6: o act′(c)
    o.copy_(mg)  # slot 2: i g′
    cells[:, 0] = 0.0
    cells[T, 1] = 0.0  # no carry into the last step
    return cells


@torch.no_grad()
def _lstm_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str, window: int) -> Backprop:
    """Hand-written LSTM BPTT; per timestep, one GEMM and two elementwise ops go backwards.

    With ∂L/∂h_t known, ∂L/∂c_t = ∂L/∂h_t o_t act′(c_t) + f_{t+1} ∂L/∂c_{t+1}; then
    δ_t = (∂L/∂c_t g_t σ′(i_t), ∂L/∂c_t c_{t-1} σ′(f_t), ∂L/∂c_t i_t act′(g_t), ∂L/∂h_t act(c_t) σ′(o_t))
    and ∂L/∂h_{t-1} = W_hhᵀ δ_t. The multiplier slots are laid out so that each of those is one
    broadcast op on adjacent memory: (δ_o, direct part) from ∂L/∂h_t, adding the carry that
    step t + 1 left next to a zero slot; then (carry, δ_g, δ_i, δ_f) from ∂L/∂c_t.
    """
    rnn = model.rnn
    T = x.shape[1]
    start = _first_kept(T, window)
    inputs, h, w = _start(model, x, 4)
    cells = _lstm_forward(rnn, inputs, w)
    gate_means = cells[:T, :3].mean((2, 3))[:, [1, 0, 2]].T  # (3, T) forget, input, output
    grad_h = _workspace.get("grad_h", h[1:].shape, x)  # ∂L/∂h_t
    value, z, head_grads = _head(model, h[T], y, loss, grad_h[T - 1])
    m = _lstm_multipliers(rnn, cells)
    w_hh_t = _gate_blocks(rnn.weight_hh_l0, BACKWARD_ORDER).T.contiguous()  # (H, 4H)
    from_h, carry_in, from_c = m[:, 5:7].unbind(0), m[:, 0:2].unbind(0), m[:, 1:5].unbind(0)
    grad_c, delta_t = m[:, 6:7].unbind(0), m[:, 2:6].flatten(1, 2).unbind(0)
    g_t, dh = grad_h.unbind(0), grad_h[:, None].unbind(0)
    for t in range(T - 1, start - 1, -1):
        torch.addcmul(carry_in[t + 1], from_h[t], dh[t], out=from_h[t])  # (δ_o, ∂L/∂c_t)
        from_c[t].mul_(grad_c[t])  # (f_t ∂L/∂c_t, δ_g, δ_i, δ_f)
        if t > start:
            torch.mm(w_hh_t, delta_t[t], out=g_t[t - 1])
    m[:start, 2:7], grad_h[:start] = 0.0, 0.0  # δ and ∂L/∂c_t of steps the loop never reached
    grads, terms = _parameter_grads(m[:T, 2:6].flatten(1, 2), inputs[:T], rnn.hidden_size)  # δ: g, i, f, o
    grads = {k: _gate_blocks(v, BACKWARD_TO_TORCH) for k, v in grads.items()}
    profile = GradientProfile(float(value), _norms(grad_h), _norms(m[:T, 6]), terms, gate_means.double().numpy(),
                              _truncated_mask(T, start))
    return Backprop(value, z, grads | head_grads, profile)


def _gru_forward(rnn: GRU, inputs: Tensor) -> tuple[Tensor, Tensor]:
    """Runs the GRU (inputs from _inputs), keeping what the backward pass needs.

    cells (T, 4, H, B): cells[t] = (r_t, z_t, hn_t, n_t) with hn_t = W_hn h_{t-1} + b_hn. One GEMM
    per step gives (a_r, a_z, hn_t): the rows of w (3H, H + D + 1) are (W_hh W_ih b_ih + b_hh) for
    r and z and (W_hn 0 b_hn) for n, since b_hn must stay inside r ⊙ (…). The candidate's input
    part xn_t = W_in x_t + b_in does not depend on h, so one batched GEMM makes it for every t.
    Returns (cells, w).
    """
    H = rnn.hidden_size
    T, rows, B = inputs.shape[0] - 1, inputs.shape[1], inputs.shape[2]
    w_hh, w_ih, b_ih, b_hh = rnn.weight_hh_l0, rnn.weight_ih_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
    w = torch.cat([
        torch.cat([w_hh[: 2 * H], w_ih[: 2 * H], (b_ih + b_hh)[: 2 * H, None]], dim=1),
        torch.cat([w_hh[2 * H :], w_ih.new_zeros(H, rows - H - 1), b_hh[2 * H :, None]], dim=1),
    ])
    xn = _workspace.get("gru.xn", (T, H, B), inputs)
    torch.matmul(torch.cat([w_ih[2 * H :], b_ih[2 * H :, None]], dim=1), inputs[:T, H:], out=xn)
    cells = _workspace.get("gru.cells", (T, 4, H, B), inputs)
    act = ACTIVATIONS[rnn.activation]
    a_t, rz_t, r_t, z_t, hn_t, n_t = (v.unbind(0) for v in (cells[:, :3].flatten(1, 2), cells[:, :2],
                                                            *cells.unbind(1)))
    in_t, h_t, xn_t = inputs.unbind(0), inputs[:, :H].unbind(0), xn.unbind(0)
    for t in range(T):
        torch.mm(w, in_t[t], out=a_t[t])  # (a_r, a_z, hn_t)
        rz_t[t].sigmoid_()
        torch.addcmul(xn_t[t], r_t[t], hn_t[t], out=n_t[t])
        act(n_t[t], rnn.negative_slope, out=n_t[t])
        torch.lerp(n_t[t], h_t[t], z_t[t], out=h_t[t + 1])  # h_t = n_t + z_t (h_{t-1} − n_t)
    return cells, w


def _gru_multipliers(rnn: GRU, cells: Tensor, h_prev: Tensor) -> Tensor:
    """(T, 5, H, B): what ∂L/∂h_t multiplies into (δ_r, δ_z, δ_hn, δ_n, the carry into ∂L/∂h_{t-1}).

    δ_n = ∂L/∂h_t (1 − z) act′(n), δ_hn = δ_n r (the n block of ∂L/∂a_t, through r ⊙ hn),
    δ_r = δ_n hn σ′(r), δ_z = ∂L/∂h_t (h_{t-1} − n) σ′(z), and the direct carry ∂L/∂h_t z.
    All elementwise in ∂L/∂h_t, so they are formed for every t at once before the loop.
    """
    r, z, hn, n = cells.unbind(1)
    m = _workspace.get("gru.m", (cells.shape[0], 5, *cells.shape[2:]), cells)
    m_r, m_z, m_hn, m_n, carry = m.unbind(1)
    torch.mul(DERIVATIVES_FROM_OUTPUT[rnn.activation](n, rnn.negative_slope), 1 - z, out=m_n)
    torch.mul(m_n, r, out=m_hn)
    torch.addcmul(r, r, r, value=-1, out=m_r).mul_(m_n).mul_(hn)  # σ′(r) = r(1 − r)
    torch.sub(h_prev, n, out=m_z).mul_(z).mul_(1 - z)
    carry.copy_(z)
    return m


@torch.no_grad()
def _gru_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str, window: int) -> Backprop:
    """Hand-written GRU BPTT; per timestep, one broadcast multiply and one GEMM go backwards:
    (δ_r, δ_z, δ_hn, δ_n, carry) = ∂L/∂h_t × multipliers, then ∂L/∂h_{t-1} = carry + W_hhᵀ (δ_r, δ_z, δ_hn).
    """
    rnn = model.rnn
    H, T = rnn.hidden_size, x.shape[1]
    start = _first_kept(T, window)
    inputs = _inputs(x, H)
    h = inputs[:, :H]
    cells, _ = _gru_forward(rnn, inputs)
    gate_means = cells[:, [1, 0]].mean((2, 3)).T  # (2, T) update z, reset r
    grad_h = _workspace.get("grad_h", h[1:].shape, x)  # ∂L/∂h_t
    value, z, head_grads = _head(model, h[T], y, loss, grad_h[T - 1])
    m = _gru_multipliers(rnn, cells, h[:T])
    w_hh_t = rnn.weight_hh_l0.T.contiguous()  # (H, 3H)
    m_t, delta_t, carry_t, g_t = m.unbind(0), m[:, :3].flatten(1, 2).unbind(0), m[:, 4].unbind(0), grad_h.unbind(0)
    for t in range(T - 1, start - 1, -1):
        m_t[t].mul_(g_t[t])
        if t > start:
            torch.addmm(carry_t[t], w_hh_t, delta_t[t], out=g_t[t - 1])
    m[:start], grad_h[:start] = 0.0, 0.0  # multipliers and stale scratch of steps the loop never reached
    grads, terms = _parameter_grads(m[:, :3].flatten(1, 2), inputs[:T], H)
    # The x and bias rows met δ_hn in the n block; the input side's n block is δ_n's instead.
    n_part = torch.matmul(inputs[:T, H:], m[:, 3].transpose(1, 2)).sum(0)  # (D + 1, H)
    grads["rnn.weight_ih_l0"][2 * H :] = n_part[:-1].T
    grads["rnn.bias_ih_l0"][2 * H :] = n_part[-1]
    profile = GradientProfile(float(value), _norms(grad_h), None, terms, gate_means.double().numpy(),
                              _truncated_mask(T, start))
    return Backprop(value, z, grads | head_grads, profile)


# Which hand-written BPTT each cell class takes.
ROUTES: dict[type, Callable[[RecurrentModel, Tensor, Tensor, str, int], Backprop]] = {
    ElmanRNN: _rnn_backprop, LSTM: _lstm_backprop, GRU: _gru_backprop}


def backprop(model: RecurrentModel, inputs: Tensor, targets: Tensor, loss: str = "bce", window: int = 0
             ) -> Backprop:
    """Loss, parameter gradients and profile of one batch; never touches `.grad`.

    window = k > 0 truncates BPTT to the last k steps (RunConfig.bptt_window): the state entering
    step T - k is treated as a constant, so ∂L/∂h_t = 0 for t < T - k and profile.truncated marks them.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not one of {', '.join(LOSSES)}")
    dtype = model.head.weight.dtype
    x, y = inputs.to(dtype), targets.to(dtype)
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ValueError(f"window={window!r} must be a non-negative whole number (0 = full BPTT)")
    return ROUTES[type(model.rnn)](model, x, y, loss, window)


def gradient_profile(model: RecurrentModel, inputs: Tensor, targets: Tensor, loss: str = "bce",
                     window: int = 0) -> GradientProfile:
    """Per-timestep gradient norms of the batch-mean loss (truncated to `window` steps if > 0), without
    updating the model."""
    return backprop(model, inputs, targets, loss, window).profile

"""Backpropagation through time with the per-timestep gradient profile, exactly.

For a many-to-one network with loss L (batch mean) and h_t the state after reading x_t,
one backward pass yields both the parameter gradients and, for every t:
  hidden[t]       = ‖∂L/∂h_t‖_F over the (B, H) matrix (total derivative via later steps),
  cell[t]         = ‖∂L/∂c_t‖_F (LSTM only),
  weight_terms[t] = ‖δ_tᵀ h_{t-1}‖_F with δ_t = ∂L/∂a_t: the step-t term of ∂L/∂W_h.

Both models take a hand-written BPTT with no autograd, for every activation (f and f′ come
from the cells' tables): the forward pass keeps what the backward pass needs (states, and for
the LSTM the gate values and cell states) in preallocated buffers, one timestep at a time is
one small GEMM plus a few in-place elementwise ops, and every weight gradient is one batched
GEMM over all timesteps. That skips autograd's per-op bookkeeping, which is why the Elman step
beats the fused torch.nn.RNN one and the LSTM comes close to oneDNN's fused kernel. The step-t
terms δ_tᵀ h_{t-1} are formed once (one batched GEMM): their norms are the profile and their
sum is ∂L/∂W_h. Tests compare everything with an independent unrolled autograd computation.
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

from models.cells import DERIVATIVES, DERIVATIVES_FROM_OUTPUT, LSTM, ElmanRNN, RecurrentModel

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
    gates: np.ndarray | None = None  # (3, T) mean forget, input, output gate (LSTM only)


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


def _norms(x: Tensor) -> np.ndarray:
    """(T, ...) -> (T,) Frobenius norm of each timestep's slice, as float64.

    Summed in x's dtype, except where its squares would leave the normal range: in float32
    a vanishing gradient (largest entry below ~3e-16) would lose digits and read 0 below ~1e-23,
    and an exploding one (above ~1e16) would read inf. Those few rows are summed in float64.
    """
    flat = x.flatten(1)  # (T, N)
    norms = torch.linalg.vector_norm(flat, dim=1).double()
    largest = torch.linalg.vector_norm(flat, ord=math.inf, dim=1)
    info = torch.finfo(x.dtype)
    safe = (largest >= math.sqrt(info.tiny / info.eps)) & (largest <= math.sqrt(info.max / flat.shape[1]))
    redo = ~safe & (largest > 0) & torch.isfinite(largest)
    if redo.any():
        norms[redo] = torch.linalg.vector_norm(flat[redo], dim=1, dtype=torch.float64)
    return norms.numpy()


def _parameter_grads(delta: Tensor, h_prev: Tensor, x: Tensor) -> tuple[dict[str, Tensor], np.ndarray]:
    """Weight gradients from δ_t (T, K, B), h_{t-1} (T, H, B), x_t (T, D, B); and the (T,) ‖δ_tᵀ h_{t-1}‖_F.

    The step-t terms δ_tᵀ h_{t-1} are formed once, in chunks of ~16 MB: their norms are the
    profile and their sum is ∂L/∂W_h, so it costs no GEMM of its own.
    """
    T, K, _ = delta.shape
    H = h_prev.shape[1]
    chunk = min(T, max(1, (1 << 22) // (K * H)))
    terms = _workspace.get("terms", (chunk, K, H), delta)
    w_hh = delta.new_zeros(K, H)
    norms = []
    for s in range(0, T, chunk):
        n = min(chunk, T - s)
        torch.bmm(delta[s : s + n], h_prev[s : s + n].transpose(1, 2), out=terms[:n])  # (n, K, H)
        norms.append(_norms(terms[:n]))
        w_hh += terms[:n].sum(0)
    bias = delta.sum((0, 2))
    grads = {
        "rnn.weight_ih_l0": torch.bmm(x, delta.transpose(1, 2)).sum(0).T,  # (K, D); this way round is the fast one
        "rnn.weight_hh_l0": w_hh,
        "rnn.bias_ih_l0": bias,
        "rnn.bias_hh_l0": bias.clone(),
    }
    return grads, np.concatenate(norms)


def _start(model: RecurrentModel, x: Tensor, gates: int) -> tuple[Tensor, Tensor, Tensor]:
    """x (B, T, D) -> x_t as (T, D, B), the pre-activations x_t W_ihᵀ + b as (T, gates, H, B), and h.

    Everything runs feature-major, each timestep's (H, B) slab contiguous: per-timestep
    elementwise ops on strided slices cost several times more than on contiguous ones.
    h[t + 1] = h_t as (H, B), h[0] = the zero initial state.
    """
    rnn = model.rnn
    B, T, _ = x.shape
    H = rnn.hidden_size
    x_t = x.permute(1, 2, 0).contiguous()  # (T, D, B)
    pre = _workspace.get(f"pre{gates}", (T, gates, H, B), x)
    order = FORWARD_ORDER if gates == 4 else (0,)
    bias = _gate_blocks(rnn.bias_ih_l0 + rnn.bias_hh_l0, order)[:, None]  # (G·H, 1)
    w_ih = _gate_blocks(rnn.weight_ih_l0, order).expand(T, -1, -1)  # (T, G·H, D)
    torch.baddbmm(bias, w_ih, x_t, out=pre.view(T, gates * H, B))
    h = _workspace.get("h", (T + 1, H, B), x)
    h[0].zero_()
    return x_t, pre, h


def _head(model: RecurrentModel, h_last: Tensor, y: Tensor, loss: str, grad_h: Tensor
          ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Loss, logits (B,) and the head's gradients from h_{T-1} (H, B); writes ∂L/∂h_{T-1} into grad_h."""
    head = model.head
    z = F.linear(h_last.T, head.weight, head.bias).squeeze(-1)  # (B,)
    value, dz = LOSSES[loss](z, y)
    torch.mul(head.weight.T, dz, out=grad_h)  # (H, B)
    return value, z, {"head.weight": dz[None] @ h_last.T, "head.bias": dz.sum().reshape(1)}


@torch.no_grad()
def _rnn_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str) -> Backprop:
    rnn = model.rnn
    T = x.shape[1]
    x_t, pre, h = _start(model, x, 1)
    a = pre[:, 0]  # (T, H, B), a_t
    w_hh = rnn.weight_hh_l0
    a_t, h_t = a.unbind(0), h.unbind(0)  # per-timestep views, made once
    for t in range(T):
        a_t[t].addmm_(w_hh, h_t[t])
        rnn.act(a_t[t], out=h_t[t + 1])
        if rnn.residual:
            h_t[t + 1].add_(h_t[t])
    grad_h = _workspace.get("grad_h", h[1:].shape, x)  # ∂L/∂h_t
    value, z, head_grads = _head(model, h[T], y, loss, grad_h[T - 1])

    # f'(a_t), (T, H, B), later δ_t; from h_t = f(a_t) when there is no skip path to undo.
    if rnn.residual:
        delta = DERIVATIVES[rnn.activation](a, rnn.negative_slope)
    else:
        delta = DERIVATIVES_FROM_OUTPUT[rnn.activation](h[1:], rnn.negative_slope)
    w_hh_t = w_hh.T.contiguous()  # ∂L/∂h_{t-1} = W_hhᵀ δ_t
    d_t, g_t = delta.unbind(0), grad_h.unbind(0)
    for t in range(T - 1, -1, -1):
        d_t[t].mul_(g_t[t])
        if t > 0:
            torch.mm(w_hh_t, d_t[t], out=g_t[t - 1])
            if rnn.residual:  # the skip path: ∂h_t/∂h_{t-1} = I + diag(f') W_h
                g_t[t - 1].add_(g_t[t])
    grads, terms = _parameter_grads(delta, h[:-1], x_t)
    profile = GradientProfile(float(value), _norms(grad_h), None, terms)
    return Backprop(value, z, grads | head_grads, profile)


def _gate_blocks(weight: Tensor, order: tuple[int, ...]) -> Tensor:
    """(G·H, ·) or (G·H,) rows with the gate blocks in `order`."""
    return weight.view(len(order), -1, *weight.shape[1:])[list(order)].flatten(0, 1)


def _lstm_forward(rnn: LSTM, pre: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
    """Runs the LSTM from the pre-activations, keeping what the backward pass needs.

    pre (T, 4, H, B) becomes the gates: pre[t] = (i_t, f_t, o_t, ·) after the sigmoid.
    state (T + 1, 3, H, B): state[t] = (g_t, c_{t-1}, act(c_t)), so c_t sits at state[t + 1, 1].
    """
    T, _, H, B = pre.shape
    state = _workspace.get("lstm.state", (T + 1, 3, H, B), pre)
    state[0, 1].zero_()  # c_{-1}
    w_hh = _gate_blocks(rnn.weight_hh_l0, FORWARD_ORDER)  # (4H, H)
    # Per-timestep views, made once: indexing inside the loop would cost more than the maths.
    a_t, sig_t, i_t, f_t, o_t, pre_g = (v.unbind(0) for v in (
        pre.flatten(1, 2), pre[:, :3], pre[:, 0], pre[:, 1], pre[:, 2], pre[:, 3]))
    g_t, c_t, act_c, h_t = state[:, 0].unbind(0), state[:, 1].unbind(0), state[:, 2].unbind(0), h.unbind(0)
    for t in range(T):
        a_t[t].addmm_(w_hh, h_t[t])  # (4H, B) pre-activations
        sig_t[t].sigmoid_()
        rnn.act(pre_g[t], out=g_t[t])
        torch.mul(i_t[t], g_t[t], out=c_t[t + 1])
        c_t[t + 1].addcmul_(f_t[t], c_t[t])  # c_t = f_t c_{t-1} + i_t g_t
        rnn.act(c_t[t + 1], out=act_c[t])
        torch.mul(o_t[t], act_c[t], out=h_t[t + 1])  # h_t = o_t act(c_t)
    return pre, state


def _lstm_multipliers(rnn: LSTM, gates: Tensor, state: Tensor) -> Tensor:
    """(T + 1, 7, H, B) slots (0, f_t, i_t g′_t, g_t σ′(i_t), c_{t-1} σ′(f_t), act(c_t) σ′(o_t), o_t act′(c_t)).

    Once multiplied by ∂L/∂c_t (slots 1-4) or ∂L/∂h_t (slots 5-6) these are the carry
    f_t ∂L/∂c_t into step t-1, δ_t in the gate order g, i, f, o, and the direct part of ∂L/∂c_t.
    """
    T, _, H, B = gates.shape
    slope = DERIVATIVES_FROM_OUTPUT[rnn.activation]
    m = _workspace.get("lstm.multipliers", (T + 1, 7, H, B), gates)
    m[:, 0].zero_()
    m[T, 1].zero_()  # no carry into the last step
    sig = gates[:, :3]  # i, f, o
    torch.addcmul(sig, sig, sig, value=-1, out=m[:T, 3:6]).mul_(state[:T])  # σ′ = s(1 - s), times g, c_{t-1}, act(c)
    torch.mul(gates[:, 0::2], slope(state[:T, 0::2], rnn.negative_slope), out=m[:T, 2::4])  # i g′, o act′(c)
    m[:T, 1].copy_(gates[:, 1])
    return m


@torch.no_grad()
def _lstm_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str) -> Backprop:
    """Hand-written LSTM BPTT; per timestep, one GEMM and two elementwise ops go backwards.

    With ∂L/∂h_t known, ∂L/∂c_t = ∂L/∂h_t o_t act′(c_t) + f_{t+1} ∂L/∂c_{t+1}; then
    δ_t = (∂L/∂c_t g_t σ′(i_t), ∂L/∂c_t c_{t-1} σ′(f_t), ∂L/∂c_t i_t act′(g_t), ∂L/∂h_t act(c_t) σ′(o_t))
    and ∂L/∂h_{t-1} = W_hhᵀ δ_t. The multiplier slots are laid out so that each of those is one
    broadcast op on adjacent memory: (δ_o, direct part) from ∂L/∂h_t, adding the carry that
    step t + 1 left next to a zero slot; then (carry, δ_g, δ_i, δ_f) from ∂L/∂c_t.
    """
    rnn = model.rnn
    T = x.shape[1]
    x_t, pre, h = _start(model, x, 4)
    gates, state = _lstm_forward(rnn, pre, h)
    grad_h = _workspace.get("grad_h", h[1:].shape, x)  # ∂L/∂h_t
    value, z, head_grads = _head(model, h[T], y, loss, grad_h[T - 1])
    m = _lstm_multipliers(rnn, gates, state)
    w_hh_t = _gate_blocks(rnn.weight_hh_l0, BACKWARD_ORDER).T.contiguous()  # (H, 4H)
    from_h, carry_in, from_c = m[:, 5:7].unbind(0), m[:, 0:2].unbind(0), m[:, 1:5].unbind(0)
    grad_c, delta_t = m[:, 6:7].unbind(0), m[:, 2:6].flatten(1, 2).unbind(0)
    g_t, dh = grad_h.unbind(0), grad_h[:, None].unbind(0)
    for t in range(T - 1, -1, -1):
        torch.addcmul(carry_in[t + 1], from_h[t], dh[t], out=from_h[t])  # (δ_o, ∂L/∂c_t)
        from_c[t].mul_(grad_c[t])  # (f_t ∂L/∂c_t, δ_g, δ_i, δ_f)
        if t > 0:
            torch.mm(w_hh_t, delta_t[t], out=g_t[t - 1])
    grads, terms = _parameter_grads(m[:T, 2:6].flatten(1, 2), h[:-1], x_t)  # δ in gate order g, i, f, o
    grads = {k: _gate_blocks(v, BACKWARD_TO_TORCH) for k, v in grads.items()}
    gate_means = gates[:, :3].mean((2, 3))[:, [1, 0, 2]].T  # (3, T) forget, input, output
    profile = GradientProfile(float(value), _norms(grad_h), _norms(m[:T, 6]), terms, gate_means.double().numpy())
    return Backprop(value, z, grads | head_grads, profile)


def backprop(model: RecurrentModel, inputs: Tensor, targets: Tensor, loss: str = "bce") -> Backprop:
    """Loss, parameter gradients and profile of one batch; never touches `.grad`."""
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not one of {', '.join(LOSSES)}")
    dtype = model.head.weight.dtype
    x, y = inputs.to(dtype), targets.to(dtype)
    route = _rnn_backprop if isinstance(model.rnn, ElmanRNN) else _lstm_backprop
    return route(model, x, y, loss)


def gradient_profile(model: RecurrentModel, inputs: Tensor, targets: Tensor, loss: str = "bce") -> GradientProfile:
    """Per-timestep gradient norms of the batch-mean loss, without updating the model."""
    return backprop(model, inputs, targets, loss).profile

"""Backpropagation through time with the per-timestep gradient profile, exactly.

For a many-to-one network with loss L (batch mean) and h_t the state after reading x_t,
one backward pass yields both the parameter gradients and, for every t:
  hidden[t]       = ‖∂L/∂h_t‖_F over the (B, H) matrix (total derivative via later steps),
  cell[t]         = ‖∂L/∂c_t‖_F (LSTM only),
  weight_terms[t] = ‖δ_tᵀ h_{t-1}‖_F with δ_t = ∂L/∂a_t: the step-t term of ∂L/∂W_h.

Three routes, chosen by model, all exact (tests compare them to unrolled autograd):
- Elman / residual RNN: a hand-written BPTT with no autograd — faster than the fused
  torch.nn.RNN step, because it skips autograd's bookkeeping (see ../shared/notes).
- tanh LSTM: torch's fused LSTM kernel, with an all-zero "probe" input block of width 4H
  fed through a fixed identity weight: its input gradient at step t *is* δ_t.
- any other LSTM: a Python loop under autograd, gradients taken w.r.t. every h_t, c_t, a_t.
"""

from __future__ import annotations

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


def _norms(x: Tensor) -> np.ndarray:
    """(T, B, K) -> (T,) Frobenius norm of each timestep's (B, K) slice."""
    return torch.linalg.vector_norm(x, dim=(1, 2)).double().numpy()


def _term_norms(delta: Tensor, h_prev: Tensor) -> np.ndarray:
    """(T, B, K), (T, B, H) -> (T,) ‖δ_tᵀ h_{t-1}‖_F, chunked so memory stays ~16 MB."""
    T, _, K = delta.shape
    chunk = max(1, (1 << 22) // (K * h_prev.shape[2]))
    out = [
        torch.linalg.matrix_norm(torch.bmm(delta[s : s + chunk].transpose(1, 2), h_prev[s : s + chunk]))
        for s in range(0, T, chunk)
    ]  # each (chunk,)
    return torch.cat(out).double().numpy()


def _shift(h: Tensor) -> Tensor:
    """(T, B, H) states h_0..h_{T-1} -> the previous states, with the zero initial state first."""
    return torch.cat([torch.zeros_like(h[:1]), h[:-1]])


def _head_grads(dz: Tensor, h_last: Tensor) -> dict[str, Tensor]:
    return {"head.weight": dz[None] @ h_last, "head.bias": dz.sum().reshape(1)}


def _recurrent_grads(delta: Tensor, x: Tensor, h_prev: Tensor) -> dict[str, Tensor]:
    """Each weight gradient is a sum over timesteps; one flattened GEMM does the sum."""
    flat_delta = delta.flatten(0, 1)  # (T·B, K)
    bias = flat_delta.sum(0)
    return {
        "rnn.weight_ih_l0": flat_delta.T @ x.flatten(0, 1),
        "rnn.weight_hh_l0": flat_delta.T @ h_prev.flatten(0, 1),
        "rnn.bias_ih_l0": bias,
        "rnn.bias_hh_l0": bias.clone(),
    }


@torch.no_grad()
def _rnn_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str) -> Backprop:
    rnn, head = model.rnn, model.head
    T, B = x.shape[1], x.shape[0]
    x = x.transpose(0, 1)  # (T, B, D): each timestep contiguous
    w_hh = rnn.weight_hh_l0
    a = rnn.input_projection(x).contiguous()  # (T, B, H), becomes a_t in the loop
    h = x.new_zeros(T + 1, B, rnn.hidden_size)  # h[t + 1] = h_t; h[0] = zero state
    a_t, h_t = a.unbind(0), h.unbind(0)  # per-timestep views, made once
    for t in range(T):
        a_t[t].addmm_(h_t[t], w_hh.T)
        rnn.act(a_t[t], out=h_t[t + 1])
        if rnn.residual:
            h_t[t + 1].add_(h_t[t])
    z = F.linear(h[T], head.weight, head.bias).squeeze(-1)  # (B,)
    value, dz = LOSSES[loss](z, y)

    # f'(a_t), (T, B, H), later δ_t; from h_t = f(a_t) when there is no skip path to undo.
    if rnn.residual:
        delta = DERIVATIVES[rnn.activation](a, rnn.negative_slope)
    else:
        delta = DERIVATIVES_FROM_OUTPUT[rnn.activation](h[1:], rnn.negative_slope)
    grad_h = torch.empty_like(delta)  # (T, B, H) ∂L/∂h_t
    grad_h[T - 1] = dz[:, None] * head.weight
    d_t, g_t = delta.unbind(0), grad_h.unbind(0)
    for t in range(T - 1, -1, -1):
        d_t[t].mul_(g_t[t])
        if t > 0:
            torch.mm(d_t[t], w_hh, out=g_t[t - 1])
            if rnn.residual:  # the skip path: ∂h_t/∂h_{t-1} = I + diag(f') W_h
                g_t[t - 1].add_(g_t[t])
    h_prev = h[:-1]
    grads = _recurrent_grads(delta, x, h_prev) | _head_grads(dz, h[T])
    profile = GradientProfile(float(value), _norms(grad_h), None, _term_norms(delta, h_prev))
    return Backprop(value, z, grads, profile)


def _lstm_inside(rnn: LSTM, x: Tensor, h_prev: Tensor, grad_h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """δ_t, ∂L/∂c_t and the gates, from the known h sequence and ∂L/∂h_t (all (T, B, ·)).

    The gates are recomputed in one batched GEMM; then two cheap elementwise scans:
    c_t = f_t c_{t-1} + i_t g_t forward, and backward
    ∂L/∂c_t = ∂L/∂h_t · o_t · act'(c_t) + f_{t+1} · ∂L/∂c_{t+1}; δ_t is elementwise after that.
    """
    a = rnn.input_projection(x) + h_prev @ rnn.weight_hh_l0.T  # (T, B, 4H)
    i, f, g, o = a.chunk(4, dim=-1)
    i, f, o, g = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o), rnn.act(g)
    c = i * g  # (T, B, H), becomes c_t
    for t in range(1, len(c)):
        c[t].addcmul_(f[t], c[t - 1])
    slope = DERIVATIVES_FROM_OUTPUT[rnn.activation]
    act_c = rnn.act(c)
    grad_c = grad_h * o * slope(act_c, rnn.negative_slope)  # the direct part
    for t in range(len(c) - 2, -1, -1):
        grad_c[t].addcmul_(f[t + 1], grad_c[t + 1])
    c_prev = _shift(c)
    delta = torch.cat([
        grad_c * g * i * (1 - i),
        grad_c * c_prev * f * (1 - f),
        grad_c * i * slope(g, rnn.negative_slope),
        grad_h * act_c * o * (1 - o),
    ], dim=-1)  # (T, B, 4H) = ∂L/∂a_t
    gates = torch.stack([f.mean((1, 2)), i.mean((1, 2)), o.mean((1, 2))])  # (3, T)
    return delta, grad_c, gates


@torch.enable_grad()
def _lstm_fused_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str) -> Backprop:
    rnn, head = model.rnn, model.head
    B, H = x.shape[0], rnn.hidden_size
    probe = x.new_zeros(B, x.shape[1], H, requires_grad=True)  # (B, T, H)
    # The probe enters a_t through W_hh, exactly like h_{t-1}: so ∂L/∂probe_t = ∂L/∂h_{t-1}.
    w_ih = torch.cat([rnn.weight_ih_l0, rnn.weight_hh_l0.detach()], dim=1)
    zeros = x.new_zeros(1, B, H)
    weights = [w_ih, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0]
    # torch.nn.LSTM.forward calls exactly this; calling it directly lets us pass w_ih.
    out, _, _ = torch._VF.lstm(torch.cat([x, probe], 2), (zeros, zeros), weights, True, 1, 0.0, True, False, True)
    z = head(out[:, -1]).squeeze(-1)  # (B,)
    value, dz = LOSSES[loss](z, y)
    names = [n for n, _ in model.named_parameters()]
    found = torch.autograd.grad(value, [probe, *model.parameters()])
    grads = dict(zip(names, found[1:], strict=True))
    with torch.no_grad():
        h = out.detach().transpose(0, 1)  # (T, B, H)
        h_prev = _shift(h)
        grad_h = torch.empty_like(h)  # h_t reaches L through a_{t+1}, and h_{T-1} through the head
        grad_h[:-1] = found[0].transpose(0, 1)[1:]
        grad_h[-1] = dz[:, None] * head.weight
        delta, grad_c, gates = _lstm_inside(rnn, x.transpose(0, 1), h_prev, grad_h)
        profile = GradientProfile(float(value), _norms(grad_h), _norms(grad_c), _term_norms(delta, h_prev),
                                  gates.double().numpy())
    return Backprop(value.detach(), z.detach(), grads, profile)


@torch.enable_grad()
def _autograd_backprop(model: RecurrentModel, x: Tensor, y: Tensor, loss: str) -> Backprop:
    """The general route: unroll in Python and ask autograd for every intermediate."""
    rnn = model.rnn
    proj = rnn.input_projection(x)  # (B, T, 4H)
    h = c = x.new_zeros(x.shape[0], rnn.hidden_size)
    hs, cs, pre = [], [], []
    for t in range(x.shape[1]):
        a, h, c = rnn.step(proj[:, t], h, c)
        hs.append(h), cs.append(c), pre.append(a)
    z = model.head(h).squeeze(-1)
    value, _ = LOSSES[loss](z, y)
    params = dict(model.named_parameters())
    found = torch.autograd.grad(value, [*params.values(), *hs, *cs, *pre])
    n, T = len(params), len(hs)
    with torch.no_grad():
        grad_h, grad_c, delta = (torch.stack(found[n + k * T : n + (k + 1) * T]) for k in range(3))
        h_prev = _shift(torch.stack(hs))
        i, f, _, o = torch.sigmoid(torch.stack(pre)).chunk(4, dim=-1)  # (T, B, H) each
        gates = torch.stack([f.mean((1, 2)), i.mean((1, 2)), o.mean((1, 2))])
        profile = GradientProfile(
            float(value), _norms(grad_h), _norms(grad_c), _term_norms(delta, h_prev), gates.double().numpy()
        )
    return Backprop(value.detach(), z.detach(), dict(zip(params, found[:n], strict=True)), profile)


def backprop(model: RecurrentModel, inputs: Tensor, targets: Tensor, loss: str = "bce") -> Backprop:
    """Loss, parameter gradients and profile of one batch; never touches `.grad`."""
    if loss not in LOSSES:
        raise ValueError(f"loss={loss!r} is not one of {', '.join(LOSSES)}")
    dtype = model.head.weight.dtype
    x, y = inputs.to(dtype), targets.to(dtype)
    if isinstance(model.rnn, ElmanRNN):
        return _rnn_backprop(model, x, y, loss)
    if model.rnn.activation == "tanh":
        return _lstm_fused_backprop(model, x, y, loss)
    return _autograd_backprop(model, x, y, loss)


def gradient_profile(model: RecurrentModel, inputs: Tensor, targets: Tensor, loss: str = "bce") -> GradientProfile:
    """Per-timestep gradient norms of the batch-mean loss, without updating the model."""
    return backprop(model, inputs, targets, loss).profile

"""Theory next to measurement: what the Jacobian chain predicts for ‖∂L/∂h_t‖, and the classic bound.

For an Elman RNN h_t = f(a_t), a_t = W_in x_t + W_h h_{t−1} + b, the chain rule gives
  ∂L/∂h_t = ∂L/∂h_T · J_T ⋯ J_{t+1},   J_k = ∂h_k/∂h_{k−1} = diag(f'(a_k)) W_h   (+ I if residual),
so ‖∂L/∂h_t‖ is predicted *exactly* by ∂L/∂h_T and the Jacobians, with no training involved.
Bounding every factor by its norm gives Pascanu, Mikolov & Bengio (2013)'s
  ‖∂L/∂h_t‖ ≤ ‖∂L/∂h_T‖ (γ σ_max(W_h))^{T−1−t},   γ = max |f'|,
which is why σ_max(W_h) < 1/γ is *sufficient* for vanishing. The residual variant's Jacobian has
norm ≤ 1 + γ σ_max(W_h), so its bound uses that base instead (it can only grow: the identity path
never shrinks the gradient on its own, which is the point of the skip connection).
Profiles are indexed like GradientProfile.hidden: index t is the state after reading word t.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from models.backprop import LOSSES, gradient_profile
from models.cells import DERIVATIVES, MAX_SLOPE, ElmanRNN, RecurrentModel
from models.config import RunConfig
from models.tasks import make_task


@dataclass(frozen=True)
class Theory:
    """Measured profile, the exact Jacobian-chain prediction and the norm bound, each (T,)."""

    measured: np.ndarray  # gradient_profile(...).hidden
    exact: np.ndarray  # ‖∂L/∂h_T · J_T ⋯ J_{t+1}‖
    bound: np.ndarray  # ‖∂L/∂h_T‖ · base^{T−1−t}
    gamma: float  # max |f'|
    sigma_max: float  # largest singular value of W_h
    base: float  # γσ_max, or 1 + γσ_max for the residual RNN


def _pre_activations(rnn: ElmanRNN, x: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, D) -> pre-activations a_t (B, T, H), recomputed from the states in one GEMM, and h_T (B, H)."""
    h = rnn(x)  # (B, T, H)
    h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)  # (B, T, H), h_0 = 0 first
    return rnn.input_projection(x) + h_prev @ rnn.weight_hh_l0.T, h[:, -1]


@torch.no_grad()
def jacobian_chain(model: RecurrentModel, x: Tensor, y: Tensor, loss: str = "bce") -> np.ndarray:
    """‖∂L/∂h_T J_T ⋯ J_{t+1}‖_F over the batch for every t: the chain rule, one Jacobian at a time."""
    rnn = model.rnn
    a, h_last = _pre_activations(rnn, x)  # (B, T, H), (B, H)
    logits = model.head(h_last).squeeze(-1)  # (B,)
    _, dz = LOSSES[loss](logits, y)
    slopes = DERIVATIVES[rnn.activation](a, rnn.negative_slope)  # (B, T, H) f'(a_k)
    chain = dz[:, None] * model.head.weight  # (B, H) ∂L/∂h_T
    norms = [torch.linalg.vector_norm(chain)]
    for k in range(a.shape[1] - 1, 0, -1):
        # A row vector times J_k = diag(f'(a_k)) W_h (+ I): scale by f', then multiply by W_h.
        chain = (chain * slopes[:, k]) @ rnn.weight_hh_l0 + (chain if rnn.residual else 0)  # (B, H)
        norms.append(torch.linalg.vector_norm(chain))
    return torch.stack(norms[::-1]).double().numpy()


def predict(model: RecurrentModel, x: Tensor, y: Tensor, loss: str = "bce") -> Theory:
    """Measured profile, exact chain and bound for one batch, computed in float64 on a copy of the model."""
    if not isinstance(model.rnn, ElmanRNN):
        raise ValueError("the Jacobian-chain theory covers the rnn and residual models (the LSTM has a cell path)")
    model = copy.deepcopy(model).double()
    x, y = x.double(), y.double()
    exact = jacobian_chain(model, x, y, loss)
    rnn = model.rnn
    gamma = MAX_SLOPE[rnn.activation](rnn.negative_slope)
    sigma = float(torch.linalg.matrix_norm(rnn.weight_hh_l0.detach(), ord=2))
    base = gamma * sigma + (1.0 if rnn.residual else 0.0)
    with np.errstate(over="ignore"):  # a huge base overflows to inf: the bound then says nothing
        bound = exact[-1] * base ** np.arange(len(exact) - 1, -1, -1, dtype=np.float64)
    measured = gradient_profile(model, x, y, loss).hidden
    return Theory(measured=measured, exact=exact, bound=bound, gamma=gamma, sigma_max=sigma, base=base)


def probe_batch(config: RunConfig, batch_size: int | None = None) -> tuple[Tensor, Tensor, str]:
    """A fixed batch from a fresh copy of the task, so a trainer's own data stream is left untouched."""
    task = make_task(config)
    x, y = task.sample(batch_size or config.batch_size)
    return x, y, task.loss

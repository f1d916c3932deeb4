"""Theory next to measurement: what the Jacobian chain predicts for ‖∂L/∂h_t‖, the classic bound, and
where the decay comes from.

Timesteps are the textbook's: words x_1..x_T, states h_1..h_T, h_0 = 0. Arrays are 0-indexed like
GradientProfile.hidden, so index i holds t = i + 1 (index 0 is the first word's state h_1).

For an Elman RNN h_t = f(a_t), a_t = W_in x_t + W_h h_{t−1} + b, the chain rule gives, with gradients
as row vectors,
  ∂L/∂h_t = ∂L/∂h_T · J_T ⋯ J_{t+1},   J_k = ∂h_k/∂h_{k−1} = diag(f'(a_k)) W_h   (+ I if residual),
so ‖∂L/∂h_t‖ is predicted *exactly* by ∂L/∂h_T and the Jacobians, with no training involved.
Bounding every factor by its norm gives Pascanu, Mikolov & Bengio (2013)'s
  ‖∂L/∂h_t‖ ≤ ‖∂L/∂h_T‖ (γ σ_max(W_h))^{T−t},   γ = max |f'|,
which is why σ_max(W_h) < 1/γ is *sufficient* for vanishing. The residual variant's Jacobian has
norm ≤ 1 + γ σ_max(W_h), so its bound uses that base instead.

The bound cannot say which factor does the shrinking, and for a non-normal W_h it is loose:
‖W_h^k‖^{1/k} tends to the spectral radius ρ(W_h), not to σ_max (Gelfand's formula). `split` answers
the question exactly instead: it cuts every backward step at its two factors and counts the decades
each one removes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from models.backprop import LOSSES, gradient_profile
from models.cells import DERIVATIVES, MAX_SLOPE, ElmanRNN, RecurrentModel, build_model
from models.config import RunConfig
from models.tasks import make_task


@dataclass(frozen=True)
class Theory:
    """Measured profile, the exact Jacobian-chain prediction and the norm bound, each (T,)."""

    measured: np.ndarray  # gradient_profile(...).hidden
    exact: np.ndarray  # ‖∂L/∂h_T · J_T ⋯ J_{t+1}‖
    bound: np.ndarray  # ‖∂L/∂h_T‖ · base^{T−t}
    gamma: float  # max |f'|
    sigma_max: float  # largest singular value of W_h
    base: float  # γσ_max, or 1 + γσ_max for the residual RNN


@dataclass(frozen=True)
class Split:
    """The decay of ‖∂L/∂h_t‖ from t = T back to t = 1, in decades (log10), cut at each factor.

    One step back, from g_t = ∂L/∂h_t to g_{t−1} = g_t D_t W_h (+ g_t if residual), D_t = diag(f'(a_t)):
      slope[t]   = log10 ‖g_t D_t‖ / ‖g_t‖              the activation's slope (g_t D_t is δ_t = ∂L/∂a_t)
      weights[t] = log10 ‖g_t D_t W_h‖ / ‖g_t D_t‖      the recurrent matrix
      skip[t]    = log10 ‖g_{t−1}‖ / ‖g_t D_t W_h‖      the residual RNN's identity path (0 for the plain RNN)
    The three telescope: summed over t = 2..T they equal log10 ‖∂L/∂h_1‖/‖∂L/∂h_T‖ exactly. A share is −inf
    (and the next NaN) where every unit's slope is 0, as for a step on which all ReLUs are off.
    """

    t: np.ndarray  # (T−1,) the textbook step t = 2..T of each entry: the Jacobian ∂h_t/∂h_{t−1}
    slope: np.ndarray  # (T−1,) decades
    weights: np.ndarray  # (T−1,) decades
    skip: np.ndarray  # (T−1,) decades
    exact: np.ndarray  # (T,) ‖∂L/∂h_t‖, t = 1..T
    weights_only: np.ndarray  # (T,) the same chain with f' := 1: ‖∂L/∂h_T W_h^{T−t}‖ (residual: (I + W_h))

    @property
    def log_ratio(self) -> float:
        """log10 ‖∂L/∂h_1‖/‖∂L/∂h_T‖: the whole decay, which the shares add up to."""
        return float(np.log10(self.exact[0] / self.exact[-1]))

    def decades(self) -> dict[str, float]:
        """Each factor's total over all steps back, in decades."""
        return {"slope": float(self.slope.sum()), "weights": float(self.weights.sum()), "skip": float(self.skip.sum())}


def _pre_activations(rnn: ElmanRNN, x: Tensor) -> tuple[Tensor, Tensor]:
    """(B, T, D) -> pre-activations a_t (B, T, H), recomputed from the states in one GEMM, and h_T (B, H)."""
    h = rnn(x)  # (B, T, H)
    h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)  # (B, T, H), h_0 = 0 first
    return rnn.input_projection(x) + h_prev @ rnn.weight_hh_l0.T, h[:, -1]


@torch.no_grad()
def _walk(model: RecurrentModel, x: Tensor, y: Tensor, loss: str, unit_slope: bool = False) -> tuple[Tensor, Tensor]:
    """Back from ∂L/∂h_T one Jacobian at a time: ‖g_t‖ for t = 1..T (T,), and (T−1, 2) ‖g_t D_t‖, ‖g_t D_t W_h‖.

    Norms are Frobenius over the batch's (B, H) rows, as in the measured profile.
    """
    rnn = model.rnn
    a, h_last = _pre_activations(rnn, x)  # (B, T, H), (B, H)
    logits = model.head(h_last).squeeze(-1)  # (B,)
    _, dz = LOSSES[loss](logits, y)
    slopes = torch.ones_like(a) if unit_slope else DERIVATIVES[rnn.activation](a, rnn.negative_slope)  # (B, T, H)
    g = dz[:, None] * model.head.weight  # (B, H) ∂L/∂h_T
    norm = torch.linalg.vector_norm
    chain, parts = [norm(g)], []
    for k in range(a.shape[1] - 1, 0, -1):  # index k is step t = k + 1: from h_{k+1} back to h_k
        scaled = g * slopes[:, k]  # (B, H) g D, the slope's factor
        through = scaled @ rnn.weight_hh_l0  # (B, H) g D W_h, then the matrix's
        g = through + g if rnn.residual else through
        chain.append(norm(g))
        parts.append(torch.stack([norm(scaled), norm(through)]))
    return torch.stack(chain[::-1]), torch.stack(parts[::-1])


def jacobian_chain(model: RecurrentModel, x: Tensor, y: Tensor, loss: str = "bce") -> np.ndarray:
    """‖∂L/∂h_T J_T ⋯ J_{t+1}‖_F over the batch for every t: the chain rule, one Jacobian at a time."""
    return _walk(model, x, y, loss)[0].double().numpy()


def _float64_rnn(model: RecurrentModel) -> RecurrentModel:
    if not isinstance(model.rnn, ElmanRNN):
        raise ValueError("the Jacobian-chain theory covers the rnn and residual models (the LSTM has a cell path)")
    return copy.deepcopy(model).double()


def predict(model: RecurrentModel, x: Tensor, y: Tensor, loss: str = "bce") -> Theory:
    """Measured profile, exact chain and bound for one batch, computed in float64 on a copy of the model."""
    model = _float64_rnn(model)
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


def split(model: RecurrentModel, x: Tensor, y: Tensor, loss: str = "bce") -> Split:
    """The decades of decay due to f' and to W_h at every step back, in float64 on a copy of the model."""
    model = _float64_rnn(model)
    x, y = x.double(), y.double()
    chain, parts = (v.numpy() for v in _walk(model, x, y, loss))  # (T,), (T−1, 2)
    weights_only = _walk(model, x, y, loss, unit_slope=True)[0].numpy()
    with np.errstate(divide="ignore", invalid="ignore"):  # a step where every slope is 0 gives −inf / NaN
        shares = np.log10(np.column_stack([parts[:, 0], parts[:, 1], chain[:-1]])
                          / np.column_stack([chain[1:], parts[:, 0], parts[:, 1]]))  # (T−1, 3)
    return Split(t=np.arange(2, len(chain) + 1), slope=shares[:, 0], weights=shares[:, 1], skip=shares[:, 2],
                 exact=chain, weights_only=weights_only)


def probe_batch(config: RunConfig, batch_size: int | None = None) -> tuple[Tensor, Tensor, str]:
    """A fixed batch from a fresh copy of the task, so a trainer's own data stream is left untouched."""
    task = make_task(config)
    x, y = task.sample(batch_size or config.batch_size)
    return x, y, task.loss


def split_at_init(config: RunConfig, batch_size: int = 64) -> Split:
    """`split` for the untrained model of `config` on a probe batch: the preset's gradient before any update."""
    x, y, loss = probe_batch(config, batch_size)
    return split(build_model(config, x.shape[-1]), x, y, loss)

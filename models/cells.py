"""Recurrent cells shaped like torch.nn.RNN / torch.nn.LSTM / torch.nn.GRU, plus the many-to-one model.

Parameter names and layouts are PyTorch's own (`weight_ih_l0`, LSTM gate order i, f, g, o;
GRU r, z, n), so `torch.nn.RNN` / `LSTM` / `GRU` load our weights with `load_state_dict` and agree.
Unlike them, the activation is a choice (tanh / sigmoid / relu / leaky_relu) for every cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.config import RunConfig

# f(a), or written into `out` (the hand-written BPTT fills a preallocated buffer, no autograd).
# relu / leaky_relu take no `out=`: clamp / maximum give the same values (slope ≤ 1 by
# RunConfig), but not PyTorch's gradient at a = 0, which is why autograd gets the originals.
ACTIVATIONS: dict[str, Callable[..., Tensor]] = {
    "tanh": lambda a, slope, out=None: torch.tanh(a, out=out),
    "sigmoid": lambda a, slope, out=None: torch.sigmoid(a, out=out),
    "relu": lambda a, slope, out=None: torch.relu(a) if out is None else torch.clamp(a, min=0, out=out),
    "leaky_relu": lambda a, slope, out=None: (
        F.leaky_relu(a, slope) if out is None else torch.maximum(a, a * slope, out=out)
    ),
}

# f'(a) for a batch of pre-activations; the hand-written backward pass needs it.
DERIVATIVES: dict[str, Callable[[Tensor, float], Tensor]] = {
    "tanh": lambda a, slope: 1 - torch.tanh(a).square(),
    "sigmoid": lambda a, slope: torch.sigmoid(a) * (1 - torch.sigmoid(a)),
    "relu": lambda a, slope: (a > 0).to(a.dtype),
    "leaky_relu": lambda a, slope: torch.full_like(a, slope).masked_fill_(a > 0, 1.0),  # slope in a's dtype
}

# The same f'(a), written in terms of the output y = f(a): saves recomputing tanh or σ.
# Exact for all four, since relu / leaky_relu keep the sign of a.
DERIVATIVES_FROM_OUTPUT: dict[str, Callable[[Tensor, float], Tensor]] = {
    "tanh": lambda y, slope: y.square().neg_().add_(1),
    "sigmoid": lambda y, slope: y * (1 - y),
    "relu": lambda y, slope: (y > 0).to(y.dtype),
    "leaky_relu": lambda y, slope: torch.full_like(y, slope).masked_fill_(y > 0, 1.0),
}

# Largest |f'|: the gamma of Pascanu, Mikolov & Bengio's (2013) vanishing/exploding bound.
MAX_SLOPE: dict[str, Callable[[float], float]] = {
    "tanh": lambda slope: 1.0,
    "sigmoid": lambda slope: 0.25,  # σ'(a) = σ(1 − σ) peaks at a = 0
    "relu": lambda slope: 1.0,
    "leaky_relu": lambda slope: max(1.0, slope),
}


class _Recurrent(nn.Module):
    """Holds one layer's weights under PyTorch's names; `gates` rows per unit."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, activation: str, negative_slope: float) -> None:
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.activation, self.negative_slope = activation, negative_slope
        rows = self.gates * hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih_l0 = nn.Parameter(torch.empty(rows))
        self.bias_hh_l0 = nn.Parameter(torch.empty(rows))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch.nn.RNN's own scheme, so init="default" means what PyTorch would do.
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def act(self, a: Tensor, out: Tensor | None = None) -> Tensor:
        return ACTIVATIONS[self.activation](a, self.negative_slope, out=out)

    def input_projection(self, x: Tensor) -> Tensor:
        """x W_ihᵀ + b for every timestep at once: one GEMM instead of T."""
        return F.linear(x, self.weight_ih_l0, self.bias_ih_l0 + self.bias_hh_l0)  # (B, T, G·H)


class ElmanRNN(_Recurrent):
    """h_t = f(x_t W_ihᵀ + h_{t-1} W_hhᵀ + b); with residual=True, h_t = h_{t-1} + f(·).

    The residual form is a skip connection through time: ∂h_t/∂h_{t-1} = I + diag(f') W_h,
    so the identity path carries gradient back even where f' W_h is tiny.
    """

    def __init__(self, input_size: int, hidden_size: int, activation: str = "tanh",
                 negative_slope: float = 0.01, residual: bool = False) -> None:
        super().__init__(input_size, hidden_size, activation, negative_slope)
        self.residual = residual

    def step(self, a_in: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        """One timestep from the projected input; returns (pre-activation, new h)."""
        a = a_in + h @ self.weight_hh_l0.T  # (B, H)
        h_new = self.act(a)
        return a, (h + h_new if self.residual else h_new)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, T, H), starting from h_0 = 0."""
        proj = self.input_projection(x)  # (B, T, H)
        h = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            _, h = self.step(proj[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, 1)


class LSTM(_Recurrent):
    """torch.nn.LSTM's cell with a choice of activation for the candidate g and h = o·act(c)."""

    gates = 4

    def step(self, a_in: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One timestep; returns (pre-activations (B, 4H), h, c)."""
        a = a_in + h @ self.weight_hh_l0.T  # (B, 4H), gate order i, f, g, o
        i, f, g, o = a.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.act(g)
        h = torch.sigmoid(o) * self.act(c)
        return a, h, c

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, T, H), starting from h_0 = c_0 = 0."""
        proj = self.input_projection(x)  # (B, T, 4H)
        h = c = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            _, h, c = self.step(proj[:, t], h, c)
            outputs.append(h)
        return torch.stack(outputs, 1)


class GRU(_Recurrent):
    """torch.nn.GRU's cell (Cho et al. 2014) with a choice of activation for the candidate n.

    r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    n = act(W_in x + b_in + r ⊙ (W_hn h + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
    b_hn sits inside r ⊙ (…), so it is not folded into the input bias as for the other cells.
    """

    gates = 3

    def input_projection(self, x: Tensor) -> Tensor:
        """x W_ihᵀ + b for every timestep; the n block gets b_in only (b_hn is gated by r)."""
        h = self.hidden_size
        bias = torch.cat([self.bias_ih_l0[: 2 * h] + self.bias_hh_l0[: 2 * h], self.bias_ih_l0[2 * h :]])
        return F.linear(x, self.weight_ih_l0, bias)  # (B, T, 3H)

    def step(self, a_in: Tensor, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One timestep; returns (reset r, update z, new h)."""
        rows = self.hidden_size
        a_h = h @ self.weight_hh_l0[: 2 * rows].T  # (B, 2H)
        r, z = torch.sigmoid(a_in[:, : 2 * rows] + a_h).chunk(2, dim=-1)
        hn = F.linear(h, self.weight_hh_l0[2 * rows :], self.bias_hh_l0[2 * rows :])
        n = self.act(a_in[:, 2 * rows :] + r * hn)
        return r, z, (1 - z) * n + z * h

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B, T, H), starting from h_0 = 0."""
        proj = self.input_projection(x)  # (B, T, 3H)
        h = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            *_, h = self.step(proj[:, t], h)
            outputs.append(h)
        return torch.stack(outputs, 1)


CELLS: dict[str, Callable[..., _Recurrent]] = {
    "rnn": ElmanRNN,
    "lstm": LSTM,
    "residual": partial(ElmanRNN, residual=True),
    "gru": GRU,
}


class RecurrentModel(nn.Module):
    """Many-to-one: read the whole sequence, then a linear readout of the last state."""

    def __init__(self, rnn: _Recurrent) -> None:
        super().__init__()
        self.rnn = rnn
        self.head = nn.Linear(rnn.hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, D) -> (B,): a logit (classification) or a value (regression)."""
        return self.head(self.rnn(x)[:, -1]).squeeze(-1)


def build_model(config: RunConfig, input_size: int) -> RecurrentModel:
    """The model of `config`, initialized reproducibly from `config.seed`."""
    from models.initializers import initialize  # cells stay importable on their own

    with torch.random.fork_rng(devices=[]):  # seed locally, leave the caller's RNG alone
        torch.manual_seed(config.seed)
        rnn = CELLS[config.model](input_size, config.hidden_size, config.activation, config.negative_slope)
        model = RecurrentModel(rnn)
        initialize(model, config)
    return model

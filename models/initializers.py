"""Weight initializers by name, all through torch.nn.init.

For the LSTM, W_hh is initialized one gate block (H, H) at a time, so that
"orthogonal" and "identity" mean the same thing for each gate as for an RNN.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from models.config import RunConfig


def _blocks(weight: Tensor, hidden: int) -> list[Tensor]:
    return list(weight.split(hidden, dim=0))  # views of the (H, ·) gate blocks


def _xavier(w_ih: Tensor, w_hh: Tensor, config: RunConfig) -> None:
    nn.init.xavier_uniform_(w_ih)
    for block in _blocks(w_hh, config.hidden_size):
        nn.init.xavier_uniform_(block)


def _kaiming(w_ih: Tensor, w_hh: Tensor, config: RunConfig) -> None:
    # He et al. (2015) assume ReLU; for tanh and sigmoid use torch's gain for them instead (5/3 and 1).
    nonlinearity = config.activation if config.activation in ("tanh", "sigmoid") else "leaky_relu"
    slope = config.negative_slope if config.activation == "leaky_relu" else 0.0
    for weight in (w_ih, *_blocks(w_hh, config.hidden_size)):
        nn.init.kaiming_normal_(weight, a=slope, nonlinearity=nonlinearity)


def _orthogonal(w_ih: Tensor, w_hh: Tensor, config: RunConfig) -> None:
    # Saxe et al. (2014): all singular values 1, so W_h alone neither shrinks nor grows.
    nn.init.xavier_uniform_(w_ih)
    for block in _blocks(w_hh, config.hidden_size):
        nn.init.orthogonal_(block)


def _identity(w_ih: Tensor, w_hh: Tensor, config: RunConfig) -> None:
    # IRNN (Le, Jaitly & Hinton 2015): W_h = I, small Gaussian input weights, zero biases.
    nn.init.normal_(w_ih, std=0.001)
    for block in _blocks(w_hh, config.hidden_size):
        nn.init.eye_(block)


def _normal(w_ih: Tensor, w_hh: Tensor, config: RunConfig) -> None:
    nn.init.normal_(w_ih, std=config.init_std)
    nn.init.normal_(w_hh, std=config.init_std)


INITIALIZERS: dict[str, Callable[[Tensor, Tensor, RunConfig], None] | None] = {
    "default": None,  # keep the cell's PyTorch-style uniform(±1/sqrt(H)), biases included
    "xavier": _xavier,
    "kaiming": _kaiming,
    "orthogonal": _orthogonal,
    "identity": _identity,
    "normal": _normal,
}


@torch.no_grad()
def initialize(model: nn.Module, config: RunConfig) -> None:
    """Apply config.init, then recurrent_gain to W_h, then the LSTM forget bias or the GRU update bias."""
    rnn = model.rnn
    scheme = INITIALIZERS[config.init]
    if scheme is not None:
        scheme(rnn.weight_ih_l0, rnn.weight_hh_l0, config)
        nn.init.zeros_(rnn.bias_ih_l0)
        nn.init.zeros_(rnn.bias_hh_l0)
    rnn.weight_hh_l0.mul_(config.recurrent_gain)
    # The keep gate's total bias (the LSTM's forget gate f, the GRU's update gate z: both the second block of
    # rows in PyTorch's layout) is set whole in b_ih, so b_ih + b_hh is exactly the configured value.
    keep_bias = {"lstm": config.forget_bias, "gru": config.update_bias}.get(config.model)
    if keep_bias is not None:
        h = config.hidden_size
        rnn.bias_ih_l0[h : 2 * h] = keep_bias
        rnn.bias_hh_l0[h : 2 * h] = 0.0

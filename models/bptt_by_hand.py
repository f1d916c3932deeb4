"""Backpropagation through time by hand, for the source's three-word cat / mat / rat example.

Every factor of the chain rule is computed as a plain NumPy float64 number or small matrix,
the way a student would on paper, then summed into the weight gradients. `autograd` holds
PyTorch's answer for the same model and sentence, so the two can be shown side by side.

Notation (one sentence, H hidden units, t = 1, 2, 3, h_0 = 0). Every vector is a column, gradients
included, so ∂L/∂h_t has the shape of h_t and each weight gradient the shape of its weight:
  a_t = W_in x_t + b_in + W_h h_{t−1} + b_h,   h_t = tanh(a_t),
  z = W_out h_3 + b_out,   ŷ = σ(z),   L = −y log ŷ − (1 − y) log(1 − ŷ),
  ∂L/∂h_{t−1} = (∂h_t/∂h_{t−1})ᵀ ∂L/∂h_t with ∂h_t/∂h_{t−1} = diag(1 − h_t²) W_h,
  δ_t = ∂L/∂a_t = (1 − h_t²) ⊙ ∂L/∂h_t,   ∂L/∂W_h = Σ_t δ_t h_{t−1}ᵀ,   ∂L/∂W_in = Σ_t δ_t x_tᵀ.
Then one step of gradient descent, W ← W − η ∂L/∂W, and the loss of the same sentence after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.cells import build_model
from models.config import RunConfig
from models.tasks import CatMatRat

# Two hidden units keep every matrix 2 × 2, small enough to read in one line of LaTeX.
EXAMPLE_CONFIG = RunConfig(task="cat_mat_rat", model="rnn", activation="tanh", hidden_size=2, seed=2)
SENTENCE = "cat mat rat"
# Our symbol -> PyTorch's parameter name in RecurrentModel.
PARAMETERS: dict[str, str] = {
    "W_in": "rnn.weight_ih_l0",
    "W_h": "rnn.weight_hh_l0",
    "b_in": "rnn.bias_ih_l0",
    "b_h": "rnn.bias_hh_l0",
    "W_out": "head.weight",
    "b_out": "head.bias",
}


@dataclass(frozen=True)
class WorkedExample:
    """Forward values, chain-rule factors and gradients; arrays are float64, index 0 is t = 1."""

    sentence: tuple[str, ...]
    y: float
    params: dict[str, np.ndarray]  # by symbol: W_in (H, 3), W_h (H, H), b_in, b_h (H,), W_out (1, H), b_out (1,)
    x: np.ndarray  # (3, 3) one-hot x_1..x_3
    a: np.ndarray  # (3, H) pre-activations a_1..a_3
    h: np.ndarray  # (4, H) h_0..h_3
    z: float
    y_hat: float
    loss: float
    dL_dyhat: float
    dyhat_dz: float
    dL_dz: float
    jacobians: np.ndarray  # (3, H, H) ∂h_t/∂h_{t−1} = diag(1 − h_t²) W_h for t = 1, 2, 3
    dL_dh: np.ndarray  # (3, H) ∂L/∂h_t (row t − 1 is the column vector for step t), total derivative
    delta: np.ndarray  # (3, H) ∂L/∂a_t = (1 − h_t²) ⊙ ∂L/∂h_t
    terms: dict[str, np.ndarray]  # by symbol: (3, …) the step-t contribution of each recurrent parameter
    hand: dict[str, np.ndarray]  # by symbol: the summed gradients
    autograd: dict[str, np.ndarray]  # by symbol: PyTorch's gradients of the same loss
    lr: float  # η of the gradient-descent step
    updated: dict[str, np.ndarray]  # by symbol: W − η ∂L/∂W
    loss_after: float  # the same sentence's loss with the updated weights

    @property
    def gradient_norms(self) -> np.ndarray:
        """(3,) ‖∂L/∂h_t‖ for t = 1, 2, 3: how much gradient reaches each word's state."""
        return np.linalg.norm(self.dL_dh, axis=1)

    @property
    def max_difference(self) -> float:
        """Largest |hand − autograd| over every gradient entry."""
        return max(float(np.abs(self.hand[k] - self.autograd[k]).max()) for k in PARAMETERS)


def encode(sentence: str) -> tuple[np.ndarray, float]:
    """'cat mat rat' -> one-hot rows (3, 3) and the label (1 iff a rat appears)."""
    words = sentence.split()
    if len(words) != 3 or not set(words) <= set(CatMatRat.vocab):
        raise ValueError(f"{sentence!r} must be three words from {', '.join(CatMatRat.vocab)}")
    return np.eye(3)[[CatMatRat.vocab.index(w) for w in words]], float("rat" in words)


def _autograd(model: torch.nn.Module, x: np.ndarray, y: float) -> dict[str, np.ndarray]:
    logit = model(torch.from_numpy(x)[None])  # (1,)
    loss = F.binary_cross_entropy_with_logits(logit, torch.tensor([y], dtype=torch.float64))
    grads = torch.autograd.grad(loss, _parameters(model))
    return {k: g.numpy() for k, g in zip(PARAMETERS, grads, strict=True)}


def _forward(p: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.zeros((4, p["W_h"].shape[0]))  # h[0] is the zero initial state
    a = np.zeros((3, p["W_h"].shape[0]))
    for t in range(3):
        a[t] = p["W_in"] @ x[t] + p["b_in"] + p["W_h"] @ h[t] + p["b_h"]
        h[t + 1] = np.tanh(a[t])
    return a, h


def _loss(p: dict[str, np.ndarray], x: np.ndarray, y: float) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Forward pass to the loss: (a, h, z, ŷ, L)."""
    a, h = _forward(p, x)
    z = float(p["W_out"][0] @ h[3] + p["b_out"][0])
    y_hat = 1 / (1 + np.exp(-z))
    return a, h, z, y_hat, -(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))


def worked_example(sentence: str = SENTENCE, config: RunConfig = EXAMPLE_CONFIG) -> WorkedExample:
    """Forward pass, every chain-rule factor, the hand-summed gradients and one update, for one sentence."""
    x, y = encode(sentence)
    model = build_model(config, input_size=3).double()
    p = {k: param.detach().numpy().copy() for k, param in zip(PARAMETERS, _parameters(model), strict=True)}
    a, h, z, y_hat, loss = _loss(p, x, y)

    dL_dyhat = -y / y_hat + (1 - y) / (1 - y_hat)
    dyhat_dz = y_hat * (1 - y_hat)
    dL_dz = dL_dyhat * dyhat_dz  # = ŷ − y
    slopes = 1 - h[1:] ** 2  # (3, H) tanh'(a_t)
    jacobians = slopes[:, :, None] * p["W_h"]  # (3, H, H) diag(1 − h_t²) W_h
    dL_dh = np.zeros_like(a)
    dL_dh[2] = p["W_out"][0] * dL_dz  # ∂L/∂h_3 = W_outᵀ ∂L/∂z
    for t in (1, 0):  # ∂L/∂h_t = (∂h_{t+1}/∂h_t)ᵀ ∂L/∂h_{t+1}
        dL_dh[t] = jacobians[t + 1].T @ dL_dh[t + 1]
    delta = slopes * dL_dh  # (3, H)

    terms = {
        "W_in": np.einsum("ti,tj->tij", delta, x),  # δ_t x_tᵀ
        "W_h": np.einsum("ti,tj->tij", delta, h[:3]),  # δ_t h_{t−1}ᵀ
        "b_in": delta,
        "b_h": delta,
    }
    hand = {k: v.sum(axis=0) for k, v in terms.items()}
    hand |= {"W_out": dL_dz * h[3][None], "b_out": np.array([dL_dz])}
    updated = {k: p[k] - config.lr * hand[k] for k in PARAMETERS}  # W ← W − η ∂L/∂W
    return WorkedExample(
        sentence=tuple(sentence.split()), y=y, params=p, x=x, a=a, h=h, z=z, y_hat=float(y_hat), loss=float(loss),
        dL_dyhat=float(dL_dyhat), dyhat_dz=float(dyhat_dz), dL_dz=float(dL_dz), jacobians=jacobians, dL_dh=dL_dh,
        delta=delta, terms=terms, hand=hand, autograd=_autograd(model, x, y), lr=config.lr, updated=updated,
        loss_after=float(_loss(updated, x, y)[4]),
    )


def _parameters(model: torch.nn.Module) -> list[torch.Tensor]:
    named = dict(model.named_parameters())
    return [named[name] for name in PARAMETERS.values()]

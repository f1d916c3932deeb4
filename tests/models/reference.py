"""An independent BPTT reference: the textbook equations unrolled under autograd, in float64.

Written from the formulas, not from models/, so that a bug there cannot hide here:
retain_grad() on every h_t, c_t and a_t, then one backward of the batch-mean loss. For the GRU
a_t is the recurrent side h_{t-1} W_hhᵀ + b_hh (torch.nn.GRU's equations), whose term is ∂L/∂W_hh's. The
weights are promoted to float64 exactly, so a float32 model is compared with the exact
result for its own weights. Truncated BPTT (window = k > 0) is the textbook detach: the state
(h and c) entering step T - k is detached, so autograd itself finds nothing further back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ACT = {
    "tanh": lambda a, s: torch.tanh(a),
    "sigmoid": lambda a, s: 1 / (1 + torch.exp(-a)),
    "relu": lambda a, s: torch.relu(a),
    "leaky_relu": lambda a, s: torch.where(a > 0, a, s * a),
}


def unrolled(state: dict, x: torch.Tensor, y: torch.Tensor, *, kind: str, activation: str,
             slope: float = 0.01, loss: str = "bce", window: int = 0) -> dict:
    p = {k: v.detach().clone().double().requires_grad_() for k, v in state.items()}
    x, y = x.double(), y.double()
    act = lambda a: ACT[activation](a, slope)  # noqa: E731
    B, T, _ = x.shape
    H = p["rnn.weight_hh_l0"].shape[1]
    h = c = torch.zeros(B, H, dtype=torch.float64)
    hs, cs, pre, prev, gates = [], [], [], [], []
    for t in range(T):
        if 0 < window and t == T - window:
            h, c = h.detach(), c.detach()
        prev.append(h)
        if kind == "gru":
            a, h = _gru_step(p, x[:, t], h, act, gates)
            hs.append(h)
            pre.append(a)
            continue
        a = x[:, t] @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"] + h @ p["rnn.weight_hh_l0"].T + p["rnn.bias_hh_l0"]
        a.retain_grad()
        if kind == "lstm":
            i, f, g, o = a.chunk(4, dim=1)
            i, f, o = torch.sigmoid(i), torch.sigmoid(f), torch.sigmoid(o)
            gates.append(torch.stack([f.mean(), i.mean(), o.mean()]))
            c = f * c + i * act(g)
            c.retain_grad()
            cs.append(c)
            h = o * act(c)
        else:
            h = act(a) + (h if kind == "residual" else 0)
        h.retain_grad()
        hs.append(h)
        pre.append(a)
    z = (h @ p["head.weight"].T + p["head.bias"]).squeeze(1)
    value = F.binary_cross_entropy_with_logits(z, y) if loss == "bce" else ((z - y) ** 2).mean()
    value.backward()
    with torch.no_grad():
        return _summary(value, hs, cs, pre, prev, gates, p)


def _gru_step(p: dict, x: torch.Tensor, h: torch.Tensor, act, gates: list) -> tuple[torch.Tensor, torch.Tensor]:
    """r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = act(W_in x + b_in + r ⊙ (W_hn h + b_hn)),
    h' = (1 − z) ⊙ n + z ⊙ h; returns (the recurrent side a = W_hh h + b_hh, h')."""
    a = h @ p["rnn.weight_hh_l0"].T + p["rnn.bias_hh_l0"]
    a.retain_grad()
    x_side = x @ p["rnn.weight_ih_l0"].T + p["rnn.bias_ih_l0"]
    (xr, xz, xn), (hr, hz, hn) = x_side.chunk(3, dim=1), a.chunk(3, dim=1)
    r, z = 1 / (1 + torch.exp(-(xr + hr))), 1 / (1 + torch.exp(-(xz + hz)))
    gates.append(torch.stack([z.mean(), r.mean()]))
    h = (1 - z) * act(xn + r * hn) + z * h
    h.retain_grad()
    return a, h


def _summary(value, hs, cs, pre, prev, gates, p) -> dict:
    terms = torch.stack([_grad(a).T @ hp for a, hp in zip(pre, prev, strict=True)])  # (T, K, H): δ_tᵀ h_{t-1}
    return {
        "loss": value.item(),
        "hidden": torch.stack([_grad(s).norm() for s in hs]).numpy(),
        "cell": torch.stack([_grad(s).norm() for s in cs]).numpy() if cs else None,
        "term_matrices": terms,
        "weight_terms": torch.linalg.matrix_norm(terms).numpy(),
        # (3, T) mean forget, input, output gate (LSTM); (2, T) mean update, reset gate (GRU)
        "gates": torch.stack(gates, 1).numpy() if gates else None,
        "grads": {k: v.grad for k, v in p.items()},
    }


def _grad(tensor: torch.Tensor) -> torch.Tensor:
    """Its gradient; zeros where the loss does not reach it (behind a truncated BPTT's detach)."""
    return torch.zeros_like(tensor) if tensor.grad is None else tensor.grad

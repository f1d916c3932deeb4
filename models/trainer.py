"""Training loop that records, per step, what the dashboard draws. It never draws."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from models.backprop import backprop
from models.cells import RecurrentModel, build_model
from models.config import RunConfig
from models.tasks import make_task

OPTIMIZERS: dict[str, Callable[[list[nn.Parameter], RunConfig], torch.optim.Optimizer]] = {
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr),
    "momentum": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr),
}

# Clipping bounds the update, not the gradient we *report*: the record keeps both norms.
CLIPPERS: dict[str, Callable[[list[nn.Parameter], float], object]] = {
    "none": lambda params, threshold: None,
    "norm": lambda params, threshold: torch.nn.utils.clip_grad_norm_(params, threshold),
    "value": lambda params, threshold: torch.nn.utils.clip_grad_value_(params, threshold),
}


class DivergedError(RuntimeError):
    """Raised by Trainer.step() after a non-finite loss or gradient, until reset()."""


@dataclass(frozen=True)
class StepRecord:
    """Everything one training step measured; small, so a run's history stays light."""

    step: int  # 1-based: the number of gradient evaluations so far
    loss: float
    accuracy: float | None  # classification only
    grad_norm: float  # total ‖∇L‖ before clipping
    grad_norm_clipped: float  # after clipping (equal if no clipping happened)
    clipped: bool
    lr: float
    clip: str
    clip_threshold: float
    spectral_radius: float  # of W_h (LSTM: the candidate block W_hg, GRU: W_hn) used in this step
    diverged: bool
    hidden: np.ndarray  # (T,) ‖∂L/∂h_t‖
    cell: np.ndarray | None  # (T,) ‖∂L/∂c_t‖ (LSTM)
    weight_terms: np.ndarray  # (T,) ‖δ_tᵀ h_{t-1}‖
    gates: np.ndarray | None  # (3, T) mean forget / input / output gates (LSTM); (2, T) update / reset (GRU)
    truncated: np.ndarray | None = None  # (T,) bool: steps truncated BPTT cut off (their norms are exactly 0)
    examples: np.ndarray | None = None  # (≤ 8, T) word indices of the batch's first sentences (task "sentence")


def recurrent_matrix(model: RecurrentModel) -> Tensor:
    """The (H, H) matrix that carries h_{t-1} into h_t: W_h, or the gated cells' candidate block
    (third in both PyTorch orders: the LSTM's g of i, f, g, o and the GRU's n of r, z, n)."""
    w = model.rnn.weight_hh_l0
    h = model.rnn.hidden_size
    return w[2 * h : 3 * h] if w.shape[0] > h else w


@torch.no_grad()
def spectral_radius(model: RecurrentModel) -> float:
    """Largest |eigenvalue| of W_h: above 1, repeated products can grow without bound."""
    w = recurrent_matrix(model)
    if not torch.isfinite(w).all():
        return math.nan
    return float(torch.linalg.eigvals(w).abs().max())


def _total_norm(tensors: list[Tensor]) -> float:
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t) for t in tensors])))


class Trainer:
    """`Trainer(config).step()` trains one batch and returns its StepRecord.

    The gradient profile comes from the same backward pass that trains the model. A
    non-finite loss or gradient applies no update and marks the record diverged; the
    run then refuses further steps until reset(). lr and clipping may change mid-run.
    """

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Start the run again from the seed: same weights, same data stream."""
        self.task = make_task(self.config)
        self.model = build_model(self.config, self.task.input_size)
        self.optimizer = OPTIMIZERS[self.config.optimizer](list(self.model.parameters()), self.config)
        self.step_count = 0
        self.diverged_at: int | None = None

    @property
    def done(self) -> bool:
        return self.step_count >= self.config.steps or self.diverged_at is not None

    def set_lr(self, lr: float) -> None:
        """Takes effect at the next step (validated like any config value)."""
        self.config = self.config.replace(lr=lr)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr

    def set_clip(self, clip: str, threshold: float | None = None) -> None:
        """Turn clipping on, off or change its threshold; takes effect at the next step."""
        self.config = self.config.replace(clip=clip, clip_threshold=threshold or self.config.clip_threshold)

    def step(self) -> StepRecord:
        if self.diverged_at is not None:
            raise DivergedError(f"the run diverged at step {self.diverged_at}; call reset() to start again")
        inputs, targets = self.task.sample(self.config.batch_size)
        radius = spectral_radius(self.model)
        result = backprop(self.model, inputs, targets, self.task.loss, self.config.bptt_window)
        self.step_count += 1
        params = dict(self.model.named_parameters())
        grad_norm = _total_norm(list(result.grads.values()))
        diverged = not (math.isfinite(grad_norm) and math.isfinite(float(result.loss)))
        clipped_norm = grad_norm
        if diverged:
            self.diverged_at = self.step_count  # weights stay as they were
        else:
            for name, param in params.items():
                param.grad = result.grads[name]
            CLIPPERS[self.config.clip](list(params.values()), self.config.clip_threshold)
            clipped_norm = _total_norm([p.grad for p in params.values()])
            self.optimizer.step()
        profile = result.profile
        return StepRecord(
            step=self.step_count,
            loss=profile.loss,
            accuracy=self._accuracy(result.logits, targets),
            grad_norm=grad_norm,
            grad_norm_clipped=clipped_norm,
            clipped=clipped_norm < grad_norm,
            lr=self.config.lr,
            clip=self.config.clip,
            clip_threshold=self.config.clip_threshold,
            spectral_radius=radius,
            diverged=diverged,
            hidden=profile.hidden,
            cell=profile.cell,
            weight_terms=profile.weight_terms,
            gates=profile.gates,
            truncated=profile.truncated,
            examples=self.task.examples(inputs),
        )

    def _accuracy(self, logits: Tensor, targets: Tensor) -> float | None:
        if self.task.loss != "bce":
            return None
        return float(((logits > 0) == (targets > 0.5)).float().mean())

    def __iter__(self) -> Iterator[StepRecord]:
        """Steps until config.steps or divergence."""
        while not self.done:
            yield self.step()


def warm_up() -> None:
    """Pay once per process for lazy imports (the first optimizer pulls in torch._dynamo)."""
    for model in ("rnn", "lstm", "gru"):
        Trainer(RunConfig(model=model, task="cat_mat_rat", hidden_size=4, batch_size=2, steps=1)).step()

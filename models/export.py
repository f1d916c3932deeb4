"""Trained weights to take away: one file that `torch.load(path, weights_only=True)` reads without this package.

The file is a plain dict (tensors, strings and numbers only, so the safe `weights_only` loader accepts it):

    {"format": "rnn-gradient-lab/1",
     "config": RunConfig as a dict (rebuilds the exact run: `RunConfig(**checkpoint["config"])`),
     "step": gradient steps trained,
     "state_dict": {"rnn.weight_ih_l0": ..., "rnn.weight_hh_l0": ..., "rnn.bias_ih_l0": ...,
                    "rnn.bias_hh_l0": ..., "head.weight": ..., "head.bias": ...}}

The state_dict keys are PyTorch's own (see models/cells.py): strip "rnn." and they load into
`torch.nn.LSTM` (model lstm, activation tanh), `torch.nn.GRU` (model gru, activation tanh) or `torch.nn.RNN`
(model rnn, activation tanh / relu);
strip "head." and they load into `torch.nn.Linear(hidden_size, 1)`. One file rather than weights plus
a sidecar, so the configuration cannot get separated from the weights it describes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import torch

from models.cells import RecurrentModel, build_model
from models.config import RunConfig
from models.tasks import make_task

FORMAT = "rnn-gradient-lab/1"


@dataclass(frozen=True)
class Checkpoint:
    """A saved run, rebuilt: our model with the trained weights, its configuration and step count."""

    model: RecurrentModel
    config: RunConfig
    step: int


def checkpoint(model: RecurrentModel, config: RunConfig, step: int) -> dict[str, Any]:
    """The dict that is saved (the state_dict's tensors share the model's memory until torch.save writes them)."""
    return {"format": FORMAT, "config": config.to_dict(), "step": int(step), "state_dict": model.state_dict()}


def save(file: str | Path | IO[bytes], model: RecurrentModel, config: RunConfig, step: int) -> None:
    """Write the checkpoint to a path or a binary file object."""
    torch.save(checkpoint(model, config, step), file)


def to_bytes(model: RecurrentModel, config: RunConfig, step: int) -> bytes:
    """The checkpoint file's bytes (a download button's data)."""
    buffer = io.BytesIO()
    save(buffer, model, config, step)
    return buffer.getvalue()


def load(file: str | Path | IO[bytes]) -> Checkpoint:
    """Read a checkpoint with the safe loader and rebuild our model; ValueError if it is not one of ours."""
    saved = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"not an RNN Gradient Lab checkpoint (expected format {FORMAT!r})")
    config = RunConfig(**saved["config"])  # validated like any other config
    model = build_model(config, make_task(config).input_size)
    model.load_state_dict(saved["state_dict"])  # strict: every key and shape must match
    return Checkpoint(model, config, saved["step"])

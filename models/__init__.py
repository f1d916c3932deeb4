"""RNN Gradient Lab engine: pure PyTorch + NumPy (never imports streamlit or altair)."""

from models.backprop import GradientProfile, backprop, gradient_profile
from models.cells import build_model
from models.config import CHOICES, RANGES, RunConfig
from models.tasks import make_task
from models.trainer import DivergedError, StepRecord, Trainer

__all__ = [
    "CHOICES",
    "RANGES",
    "DivergedError",
    "GradientProfile",
    "RunConfig",
    "StepRecord",
    "Trainer",
    "backprop",
    "build_model",
    "gradient_profile",
    "make_task",
]

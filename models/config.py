"""The whole configuration of a run: one frozen dataclass, every choice a name.

The same field names appear in the dashboard's sidebar, the page URL and the CLI
(`--seq-len` for `seq_len`), so one object describes an experiment everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import models.cost as cost

# Every choice field maps to one of these names; the implementing modules key their
# dicts by the same names (a test checks they agree).
CHOICES: dict[str, tuple[str, ...]] = {
    "model": ("rnn", "lstm", "residual", "gru"),
    "activation": ("tanh", "sigmoid", "relu", "leaky_relu"),
    "init": ("default", "xavier", "kaiming", "orthogonal", "identity", "normal"),
    "optimizer": ("sgd", "momentum", "adam"),
    "clip": ("none", "norm", "value"),
    "task": ("cat_mat_rat", "first_token", "adding", "sentence"),
}

# Inclusive ranges. The caps, and the cost budget on seq_len × batch_size × hidden_size²
# together (models/cost.py), keep one user's run from starving a shared 2-core server.
RANGES: dict[str, tuple[float, float]] = {
    "negative_slope": (0.0, 1.0),
    "init_std": (1e-6, 10.0),
    "recurrent_gain": (0.0, 10.0),
    "forget_bias": (-20.0, 20.0),
    "update_bias": (-20.0, 20.0),
    "lr": (1e-6, 10.0),
    "momentum": (0.0, 0.999),
    "clip_threshold": (1e-6, 1e6),
    "seq_len": (2, 500),
    "bptt_window": (0, 500),  # 0 = full; any k >= seq_len is full too, so the cap is seq_len's
    "hidden_size": (1, 256),
    "batch_size": (1, 512),
    "steps": (1, 100_000),
    "seed": (0, 2**31 - 1),
}


SHOWN_CHARS = 60  # a value quoted in an error is cut to this: a link can carry megabytes


class FieldError(ValueError):
    """A value a field cannot take. `str()` reads "name=value reason"; the parts stay apart because the value
    may have come from a link, and a page shows it literally (dashboard/user_text.py) next to the reason."""

    def __init__(self, name: str, value: Any, reason: str) -> None:
        self.name, self.reason = name, reason
        self.subject = f"{name}={_shown(value)}"
        super().__init__(f"{self.subject} {reason}")


def _shown(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past sys.get_int_max_str_digits() has no decimal repr
        text = f"<a {value.bit_length()}-bit integer>"
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _f(default: Any, why: str) -> Any:
    return field(default=default, metadata={"help": why})


@dataclass(frozen=True)
class RunConfig:
    """One training run. Construction validates every field (FieldError, a ValueError, names it)."""

    model: str = _f("rnn", (
        "Elman RNN as in the lecture; lstm adds a gated cell; residual adds a skip connection; gru gates the "
        "state itself (update and reset gates, Cho et al. 2014)."))
    activation: str = _f("tanh", (
        "The lecture's nonlinearity. relu's slope is 1 where a unit is on but 0 where it is off, so it does not "
        "take f′ out of the product: in lesson 3 it removes more decades than tanh′ does."))
    negative_slope: float = _f(0.01, "Slope of leaky_relu for negative inputs (PyTorch's default).")
    init: str = _f("default", "PyTorch's uniform(±1/sqrt(H)) unless a remedy is being shown.")
    init_std: float = _f(0.1, "Standard deviation of the 'normal' initializer.")
    recurrent_gain: float = _f(1.0, (
        "Multiplies W_h after initialization: below 1 the gradient vanishes faster; above 1 it can explode, from a "
        "gain that depends on the activation and init (the trainability map shows where; lesson 7: 2.2)."))
    forget_bias: float = _f(1.0, "LSTM forget-gate bias; large values keep the cell state (Gers et al. 2000).")
    update_bias: float = _f(0.0, (
        "GRU update-gate bias: z = σ(… + update_bias) weighs the old state in h' = (1 − z) n + z h, so large values "
        "keep the state (Tallec & Ollivier 2018); 0 is the mean of PyTorch's draw."))
    optimizer: str = _f("sgd", "Plain gradient descent, as in the source material.")
    lr: float = _f(0.1, "Step size; large values are one cause of exploding updates.")
    momentum: float = _f(0.9, "Momentum coefficient of the 'momentum' optimizer.")
    clip: str = _f("none", "Gradient clipping, the remedy for exploding gradients.")
    clip_threshold: float = _f(1.0, "Largest allowed gradient norm (norm) or entry (value).")
    task: str = _f("first_token", (
        "The long-term dependency task: remember the first word; sentence is the same in real words (a language, "
        "filler clauses, a question its answer depends on)."))
    seq_len: int = _f(20, (
        "Sentence length; for first_token and sentence the lag is seq_len - 1 (cat_mat_rat is always 3)."))
    bptt_window: int = _f(0, (
        "Truncated BPTT: 0 = full; k > 0 stops the gradient k steps back (the state is detached before the last k "
        "steps), so ∂L/∂h_t is exactly 0 for the T − k earliest steps and a cue further back is not learned."))
    hidden_size: int = _f(32, "Units in the hidden state h_t.")
    batch_size: int = _f(64, "Sentences per gradient step.")
    steps: int = _f(500, "Training steps in a run.")
    seed: int = _f(0, "Seeds initialization and data, so a run is reproducible.")

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _checked(f.name, f.type, getattr(self, f.name)))
        sizes = f"lower seq_len ({self.seq_length}), batch_size ({self.batch_size}) or hidden_size ({self.hidden_size})"
        if (estimate := cost.step_seconds(self)) > cost.BUDGET_SECONDS:
            raise ValueError(
                f"seq_len × batch_size × hidden_size² too large for model={self.model}: ~{estimate:.1f} s per "
                f"training step, over the {cost.BUDGET_SECONDS:g} s budget of a shared 2-core server; {sizes}")
        if (megabytes := cost.run_megabytes(self)) > cost.RUN_MEMORY_MB:
            raise ValueError(
                f"seq_len × batch_size × hidden_size too large for model={self.model}: ~{megabytes:.0f} MB of "
                f"memory, over the {cost.RUN_MEMORY_MB:g} MB memory budget of one run on this server; {sizes}")

    @property
    def seq_length(self) -> int:
        """Actual sequence length: the worked example always has three words."""
        return 3 if self.task == "cat_mat_rat" else self.seq_len

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> RunConfig:
        return replace(self, **changes)

    @classmethod
    def from_strings(cls, values: Mapping[str, Any], *, lenient: bool = False) -> RunConfig:
        """Build from text (URL query, CLI); unknown keys are ignored. Whatever the text (inf, 1e400, a
        5,000-digit number, Markdown), a bad value raises ValueError, never another exception.

        lenient=True keeps the default for every field whose value is bad (a hostile
        link must not crash the page); otherwise the first bad value raises ValueError.
        Sizes are judged together against the cost budget, not one by one; if together
        they exceed it, lenient parsing applies the fields in order and skips the one
        that crosses it.
        """
        defaults = cls()
        valid = {}
        for f in fields(cls):
            if f.name not in values:
                continue
            try:
                value = _parse(f.name, f.type, values[f.name])
                replace(defaults, **{f.name: value})  # valid on its own
                valid[f.name] = value
            except ValueError:
                if not lenient:
                    raise
        try:
            return replace(defaults, **valid)
        except ValueError:
            if not lenient:
                raise
        config = defaults
        for name, value in valid.items():
            with suppress(ValueError):
                config = replace(config, **{name: value})
        return config


def _checked(name: str, kind: Any, value: Any) -> Any:
    """`value` as field `name` holds it, or FieldError."""
    if name in CHOICES:
        if value not in CHOICES[name]:
            raise FieldError(name, value, f"is not one of {', '.join(CHOICES[name])}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(name, value, "must be a number")
    lo, hi = RANGES[name]
    if not lo <= value <= hi:  # before int(): it also rejects NaN and ±inf, which int() cannot take
        bounds = f"[{lo}, {hi}]" if isinstance(hi, int) else f"[{lo:g}, {hi:g}]"  # seed's 2147483647 in full
        raise FieldError(name, value, f"is outside {bounds}")
    if kind in ("int", int):
        if int(value) != value:
            raise FieldError(name, value, "must be a whole number")
        return int(value)
    return float(value) + 0.0  # -0.0 + 0.0 is 0.0: a link's "-0" is written back as "0"


def _parse(name: str, kind: Any, raw: Any) -> Any:
    if kind in ("str", str):
        return str(raw)
    text = str(raw).strip()
    try:
        return int(text) if kind in ("int", int) else float(text)
    except ValueError:  # int() also refuses more than 4,300 digits
        try:  # "1e3" for an int field
            return float(text)
        except ValueError:
            raise FieldError(name, raw, "must be a number") from None


def field_help() -> dict[str, str]:
    """One-line reason for every field (used by the CLI's --help and the sidebar)."""
    return {f.name: f.metadata["help"] for f in fields(RunConfig)}

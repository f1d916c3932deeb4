"""Command-line training: `python -m models.train --model lstm --seq-len 51 --out run.csv --save lstm.pt`.

One flag per RunConfig field (`--seq-len` for `seq_len`); one CSV row per step with the
scalar metrics and the per-timestep norms, numbered like the words x_1..x_T: hidden_t is
‖∂L/∂h_t‖ (hidden_1 .. hidden_T), then cell_t (LSTM) and term_t. `--save` writes the trained
weights with their RunConfig (models/export.py).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import IO

import torch
from tqdm import tqdm

from models import export
from models.cli import Parser, add_config_flags, prog
from models.config import RunConfig
from models.trainer import StepRecord, Trainer

SCALARS = ("step", "loss", "accuracy", "grad_norm", "grad_norm_clipped", "clipped", "lr", "clip",
           "clip_threshold", "spectral_radius", "diverged")
# Per-timestep series of a record -> CSV column prefix.
SERIES = {"hidden": "hidden", "cell": "cell", "weight_terms": "term"}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=prog("models.train"), description=__doc__.splitlines()[0])
    add_config_flags(parser)
    parser.add_argument("--out", type=Path, help="write one CSV row per step to this file")
    parser.add_argument("--save", type=Path, metavar="PATH",
                        help="write the trained weights and their RunConfig to PATH; read it with "
                             "torch.load(PATH, weights_only=True)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 is fastest for small nets or a busy machine [default: 1]")
    return parser


def csv_header(config: RunConfig) -> list[str]:
    steps = range(1, config.seq_length + 1)  # textbook numbering: h_1 .. h_T (record arrays are 0-indexed)
    series = [prefix for name, prefix in SERIES.items() if name != "cell" or config.model == "lstm"]
    return [*SCALARS, *(f"{prefix}_{t}" for prefix in series for t in steps)]


def csv_row(record: StepRecord) -> list[object]:
    row: list[object] = [getattr(record, name) for name in SCALARS]
    for name in SERIES:
        values = getattr(record, name)
        if values is not None:
            row.extend(f"{v:.9g}" for v in values)
    return row


def train(trainer: Trainer, out: IO[str] | None = None) -> Iterator[StepRecord]:
    """Run the trainer to the end (or divergence) with a progress bar; yields each record."""
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow(csv_header(trainer.config))
    with tqdm(total=trainer.config.steps, unit="step", dynamic_ncols=True) as bar:
        for record in trainer:
            if writer:
                writer.writerow(csv_row(record))
            bar.set_postfix(loss=f"{record.loss:.4g}", grad=f"{record.grad_norm:.3g}", refresh=False)
            bar.update()
            yield record


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    out_path, save_path, threads = args.pop("out"), args.pop("save"), args.pop("threads")
    try:
        config = RunConfig.from_strings({k: v for k, v in args.items() if v is not None})
    except ValueError as error:
        parser.error(str(error))
    for flag, path in (("--out", out_path), ("--save", save_path)):
        if path is not None and not path.parent.is_dir():  # fail now, not after a long run
            parser.error(f"{flag} {path}: folder {path.parent} does not exist")
    torch.set_num_threads(max(1, threads))
    trainer = Trainer(config)
    with open(out_path, "w", newline="") if out_path else nullcontext() as out:
        last = None
        for record in train(trainer, out):
            last = record
    if save_path is not None:
        # A diverged step applies no update: the saved weights are the last finite ones.
        updates = trainer.step_count - (trainer.diverged_at is not None)
        export.save(save_path, trainer.model, trainer.config, updates)
        print(f"saved the weights after {updates} step(s) and the RunConfig to {save_path}", file=sys.stderr)
    if last is not None and last.diverged:
        print(f"diverged at step {last.step}: the loss or a gradient was not finite; "
              "try --clip norm or a smaller --lr", file=sys.stderr)
        return 1
    if last is not None:
        accuracy = "" if last.accuracy is None else f", accuracy {last.accuracy:.3f}"
        print(f"step {last.step}: loss {last.loss:.4g}{accuracy}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

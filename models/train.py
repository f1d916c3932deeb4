"""Command-line training: `python -m models.train --model lstm --seq-len 51 --out run.csv`.

One flag per RunConfig field (`--seq-len` for `seq_len`); one CSV row per step with the
scalar metrics and the per-timestep norms (hidden_0 .. hidden_{T-1}, cell_*, term_*).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Collection, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import fields
from pathlib import Path
from typing import IO, NoReturn

import torch
from tqdm import tqdm

from models.config import CHOICES, RunConfig, field_help
from models.trainer import StepRecord, Trainer

SCALARS = ("step", "loss", "accuracy", "grad_norm", "grad_norm_clipped", "clipped", "lr", "clip",
           "clip_threshold", "spectral_radius", "diverged")
# Per-timestep series of a record -> CSV column prefix.
SERIES = {"hidden": "hidden", "cell": "cell", "weight_terms": "term"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the message already names the valid choices.
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_config_flags(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """One flag per RunConfig field (all, or those in `names`): `--seq-len` for `seq_len`; values stay text."""
    helps = field_help()
    for f in fields(RunConfig):
        if names is not None and f.name not in names:
            continue
        choices = f" ({', '.join(CHOICES[f.name])})" if f.name in CHOICES else ""
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, metavar=f.name.upper(),
                            help=f"{helps[f.name]}{choices} [default: {f.default}]")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m models.train", description=__doc__.splitlines()[0])
    add_config_flags(parser)
    parser.add_argument("--out", type=Path, help="write one CSV row per step to this file")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads; 1 is fastest for small nets or a busy machine [default: 1]")
    return parser


def csv_header(config: RunConfig) -> list[str]:
    steps = range(config.seq_length)
    series = [prefix for name, prefix in SERIES.items() if name != "cell" or config.model == "lstm"]
    return [*SCALARS, *(f"{prefix}_{t}" for prefix in series for t in steps)]


def csv_row(record: StepRecord) -> list[object]:
    row: list[object] = [getattr(record, name) for name in SCALARS]
    for name in SERIES:
        values = getattr(record, name)
        if values is not None:
            row.extend(f"{v:.9g}" for v in values)
    return row


def train(config: RunConfig, out: IO[str] | None = None) -> Iterator[StepRecord]:
    """Run `config` to the end (or divergence) with a progress bar; yields each record."""
    writer = csv.writer(out) if out else None
    if writer:
        writer.writerow(csv_header(config))
    trainer = Trainer(config)
    with tqdm(total=config.steps, unit="step", dynamic_ncols=True) as bar:
        for record in trainer:
            if writer:
                writer.writerow(csv_row(record))
            bar.set_postfix(loss=f"{record.loss:.4g}", grad=f"{record.grad_norm:.3g}", refresh=False)
            bar.update()
            yield record


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    out_path, threads = args.pop("out"), args.pop("threads")
    try:
        config = RunConfig.from_strings({k: v for k, v in args.items() if v is not None})
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(max(1, threads))
    with open(out_path, "w", newline="") if out_path else nullcontext() as out:
        last = None
        for record in train(config, out):
            last = record
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

"""What every command line of the engine shares: one-line errors and one flag per RunConfig field.

`python -m models.train`, `python -m models.sweep` (and their console scripts `rnn-lab-train`,
`rnn-lab-sweep`) build their parsers from these, so a flag means the same thing everywhere.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection
from dataclasses import fields
from pathlib import Path
from typing import NoReturn

from models.config import CHOICES, RunConfig, field_help


class Parser(argparse.ArgumentParser):
    """argparse, but a bad value stops with one line (status 2) instead of the usage dump."""

    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the message already names the valid choices.
        self.exit(2, f"{self.prog}: error: {message}\n")


def prog(module: str) -> str:
    """The name the user typed: `rnn-lab-train` from a console script, else `python -m models.train`."""
    typed = Path(sys.argv[0]).name
    return typed if typed.startswith("rnn-lab") else f"python -m {module}"


def add_config_flags(parser: argparse.ArgumentParser, names: Collection[str] | None = None) -> None:
    """One flag per RunConfig field (all, or those in `names`): `--seq-len` for `seq_len`; values stay text."""
    helps = field_help()
    for f in fields(RunConfig):
        if names is not None and f.name not in names:
            continue
        choices = f" ({', '.join(CHOICES[f.name])})" if f.name in CHOICES else ""
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, metavar=f.name.upper(),
                            help=f"{helps[f.name]}{choices} [default: {f.default}]")

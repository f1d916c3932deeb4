"""Trainability map: how much gradient reaches the first timestep, at initialization.

For every (recurrent gain, sequence length) cell of a grid, one forward + backward pass of
the untrained model on a fixed seeded batch gives log10(‖∂L/∂h_1‖ / ‖∂L/∂h_T‖), h_1 the state after
the first word and h_T the last (grad_first / grad_last in the table): negative where gradients
vanish, positive where they explode; the zero contour is the
"edge of chaos" (Bertschinger & Natschläger 2004; Chen, Pennington & Schoenholz 2018 for RNN signal propagation).

Cells are independent, so they run in parallel through joblib (local cores, `loky`) or on a
Ray cluster through Ray's joblib backend (`ray`, imported only then). Every cell builds its
model and batch from the config's seed and runs single-threaded in float64, so the numbers
do not depend on the backend, the number of jobs or the order cells finish in.

    python -m models.sweep --init orthogonal --gains 0.5:2.0:16 --seq-lens 5,10,20,50,100,200 --out map.csv
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from tqdm import tqdm

from models.backprop import gradient_profile
from models.cells import build_model
from models.cli import Parser, add_config_flags, prog
from models.config import RunConfig
from models.tasks import make_task

# |log10 ratio| beyond this is "out of range": float64 underflowed to 0 (or overflowed to
# inf / NaN) somewhere near here, and no colour or digit would mean more than "vanished".
LIMIT = 300.0
COLUMNS = ("gain", "seq_len", "log_ratio", "grad_first", "grad_last", "below_range", "above_range")
BACKENDS = ("loky", "ray")
# RunConfig fields that change the model or batch at initialization: the CLI's flags.
INIT_FIELDS = ("model", "activation", "negative_slope", "init", "init_std", "forget_bias", "update_bias", "task",
               "hidden_size", "batch_size", "seed")


def gain_grid(lo: float, hi: float, n: int) -> tuple[float, ...]:
    """n evenly spaced gains, rounded so a clicked cell shows 1.3, not 1.3000000000000003."""
    return tuple(round(float(g), 6) for g in np.linspace(lo, hi, n))


def log_ratio(first: float, last: float) -> tuple[float, bool, bool]:
    """(log10(first / last) clipped to ±LIMIT, below_range, above_range); never a log(0) error.

    first = 0 (float64 underflow) is below range; inf or NaN in either norm (the forward or
    backward pass overflowed), or last = 0, is above range.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(np.log10(first) - np.log10(last))  # -inf when first = 0, NaN from NaN
    if not (math.isfinite(first) and math.isfinite(last)) or math.isnan(value):
        return LIMIT, False, True
    return float(np.clip(value, -LIMIT, LIMIT)), value < -LIMIT, value > LIMIT


@contextmanager
def _one_thread() -> Iterator[None]:
    # Each job is one small cell: intra-op threads would only oversubscribe the cores joblib fills.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def measure(config: RunConfig) -> dict[str, float | int | bool]:
    """One cell: the untrained model of `config` on its seeded batch, in float64."""
    with _one_thread():
        task = make_task(config)
        x, y = task.sample(config.batch_size)  # (B, T, D), (B,)
        model = build_model(config, task.input_size).double()  # float32 init, float64 arithmetic
        hidden = gradient_profile(model, x.double(), y.double(), task.loss).hidden  # (T,)
    first, last = float(hidden[0]), float(hidden[-1])  # ‖∂L/∂h_1‖, ‖∂L/∂h_T‖ (arrays are 0-indexed)
    value, below, above = log_ratio(first, last)
    return {"gain": config.recurrent_gain, "seq_len": config.seq_length, "log_ratio": value, "grad_first": first,
            "grad_last": last, "below_range": below, "above_range": above}


def grid(base: RunConfig, gains: Iterable[float], seq_lens: Iterable[int]) -> list[RunConfig]:
    """One config per cell, seq_len-major; invalid values raise ValueError before any work."""
    if base.task == "cat_mat_rat":
        raise ValueError("task=cat_mat_rat always has 3 words; sweep seq_len with first_token or adding")
    configs = [base.replace(recurrent_gain=float(g), seq_len=int(t)) for t in seq_lens for g in gains]
    if not configs:
        raise ValueError("the grid is empty: give at least one gain and one seq_len")
    return configs


@contextmanager
def _ray(address: str | None) -> Iterator[None]:
    """Connect to (or start) Ray unless already connected, and register its joblib backend."""
    try:  # optional dependency: only this backend needs it
        import ray
        from ray.util.joblib import register_ray
    except ImportError as error:
        raise ImportError("backend 'ray' needs Ray: pip install -r requirements-ray.txt "
                          "(or the project's extra: pip install '.[ray]')") from error

    started = not ray.is_initialized()
    if started:
        # Ship this package to the cluster's workers; they need requirements.txt installed.
        ray.init(address=address, runtime_env={"py_modules": [str(Path(__file__).parent)]},
                 include_dashboard=False, log_to_driver=False)
    register_ray()
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def trainability_map(base: RunConfig, gains: Sequence[float], seq_lens: Sequence[int], *, n_jobs: int = 1,
                     backend: str = "loky", address: str | None = None, progress: bool = False) -> pd.DataFrame:
    """Long-form map: one row per (gain, seq_len) with the COLUMNS, in grid order (seq_len-major, as given).

    n_jobs follows joblib (-1 = every core, or every CPU of the Ray cluster); `address` is
    Ray's (e.g. "auto" or "ray://head:10001"), used only with backend="ray".
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not one of {', '.join(BACKENDS)}")
    configs = grid(base, gains, seq_lens)
    rows: list[dict[str, float | int | bool]] = []
    with (_ray(address) if backend == "ray" else nullcontext(), parallel_config(backend=backend, n_jobs=n_jobs),
          Parallel() as parallel,  # one worker pool for all chunks
          tqdm(total=len(configs), unit="cell", disable=not progress, dynamic_ncols=True) as bar):
        # Chunks of a few cells per worker, so the bar moves; Ray's backend cannot stream results.
        chunk = 4 * effective_n_jobs(n_jobs)
        for start in range(0, len(configs), chunk):
            rows += parallel(delayed(measure)(c) for c in configs[start : start + chunk])
            bar.update(len(rows) - bar.n)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def crossings(frame: pd.DataFrame) -> pd.Series:
    """Per seq_len, the gain where log_ratio first turns non-negative (linear interpolation); NaN if never."""

    def crossing(row: pd.DataFrame) -> float:
        gains, values = row["gain"].to_numpy(), row["log_ratio"].to_numpy()
        up = np.flatnonzero((values[:-1] < 0) & (values[1:] >= 0))
        if len(up) == 0:
            return float("nan")
        i = up[0]
        return float(np.interp(0.0, values[i : i + 2], gains[i : i + 2]))

    return frame.sort_values(["seq_len", "gain"]).groupby("seq_len")[["gain", "log_ratio"]].apply(crossing)


def _gains(text: str) -> tuple[float, ...]:
    """'0.5:2.0:16' (lo:hi:count) or '0.5,1,1.5'."""
    try:
        if ":" in text:
            lo, hi, n = text.split(":")
            return gain_grid(float(lo), float(hi), int(n))
        return tuple(float(g) for g in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LO:HI:COUNT like 0.5:2.0:16 or a list 0.5,1") from None


def _seq_lens(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected whole numbers like 5,10,20,50") from None


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=prog("models.sweep"), description=__doc__.splitlines()[0])
    add_config_flags(parser, INIT_FIELDS)
    parser.add_argument("--gains", type=_gains, default=gain_grid(0.5, 2.0, 16),
                        help="recurrent gains: LO:HI:COUNT or a comma list [default: 0.5:2.0:16]")
    parser.add_argument("--seq-lens", type=_seq_lens, default=(5, 10, 20, 50, 100, 200),
                        help="sequence lengths, comma list [default: 5,10,20,50,100,200]")
    parser.add_argument("--out", type=Path, help="CSV file to write [default: standard output]")
    parser.add_argument("--n-jobs", type=int, default=-1, help="parallel jobs, -1 = all cores / CPUs [default: -1]")
    parser.add_argument("--backend", choices=BACKENDS, default="loky", help="loky: local cores; ray: a Ray cluster")
    parser.add_argument("--address", help="Ray cluster address (--backend ray), e.g. auto or ray://head:10001")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.address and args.backend != "ray":
        parser.error("--address needs --backend ray")
    if args.n_jobs == 0:
        parser.error("--n-jobs must not be 0 (-1 = all cores)")
    try:
        base = RunConfig.from_strings({k: v for k, v in vars(args).items() if k in INIT_FIELDS and v is not None})
        grid(base, args.gains, args.seq_lens)  # validate every cell before starting workers
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    try:
        frame = trainability_map(base, args.gains, args.seq_lens, n_jobs=args.n_jobs, backend=args.backend,
                                 address=args.address, progress=True)
    except (ImportError, ConnectionError) as error:  # no Ray installed, or no cluster at --address
        print(f"{parser.prog}: error: {error}".splitlines()[0], file=sys.stderr)
        return 1
    frame.to_csv(args.out if args.out else sys.stdout, index=False)
    edges = ", ".join(f"T={t}: {g:.3g}" for t, g in crossings(frame).items())
    print(f"{len(frame)} cells in {time.perf_counter() - start:.1f} s; log-ratio crosses 0 at gain {edges}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

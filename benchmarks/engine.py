"""Benchmark: instrumented Trainer.step() vs the uninstrumented fused PyTorch step.

    python -m benchmarks.engine [--threads 1,2] [--rounds 9] [--sizes 50/64/64,100/64/64] [--clock cpu]
    python -m benchmarks.engine --breakdown gru --sizes 100/64/64      # where each step's time goes

Both sides sample the same task batch, run forward + backward + SGD update at the same
sizes; ours also computes the exact per-timestep profile and the spectral radius. Blocks
of steps are interleaved and the ratio is taken inside each round (absolute times drift
on shared machines, ratios measured side by side drift less); each cell shows the median
ratio and its min–max over the rounds. The app trains with one torch thread: that table
comes first. The machine's load average is printed first, with a warning when it is busy.
--clock cpu times with this process's CPU time instead of the wall clock: at one thread it
ignores the time other jobs hold the core (but not their effect on caches), so it is steadier
on a busy machine; at two threads it adds up both threads' work and is not the latency a user feels.
--breakdown MODEL runs torch.profiler over steps of both sides instead and lists each side's
costliest ops, milliseconds per step of self CPU time (the profiler adds ~1 µs per op, which
weighs more on our many small ops than on the fused kernel's few large ones).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from models.config import RunConfig
from models.tasks import make_task
from models.trainer import Trainer

SIZES = [(3, 8, 4), (50, 64, 64), (100, 64, 64), (200, 128, 64)]  # (T, H, B)
CASES = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "leaky_relu"), ("lstm", "tanh"), ("gru", "tanh")]
GATED: dict[str, type[nn.Module]] = {"lstm": nn.LSTM, "gru": nn.GRU}  # the fused module of each gated model
BUSY = 0.25  # load average per core above which other work is likely to skew the ratios


def fused_module(config: RunConfig, input_size: int) -> nn.Module:
    """The torch.nn module that computes config's recurrence with one fused kernel (see fused_step)."""
    if config.model in GATED:
        return GATED[config.model](input_size, config.hidden_size, batch_first=True)
    nonlinearity = "tanh" if config.activation == "tanh" else "relu"
    return nn.RNN(input_size, config.hidden_size, nonlinearity=nonlinearity, batch_first=True)


def fused_step(config: RunConfig) -> Callable[[], None]:
    """The plain training step with torch.nn.RNN / LSTM / GRU: nothing per timestep.

    nn.RNN has no leaky ReLU, so leaky_relu is compared against the fused ReLU step.
    """
    task = make_task(config)
    torch.manual_seed(config.seed)
    rnn = fused_module(config, task.input_size)
    head = nn.Linear(config.hidden_size, 1)
    optimizer = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=config.lr)

    def step() -> None:
        x, y = task.sample(config.batch_size)
        z = head(rnn(x)[0][:, -1]).squeeze(-1)  # (B,)
        loss = F.binary_cross_entropy_with_logits(z, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def _seconds(step: Callable[[], object], n: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(n):
        step()
    return (clock() - start) / n


def ratios(config: RunConfig, rounds: int, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Our step time / fused step time, once per round; blocks of ~0.15 s, interleaved."""
    ours, fused = Trainer(config).step, fused_step(config)
    _seconds(ours, 3, clock), _seconds(fused, 3, clock)  # warm caches and lazy imports
    n = max(3, int(0.15 / max(_seconds(fused, 3, clock), 1e-5)))
    found = []
    for r in range(rounds):  # alternate who goes first, so a drift in load hits both alike
        if r % 2:
            fused_time = _seconds(fused, n, clock)
            ours_time = _seconds(ours, n, clock)
        else:
            ours_time = _seconds(ours, n, clock)
            fused_time = _seconds(fused, n, clock)
        found.append(ours_time / fused_time)
    return found


def spread(values: list[float]) -> str:
    """'median× (min–max)'."""
    return f"{statistics.median(values):.2f}× ({min(values):.2f}–{max(values):.2f})"


def load_report() -> str:
    """The 1-minute load average, and a warning when other work shares the cores."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    line = f"load average {load:.2f} on {cores} cores at start"
    if load > BUSY * cores:
        line += ("\nWARNING: the machine is busy; ratios swing under load (other jobs take the cores in bursts)."
                 " Re-run when `uptime` shows a load near 0.")
    return line


def breakdown(config: RunConfig, steps: int = 20, top: int = 8) -> str:
    """Both sides' costliest ops under torch.profiler: ms of self CPU time per step, and the share."""
    lines = []
    for name, step in (("ours", Trainer(config).step), ("fused", fused_step(config))):
        for _ in range(3):
            step()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(steps):
                step()
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in events) / steps / 1e3
        lines.append(f"{name}: {total:.2f} ms per step")
        lines += [f"  {e.key:40s} {e.self_cpu_time_total / steps / 1e3:7.2f} ms  {e.count // steps:5d} calls"
                  f"  {e.self_cpu_time_total / steps / 1e3 / total:4.0%}" for e in events[:top]]
    return "\n".join(lines)


def _sizes(text: str) -> list[tuple[int, int, int]]:
    return [tuple(int(n) for n in item.split("/")) for item in text.split(",")]  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="torch thread counts, one table each (default 1,2)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--sizes", type=_sizes, default=SIZES, help="T/H/B,... (default 3/8/4,50/64/64,...)")
    parser.add_argument("--clock", choices=CLOCKS, default="wall")
    parser.add_argument("--breakdown", choices=("rnn", *GATED), help="profile this model's step instead")
    args = parser.parse_args()
    print(f"torch {torch.__version__}; {load_report()}")
    if args.breakdown:
        for threads in (int(n) for n in args.threads.split(",")):
            torch.set_num_threads(threads)
            for T, H, B in args.sizes:
                config = RunConfig(model=args.breakdown, task="first_token", seq_len=T, hidden_size=H,
                                   batch_size=B, lr=0.01, steps=100_000)
                print(f"\n{args.breakdown} {T}/{H}/{B}, {threads} thread(s)\n{breakdown(config)}", flush=True)
        return
    print(f"ratio = ours / fused ({args.clock} clock), median (min–max) over rounds; lower is faster")
    for threads in (int(n) for n in args.threads.split(",")):
        torch.set_num_threads(threads)
        print(f"\n{threads} thread{'s' * (threads > 1)}\n")
        print("| T/H/B | " + " | ".join(f"{m} {a}" for m, a in CASES) + " |")
        print("|---" * (len(CASES) + 1) + "|")
        for T, H, B in args.sizes:
            cells = []
            for model, activation in CASES:
                config = RunConfig(model=model, activation=activation, task="first_token", seq_len=T,
                                   hidden_size=H, batch_size=B, lr=0.01, steps=100_000)
                cells.append(spread(ratios(config, args.rounds, CLOCKS[args.clock])))
            print(f"| {T}/{H}/{B} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

"""Memory in the cost model: a run's estimated peak, the per-run budget RunConfig enforces, and how the server's
budget (RNN_LAB_MEMORY_MB) sets both the per-run budget and how many runs train at once."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import models.cost as cost
from benchmarks.memory import run_growth_mb
from models import RunConfig

ROOT = Path(__file__).resolve().parents[2]


def _sizes(model: str, T: int, H: int, B: int) -> SimpleNamespace:
    return SimpleNamespace(model=model, seq_length=T, hidden_size=H, batch_size=B)


def test_memory_grows_with_every_size_and_the_lstm_holds_the_most():
    base = _sizes("rnn", 100, 64, 64)
    for field in ("seq_length", "hidden_size", "batch_size"):
        bigger = SimpleNamespace(**vars(base) | {field: getattr(base, field) * 2})
        assert cost.run_megabytes(bigger) > cost.run_megabytes(base)
    assert cost.run_megabytes(_sizes("lstm", 100, 64, 64)) > cost.run_megabytes(base)
    assert cost.run_megabytes(_sizes("lstm", 2, 1, 1)) == pytest.approx(cost.RUN_BASE_MB, abs=0.01)


@pytest.mark.parametrize("size", ["lstm/200/64/256", "rnn/200/128/256", "gru/200/128/256"])
def test_estimate_is_within_a_fifth_of_the_measured_peak(size):
    """A fresh process trains two steps; its peak resident memory grows by about the estimate."""
    model, T, H, B = size.split("/")
    measured = run_growth_mb(size)
    assert 0.8 < cost.run_megabytes(_sizes(model, int(T), int(H), int(B))) / measured < 1.2, measured


def test_a_run_over_the_memory_budget_is_refused_naming_the_limit_and_the_sizes():
    # fast enough for the time budget (RNN, batch 512), too large for the memory one
    T, B = 500, 512
    H = max(h for h in range(1, 257) if cost.run_megabytes(_sizes("rnn", T, h, B)) <= cost.RUN_MEMORY_MB)
    edge = RunConfig(model="rnn", task="first_token", seq_len=T, hidden_size=H, batch_size=B)
    assert cost.step_seconds(edge.replace(hidden_size=H)) <= cost.BUDGET_SECONDS
    with pytest.raises(ValueError) as error:
        edge.replace(hidden_size=H + 1)
    message = str(error.value)
    assert cost.step_seconds(_sizes("rnn", T, H + 1, B)) <= cost.BUDGET_SECONDS  # memory, not time, refused it
    assert f"over the {cost.RUN_MEMORY_MB:g} MB memory budget" in message
    assert f"hidden_size ({H + 1})" in message and "seq_len (500)" in message and "batch_size (512)" in message


def test_lenient_parsing_drops_the_size_that_crosses_the_memory_budget():
    link = {"model": "rnn", "seq_len": "500", "batch_size": "512", "hidden_size": "200"}
    with pytest.raises(ValueError, match="MB memory budget"):
        RunConfig.from_strings(link)
    kept = RunConfig.from_strings(link, lenient=True)
    default = RunConfig()
    assert cost.run_megabytes(kept) <= cost.RUN_MEMORY_MB and kept.seq_len == 500
    assert (kept.hidden_size, kept.batch_size) in [(200, default.batch_size), (default.hidden_size, 512)]


@pytest.mark.parametrize(("server_mb", "most", "per_run", "slots"), [
    (2048, 2, 768, 2),  # the default: two of the largest runs beside the server's base
    (4096, 4, 768, 4),  # a big box: more runs, none larger
    (4096, 2, 768, 2),  # RNN_LAB_MAX_TRAINING still caps them
    (1500, 2, 768, 1),  # room for one largest run only
    (1000, 2, 550, 1),  # a small app: one run, and smaller
])
def test_the_server_budget_sets_the_per_run_budget_and_the_training_slots(server_mb, most, per_run, slots):
    assert cost.run_memory_budget(server_mb) == per_run
    assert cost.training_slots(most, server_mb) == slots
    assert cost.SERVER_BASE_MB + slots * per_run <= server_mb


def test_the_environment_sets_the_server_budget_for_the_app_and_every_run():
    code = ("import models.cost as c; from dashboard.player import SLOTS; from models import RunConfig\n"
            "try:\n    RunConfig(model='lstm', task='first_token', seq_len=500, hidden_size=96, batch_size=256)\n"
            "except ValueError as e:\n    print(e)\n"
            "print(c.RUN_MEMORY_MB, SLOTS.limit)")
    env = os.environ | {"RNN_LAB_MEMORY_MB": "1000", "RNN_LAB_MAX_TRAINING": "2"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    refusal, budgets = done.stdout.strip().splitlines()
    assert budgets == "550.0 1" and "over the 550 MB memory budget" in refusal
    assert cost.run_megabytes(_sizes("lstm", 500, 96, 256)) > 550  # the default budget accepts it
    RunConfig(model="lstm", task="first_token", seq_len=500, hidden_size=96, batch_size=256)

"""The dashboard bench's chart ablation leaves out exactly the charts it names, where the Lab draws from; the
sessions bench drives a real server and prints its memory figures; the engine bench compares each gated
model with its own fused torch.nn module; the slide bench prints its first and later times; the estimate bench times
steps of any length."""

import itertools
import re
import sys
from types import SimpleNamespace

import pytest
import torch

import dashboard.charts
import dashboard.live_view
from benchmarks import estimate, sessions, slide
from benchmarks.dashboard import ablations, without_charts
from benchmarks.engine import CASES, fused_module, ratios
from models import RunConfig, build_model


def test_the_ablation_hook_drops_only_the_named_charts_from_the_lab(monkeypatch):
    for module in (dashboard.charts, dashboard.live_view):  # restored after the test
        monkeypatch.setattr(module, "live_charts", module.live_charts)
    exec(without_charts(("heatmap", "radius")), {})  # what the server runs before Streamlit starts
    names = [c.name for c in dashboard.live_view.live_charts("rnn")]
    assert names == ["loss", "profile", "weight_terms", "grad_norm"]
    assert [c.name for c in dashboard.charts.live_charts("lstm")] == [*names, "gates"]


def test_an_ablation_measures_all_charts_each_one_left_out_and_none():
    variants = ablations(RunConfig(model="lstm"))
    charts = ("loss", "profile", "weight_terms", "heatmap", "grad_norm", "radius", "gates")
    assert variants == [(), *((name,) for name in charts), charts]


def test_the_sessions_bench_prints_memory_before_peak_and_after_and_closed_sessions_hold_no_run(monkeypatch, capsys):
    """Two tabs open -> Train -> close and two slope links against a real server (no browser): every figure is
    printed, both presses started training, and once the tabs closed and their grace period passed the server
    holds no run but the one idle run released runners share (and no training thread)."""
    monkeypatch.setenv("RNN_LAB_GRACE_S", "0.5")  # the server's janitor releases a closed tab's run within 2 s
    monkeypatch.setattr(sys, "argv", ["sessions", "--sessions", "2", "--urls", "2", "--after", "2", "--clients", "2"])
    sessions.main()
    out = capsys.readouterr().out
    assert "(2 showed Pause after Train), 2 distinct negative_slope links" in out
    for line in ("RSS before: ", "RSS peak: ", "RSS after: ", "RSS after gc.collect() and malloc_trim(0)"):
        assert re.search(rf"^{re.escape(line)}.*\d+ MB", out, re.MULTILINE), line
    assert re.search(r"^after - before: [+-]\d+ MB, within \+60 MB: (yes|NO)$", out, re.MULTILINE)
    collected = re.search(r"malloc_trim\(0\) in the server: .*\(held: (.*)\)$", out, re.MULTILINE).group(1)
    held = r"app_sessions=\d+ runners=\d+ runs=1 histories=1 training_threads=0 in_grace=0"
    assert re.fullmatch(held, collected), collected


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_the_engine_bench_compares_each_gated_model_with_its_own_fused_module(model):
    """The GRU's ratio is against torch.nn.GRU (same weights, same outputs), and the bench reports it."""
    config = RunConfig(model=model, seq_len=5, hidden_size=4, batch_size=3)
    ours = build_model(config, 3)
    fused = fused_module(config, 3)
    fused.load_state_dict({k.removeprefix("rnn."): v for k, v in ours.state_dict().items() if k.startswith("rnn.")})
    x = torch.randn(3, 5, 3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(fused(x)[0], ours.rnn(x))
    assert (model, "tanh") in CASES
    found = ratios(config, rounds=2)
    assert len(found) == 2 and all(0 < r < float("inf") for r in found)


def test_the_slide_bench_times_the_first_call_and_the_next_ones(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["slide", "--runs", "2", "--model", "rnn", "--seq-len", "5", "--steps", "2"])
    slide.main()
    out = capsys.readouterr().out
    assert re.fullmatch(r"slide_png, rnn T=5, 2 steps: first call \d+\.\d\d s; next 2: median \d+\.\d\d s, "
                        r"slowest \d+\.\d\d s\n", out), out


def test_the_estimate_bench_prints_each_rounds_error_and_the_kept_measurement(monkeypatch, capsys):
    """On a small LSTM (the real bench runs the largest, 2.4-2.9 s a step here): every round's estimate, measured
    time and error, their spread, and the estimate a new run of the same sizes starts from (the server's
    measurement)."""
    from dashboard.runner import STEP_TIMES

    small = RunConfig(model="lstm", seq_len=20, hidden_size=16, batch_size=8)
    monkeypatch.setattr(estimate, "LARGEST_LSTM", small)
    STEP_TIMES.clear()
    try:
        estimate.main(["--rounds", "2", "--after", "2", "--steps", "3"])
        out = capsys.readouterr().out
        assert len(re.findall(r"^round \d: estimate after 2 steps [\d.]+ s, next 3 steps [\d.]+ s per step "
                              r"\(median\), error [+-]\d+%$", out, re.MULTILINE)) == 2
        assert re.search(r"^error of the estimate: [+-]\d+% \([+-]\d+% … [+-]\d+%\) over 2 rounds", out, re.MULTILINE)
        kept = re.search(r"^a new run of the same sizes, before its first step: ([\d.]+) s per step", out, re.MULTILINE)
        assert kept and float(kept.group(1)) == pytest.approx(STEP_TIMES.get(small), abs=0.005)
    finally:
        STEP_TIMES.clear()


def test_the_estimate_bench_times_steps_shorter_than_its_poll():
    """A counter that moves 10 steps between polls passes a goal of 4 in one move: the bench waits for a second
    move, so the median has an interval (one end alone left `statistics.median` nothing)."""
    counter = itertools.count(0, 10)
    runner = SimpleNamespace(snapshot=lambda: SimpleNamespace(step=next(counter)))
    ends = estimate._step_ends(runner, 4)
    assert [step for _, step in ends] == [10, 20]

"""Trainability map: the edge of chaos where it was measured, long lags, and one answer from every path."""

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from models import RunConfig, build_model, gradient_profile, make_task
from models.sweep import LIMIT, crossings, gain_grid, log_ratio, main, trainability_map

ROOT = Path(__file__).resolve().parents[2]
ORTHOGONAL_TANH = RunConfig(init="orthogonal")  # Elman RNN, tanh, hidden 32, first_token, seed 0
SMALL = dict(gains=(0.8, 1.2, 1.6), seq_lens=(5, 20))


def test_tanh_orthogonal_log_ratio_grows_with_gain_and_crosses_zero():
    frame = trainability_map(ORTHOGONAL_TANH, gain_grid(0.5, 2.0, 16), (20, 50))
    for _, row in frame.groupby("seq_len"):
        assert np.all(np.diff(row["log_ratio"].to_numpy()) > 0)
    edges = crossings(frame)
    assert ((edges > 0.8) & (edges < 1.5)).all()  # the window
    # Measured (seeds 0-4: T=20 1.24-1.26, T=50 1.28-1.30); above 1 because tanh' < 1 where inputs drive units.
    assert edges[20] == pytest.approx(1.255, abs=0.01)
    assert edges[50] == pytest.approx(1.282, abs=0.01)


def test_the_map_covers_the_gru():
    """The map's model list is CHOICES['model']: a GRU's cells are finite, and the gain (on all three blocks of
    W_hh) moves them: more gain, less vanishing."""
    frame = trainability_map(RunConfig(model="gru", init="orthogonal"), (0.5, 2.0), (20,))
    assert np.isfinite(frame["log_ratio"]).all() and not frame["below_range"].any()
    assert frame["log_ratio"].iloc[1] > frame["log_ratio"].iloc[0] + 1


def test_log_ratio_never_takes_log_of_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert log_ratio(1e-5, 1e-2) == (pytest.approx(-3.0), False, False)
        assert log_ratio(0.0, 1e-2) == (-LIMIT, True, False)
        assert log_ratio(1e-2, 0.0) == (LIMIT, False, True)
        assert log_ratio(float("inf"), 1.0) == (LIMIT, False, True)
        assert log_ratio(float("nan"), float("nan")) == (LIMIT, False, True)


def test_long_lags_are_measured_in_float64_or_flagged():
    # At gain 0.5 over 200 steps float32 underflows to exactly 0; float64 still measures it.
    config = ORTHOGONAL_TANH.replace(recurrent_gain=0.5, seq_len=200)
    task = make_task(config)
    x, y = task.sample(config.batch_size)
    assert gradient_profile(build_model(config, task.input_size), x, y, task.loss).hidden[0] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = trainability_map(ORTHOGONAL_TANH, (0.1, 0.5), (200, 500))
        exploding = trainability_map(ORTHOGONAL_TANH.replace(activation="relu"), (10.0,), (500,))
    measured = frame.set_index(["gain", "seq_len"])
    assert measured.loc[(0.5, 200), "log_ratio"] == pytest.approx(-64.6, abs=0.1)
    assert not measured.loc[(0.5, 200), ["below_range", "above_range"]].any()
    # Gain 0.1 over 500 steps: below even float64's range, so flagged at the floor, not log(0).
    assert measured.loc[(0.1, 500), "grad_first"] == 0.0
    assert measured.loc[(0.1, 500), ["log_ratio", "below_range"]].tolist() == [-LIMIT, True]
    # ReLU with gain 10 over 500 steps overflows float64: flagged at the ceiling.
    assert exploding[["log_ratio", "above_range", "below_range"]].iloc[0].tolist() == [LIMIT, True, False]


def test_same_numbers_for_any_number_of_jobs():
    one = trainability_map(ORTHOGONAL_TANH, **SMALL)
    two = trainability_map(ORTHOGONAL_TANH, **SMALL, n_jobs=2)
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_cells_run_single_threaded_and_restore_the_callers_threads():
    torch.set_num_threads(2)
    try:
        trainability_map(ORTHOGONAL_TANH, (1.0,), (5,))
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_cli_writes_the_same_numbers_as_the_function(tmp_path):
    out = tmp_path / "map.csv"
    done = subprocess.run(
        [sys.executable, "-m", "models.sweep", "--init", "orthogonal", "--gains", "0.8:1.6:3", "--seq-lens", "5,20",
         "--n-jobs", "2", "--out", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "6/6" in done.stderr  # the progress bar finished
    written = pd.read_csv(out)
    pd.testing.assert_frame_equal(written, trainability_map(ORTHOGONAL_TANH, **SMALL), check_exact=True)


@pytest.mark.parametrize("argv", [
    ["--model", "banana"], ["--gains", "0.5:x"], ["--seq-lens", "1,5"], ["--gains", "0.5:20:4"],
    ["--task", "cat_mat_rat"], ["--address", "auto"], ["--n-jobs", "0"], ["--backend", "dask"],
])
def test_cli_bad_values_exit_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("python -m models.sweep: error:")


def _ray():
    if os.environ.get("CI"):  # `make test` installs requirements-ray.txt: there a missing Ray fails, not skips
        import ray

        return ray
    return pytest.importorskip("ray")


def test_ray_backend_gives_the_same_numbers():
    ray = _ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = trainability_map(ORTHOGONAL_TANH, **SMALL, n_jobs=2, backend="ray")
        assert ray.is_initialized()  # a caller's own connection is left open
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(on_ray, trainability_map(ORTHOGONAL_TANH, **SMALL), check_exact=True)


# Only this driver process finds `models` (sys.path, not PYTHONPATH or its working folder): Ray's worker
# processes can import it only from the package the sweep ships with runtime_env py_modules.
RAY_DRIVER = """
import sys
sys.path.insert(0, {root!r})
import ray
from models import RunConfig
from models.sweep import trainability_map
frame = trainability_map(RunConfig(init="orthogonal"), {gains!r}, {seq_lens!r}, n_jobs=2, backend="ray")
assert not ray.is_initialized(), "the sweep must shut down the cluster it started"
frame.to_csv(sys.stdout, index=False)
"""


def test_ray_backend_starts_its_own_local_cluster_and_ships_the_package(tmp_path):
    _ray()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", RAY_DRIVER.format(root=str(ROOT), **SMALL)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    on_ray = pd.read_csv(io.StringIO(done.stdout))
    pd.testing.assert_frame_equal(on_ray, trainability_map(ORTHOGONAL_TANH, **SMALL), check_exact=True)

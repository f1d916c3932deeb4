import csv
import subprocess
import sys

import pytest
import torch

from models import RunConfig
from models.export import load
from models.train import main


def test_cli_writes_one_row_per_step_with_textbook_timesteps(tmp_path, capsys):
    out = tmp_path / "run.csv"
    code = main(["--model", "lstm", "--task", "first_token", "--seq-len", "6", "--steps", "4",
                 "--hidden-size", "4", "--out", str(out)])
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    # Words x_1..x_6, states h_1..h_6: hidden_t is ‖∂L/∂h_t‖; there is no h_0 column (h_0 = 0 is not a state).
    for prefix in ("hidden", "cell", "term"):
        assert [k for k in rows[0] if k.startswith(f"{prefix}_")] == [f"{prefix}_{t}" for t in range(1, 7)]
    assert float(rows[0]["hidden_6"]) > 0
    assert float(rows[0]["term_1"]) == 0  # δ_1 h_0ᵀ with h_0 = 0
    assert "step 4" in capsys.readouterr().out


def test_save_writes_the_trained_weights_and_their_config(tmp_path, capsys):
    path = tmp_path / "lstm.pt"
    code = main(["--model", "lstm", "--seq-len", "6", "--hidden-size", "4", "--steps", "4", "--lr", "0.3",
                 "--save", str(path)])
    assert code == 0
    saved = torch.load(path, weights_only=True)
    assert set(saved["state_dict"]) == {f"rnn.{w}_l0" for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")} | {
        "head.weight", "head.bias"}
    checkpoint = load(path)
    assert checkpoint.config == RunConfig(model="lstm", seq_len=6, hidden_size=4, steps=4, lr=0.3)
    assert checkpoint.step == 4
    assert f"saved the weights after 4 step(s) and the RunConfig to {path}" in capsys.readouterr().err


def test_cli_reports_divergence_and_saves_the_last_finite_weights(tmp_path, capsys):
    path = tmp_path / "diverged.pt"
    code = main(["--activation", "relu", "--init", "identity", "--lr", "1", "--seq-len", "50",
                 "--hidden-size", "16", "--steps", "50", "--out", str(tmp_path / "d.csv"), "--save", str(path)])
    assert code == 1
    assert "diverged at step" in capsys.readouterr().err
    rows = list(csv.DictReader((tmp_path / "d.csv").open()))
    checkpoint = load(path)
    assert checkpoint.step == len(rows) - 1  # the diverged step applied no update
    assert all(torch.isfinite(p).all() for p in checkpoint.model.parameters())


@pytest.mark.parametrize(("args", "named"), [
    (["--model", "banana"], "rnn, lstm, residual, gru"),
    (["--lr", "abc"], "lr"),
    (["--seq-len", "99999"], "seq_len"),
    (["--bptt-window", "-1"], "bptt_window=-1 is outside [0, 500]"),
    (["--bptt-window", "2.5"], "bptt_window=2.5 must be a whole number"),
    (["--bogus", "1"], "unrecognized"),
    (["--save", "no/such/folder/w.pt"], "folder no/such/folder does not exist"),
    (["--out", "no/such/folder/run.csv"], "folder no/such/folder does not exist"),
])
def test_bad_values_exit_with_one_line(args, named):
    result = subprocess.run([sys.executable, "-m", "models.train", *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and named in result.stderr
    assert result.stderr.startswith("python -m models.train: error:")
    assert "Traceback" not in result.stderr


def test_cli_trains_and_saves_a_gru_that_torch_nn_gru_runs(tmp_path):
    """`--model gru` end to end: the CSV has no cell columns (no cell state), the .pt runs in torch.nn.GRU."""
    out, path = tmp_path / "gru.csv", tmp_path / "gru.pt"
    assert main(["--model", "gru", "--seq-len", "6", "--hidden-size", "4", "--steps", "3", "--out", str(out),
                 "--save", str(path)]) == 0
    header = next(csv.reader(out.open()))
    assert "hidden_6" in header and "term_6" in header and not any(k.startswith("cell_") for k in header)
    state = torch.load(path, weights_only=True)["state_dict"]
    gru = torch.nn.GRU(state["rnn.weight_ih_l0"].shape[1], 4, batch_first=True)
    gru.load_state_dict({k.removeprefix("rnn."): v for k, v in state.items() if k.startswith("rnn.")})
    checkpoint = load(path)
    x = torch.eye(gru.input_size)[torch.randint(gru.input_size, (5, 6), generator=torch.Generator().manual_seed(1))]
    with torch.no_grad():
        theirs = (gru(x)[0][:, -1] @ state["head.weight"].T + state["head.bias"]).squeeze(-1)
        torch.testing.assert_close(theirs, checkpoint.model(x), rtol=1e-5, atol=1e-6)


def test_bptt_window_flag_truncates_the_written_profile(tmp_path):
    """--bptt-window 2 on 6 words: hidden_1..hidden_4 are exactly 0, the last two are not."""
    out = tmp_path / "run.csv"
    assert main(["--seq-len", "6", "--hidden-size", "4", "--steps", "1", "--bptt-window", "2", "--out", str(out)]) == 0
    row = next(csv.DictReader(out.open()))
    assert [float(row[f"hidden_{t}"]) == 0 for t in range(1, 7)] == [True] * 4 + [False] * 2

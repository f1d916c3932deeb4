import csv
import subprocess
import sys

import pytest

from models.train import main


def test_cli_writes_one_row_per_step(tmp_path, capsys):
    out = tmp_path / "run.csv"
    code = main(["--model", "lstm", "--task", "first_token", "--seq-len", "6", "--steps", "4",
                 "--hidden-size", "4", "--out", str(out)])
    assert code == 0
    rows = list(csv.DictReader(out.open()))
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4]
    assert {"loss", "grad_norm", "spectral_radius", "hidden_0", "hidden_5", "cell_5", "term_5"} <= rows[0].keys()
    assert float(rows[0]["hidden_5"]) > 0
    assert "step 4" in capsys.readouterr().out


def test_cli_reports_divergence(tmp_path, capsys):
    code = main(["--activation", "relu", "--init", "identity", "--lr", "1", "--seq-len", "50",
                 "--hidden-size", "16", "--steps", "50", "--out", str(tmp_path / "d.csv")])
    assert code == 1
    assert "diverged at step" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "named"), [
    (["--model", "banana"], "rnn, lstm, residual"),
    (["--lr", "abc"], "lr"),
    (["--seq-len", "99999"], "seq_len"),
    (["--bogus", "1"], "unrecognized"),
])
def test_bad_values_exit_with_one_line(args, named):
    result = subprocess.run([sys.executable, "-m", "models.train", *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and named in result.stderr
    assert "Traceback" not in result.stderr

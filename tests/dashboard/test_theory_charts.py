"""Theory overlay and LSTM gates charts: long-form data, log axis without log(0), valid specs."""

import numpy as np
import pytest

from dashboard.charts import FLOOR
from dashboard.theory_charts import CURVES, GATES, gates_chart, gates_frame, theory_frame, theory_overlay_chart
from models import RunConfig, Trainer, build_model
from models.theory import Theory, predict, probe_batch


def _theory() -> Theory:
    config = RunConfig(seq_len=12, hidden_size=6, batch_size=4)
    x, y, loss = probe_batch(config)
    return predict(build_model(config, x.shape[-1]), x, y, loss)


def test_theory_frame_is_long_form_with_every_curve():
    df = theory_frame(_theory())
    assert set(df["curve"]) == set(CURVES) and len(df) == 3 * 12
    assert {"t", "plotted", "below", "value"} <= set(df.columns)


def test_zeros_sit_below_range_and_infinities_are_dropped():
    exact = np.array([0.0, 1e-3, 1.0])
    theory = Theory(measured=exact, exact=exact, bound=np.array([np.inf, 1.0, 1.0]), gamma=1.0, sigma_max=1e300,
                    base=1e300)
    df = theory_frame(theory)
    assert len(df) == 8 and df["plotted"].min() == FLOOR and df["below"].sum() == 2
    spec = theory_overlay_chart(theory).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["scale"]["type"] == "log"
    assert any("tooltip" in layer.get("encoding", {}) for layer in spec["layer"]) or "tooltip" in str(spec)


def test_gates_chart_from_an_lstm_record():
    record = Trainer(RunConfig(model="lstm", forget_bias=5.0, seq_len=8, hidden_size=4, batch_size=3)).step()
    gates, cell = gates_frame(record)
    assert set(gates["gate"]) == set(GATES) and len(gates) == 3 * 8 and len(cell) == 8
    assert gates[gates["gate"] == GATES[0]]["mean"].min() > 0.9  # σ(5) ≈ 0.993: the forget gate starts open
    spec = gates_chart(record).to_dict()
    assert len(spec["hconcat"]) == 2


def test_gates_chart_refuses_an_rnn_record():
    record = Trainer(RunConfig(seq_len=4, hidden_size=3, batch_size=2)).step()
    with pytest.raises(ValueError, match="LSTM"):
        gates_frame(record)

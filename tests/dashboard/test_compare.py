import numpy as np

from dashboard.compare import PinnedRun, difference_labels, overlay_charts, overlay_frames
from models import RunConfig


def _pin(config: RunConfig, hidden=(1e-3, 0.0, 1.0)) -> PinnedRun:
    return PinnedRun(config, np.arange(1, 4), np.array([0.7, 0.6, 0.5]), np.array(hidden), 3, "done")


def test_labels_name_only_what_differs():
    labels = difference_labels([RunConfig(), RunConfig(model="lstm"), RunConfig(model="lstm", clip="norm")])
    assert labels == ["#1 tanh RNN, clip=none", "#2 LSTM, clip=none", "#3 LSTM, clip=norm"]


def test_labels_for_numbers_and_identical_runs():
    assert difference_labels([RunConfig(lr=0.1), RunConfig(lr=0.01)]) == ["#1 lr=0.1", "#2 lr=0.01"]
    assert difference_labels([RunConfig(), RunConfig()]) == ["#1 same settings", "#2 same settings"]


def test_overlay_holds_every_run_and_marks_underflow():
    pins = [_pin(RunConfig()), _pin(RunConfig(model="lstm"))]
    loss, profile = overlay_frames(pins)
    assert set(loss["run"]) == {"#1 tanh RNN", "#2 LSTM"} and len(loss) == 6
    assert profile["below"].sum() == 2 and profile["norm"].isna().sum() == 2
    spec = overlay_charts(pins).to_dict()
    assert len(spec["hconcat"]) == 2

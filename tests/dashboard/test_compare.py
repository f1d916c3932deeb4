"""Compare runs: labels name only settings that differ and apply, one distinct colour per run, zeros as ▼."""

import numpy as np
import pytest

from dashboard.compare import APPLIES, PALETTE, PinnedRun, applies, difference_labels, overlay_charts, overlay_frames
from models import RunConfig
from models.config import CHOICES


def _pin(config: RunConfig, hidden=(1e-3, 0.0, 1.0)) -> PinnedRun:
    return PinnedRun(config, np.arange(1, 4), np.array([0.7, 0.6, 0.5]), np.array(hidden), 3, "done")


def test_labels_name_only_what_differs():
    labels = difference_labels([RunConfig(), RunConfig(model="lstm"), RunConfig(model="lstm", clip="norm")])
    assert labels == ["#1 tanh RNN, clip=none", "#2 LSTM, clip=none", "#3 LSTM, clip=norm"]


def test_labels_for_numbers_and_identical_runs():
    assert difference_labels([RunConfig(lr=0.1), RunConfig(lr=0.01)]) == ["#1 lr=0.1", "#2 lr=0.01"]
    assert difference_labels([RunConfig(), RunConfig()]) == ["#1 same settings", "#2 same settings"]
    assert difference_labels([]) == []


def test_gru_is_named_like_the_lstm():
    assert difference_labels([RunConfig(), RunConfig(model="gru"), RunConfig(model="gru", activation="relu")]) == [
        "#1 tanh RNN", "#2 GRU", "#3 relu GRU"]


def test_rnn_against_lstm_names_no_forget_bias():
    # The screenshot's case: an RNN (forget bias unused, left at 1) against an LSTM with forget bias 5.
    labels = difference_labels([RunConfig(), RunConfig(model="lstm", forget_bias=5.0)])
    assert labels == ["#1 tanh RNN", "#2 LSTM"]
    two_lstms = difference_labels([RunConfig(), RunConfig(model="lstm", forget_bias=5.0),
                                   RunConfig(model="lstm", forget_bias=1.0)])
    assert two_lstms == ["#1 tanh RNN", "#2 LSTM, forget bias=5", "#3 LSTM, forget bias=1"]


def test_two_grus_differ_by_update_bias_and_an_lstm_by_nothing_it_lacks():
    labels = difference_labels([RunConfig(model="gru", update_bias=3.0), RunConfig(model="gru"),
                                RunConfig(model="lstm", update_bias=3.0)])
    assert labels == ["#1 GRU, update bias=3", "#2 GRU, update bias=0", "#3 LSTM"]


@pytest.mark.parametrize(("setting", "where", "elsewhere"), [
    ("momentum", {"optimizer": "momentum"}, {"optimizer": "sgd"}),
    ("negative_slope", {"activation": "leaky_relu"}, {"activation": "tanh"}),
    ("init_std", {"init": "normal"}, {"init": "default"}),
    ("clip_threshold", {"clip": "norm"}, {"clip": "none"}),
    ("seq_len", {"task": "first_token"}, {"task": "cat_mat_rat"}),
    ("forget_bias", {"model": "lstm"}, {"model": "rnn"}),
])
def test_a_setting_is_named_only_on_the_runs_it_applies_to(setting, where, elsewhere):
    default = getattr(RunConfig(), setting)
    a, b = RunConfig(**where), RunConfig(**where, **{setting: default * 0.5})
    off = RunConfig(**elsewhere, **{setting: default * 0.25})  # a value that does nothing in that run
    labels = difference_labels([a, b, off])
    name = {"negative_slope": "slope", "clip_threshold": "clip at", "seq_len": "T",
            "forget_bias": "forget bias"}.get(setting, setting)
    assert f"{name}=" in labels[0] and f"{name}=" in labels[1] and f"{name}=" not in labels[2], labels
    assert not applies(off, setting) and applies(a, setting)
    # Between two runs where it does nothing, a different value is no difference at all.
    assert difference_labels([off, RunConfig(**elsewhere)]) == ["#1 same settings", "#2 same settings"]


def test_every_conditional_setting_is_a_config_field():
    assert set(APPLIES) <= set(RunConfig().to_dict()) and not set(APPLIES) & set(CHOICES)


def test_overlay_holds_every_run_and_marks_exact_zeros_below_the_lowest_point():
    pins = [_pin(RunConfig()), _pin(RunConfig(model="lstm"))]
    loss, profile = overlay_frames(pins)
    assert set(loss["run"]) == {"#1 tanh RNN", "#2 LSTM"} and len(loss) == 6
    assert profile["t"].tolist() == [1, 2, 3] * 2  # t = 1..T
    assert profile["below"].sum() == 2 and (profile.loc[profile["below"], "plotted"] == 1e-4).all()
    assert profile["plotted"].notna().all()  # an IRNN's zeros are points, not gaps
    charts = overlay_charts(pins)
    assert len(charts) == 2
    zeros = charts[1].to_dict()["layer"][1]
    assert zeros["mark"]["shape"] == "triangle-down" and zeros["transform"] == [{"filter": "datum.below"}]


def test_each_overlaid_run_gets_its_own_palette_colour_in_order():
    pins = [_pin(RunConfig(seed=s)) for s in range(4)]
    labels = [f"#{k} run" for k in (2, 3, 5, 8)]
    loss, profile = (chart.to_dict() for chart in overlay_charts(pins, labels))
    scale = loss["layer"][0]["encoding"]["color"]["scale"]  # the loss line (then its lone dots)
    assert scale["domain"] == labels and scale["range"] == list(PALETTE)
    assert len(set(PALETTE)) == 4 and "#0072B2" in PALETTE  # Okabe–Ito: not two blues
    assert profile["layer"][0]["encoding"]["color"]["scale"] == scale  # same colour on both charts
    # One legend for both, under the loss chart: the profile chart keeps its whole column for the plot.
    assert loss["layer"][0]["encoding"]["color"]["legend"]["orient"] == "bottom"
    assert profile["layer"][0]["encoding"]["color"]["legend"] is None


def test_overlay_keeps_the_list_labels_of_the_chosen_runs():
    pins = [_pin(RunConfig(lr=0.1)), _pin(RunConfig(lr=0.3))]
    loss, _ = overlay_frames(pins, ["#1 lr=0.1", "#3 lr=0.3"])
    assert list(dict.fromkeys(loss["run"])) == ["#1 lr=0.1", "#3 lr=0.3"]

import math

import numpy as np
import pytest
import torch

from models import DivergedError, RunConfig, Trainer, gradient_profile
from models.trainer import spectral_radius


def _state(trainer: Trainer) -> dict:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_worked_example_reaches_full_accuracy_with_plain_sgd():
    config = RunConfig(task="cat_mat_rat", model="rnn", activation="tanh", optimizer="sgd", lr=0.5,
                       hidden_size=8, batch_size=32, steps=300)
    trainer = Trainer(config)
    records = list(trainer)
    x, y = trainer.task.all_sentences()
    with torch.no_grad():
        accuracy = ((trainer.model(x) > 0).float() == y).float().mean().item()
    assert accuracy == 1.0  # all 27 sentences
    assert records[-1].loss < 0.05 < records[0].loss


def test_record_profile_comes_from_the_training_batch():
    trainer = Trainer(RunConfig(model="lstm", seq_len=12, hidden_size=8, batch_size=4, seed=2))
    before = trainer.model.state_dict()
    before = {k: v.clone() for k, v in before.items()}
    task_state = trainer.task.generator.get_state()
    record = trainer.step()
    trainer.task.generator.set_state(task_state)
    x, y = trainer.task.sample(4)
    trainer.model.load_state_dict(before)
    expected = gradient_profile(trainer.model, x, y)
    np.testing.assert_allclose(record.hidden, expected.hidden, rtol=1e-6)
    np.testing.assert_allclose(record.cell, expected.cell, rtol=1e-6)
    assert record.loss == pytest.approx(expected.loss)
    assert record.gates.shape == (3, 12)


def test_step_updates_weights_and_reports_norms():
    trainer = Trainer(RunConfig(seq_len=10, hidden_size=8))
    before = _state(trainer)
    record = trainer.step()
    assert record.step == 1 and not record.diverged and not record.clipped
    assert record.grad_norm == record.grad_norm_clipped > 0
    assert record.spectral_radius == pytest.approx(float(torch.linalg.eigvals(before["rnn.weight_hh_l0"]).abs().max()))
    assert not torch.equal(before["rnn.weight_hh_l0"], trainer.model.rnn.weight_hh_l0)
    assert record.accuracy is not None and 0 <= record.accuracy <= 1


def test_clipping_by_norm_bounds_the_update():
    trainer = Trainer(RunConfig(seq_len=10, clip="norm", clip_threshold=1e-3))
    record = trainer.step()
    assert record.clipped and record.grad_norm > 1e-3
    assert record.grad_norm_clipped == pytest.approx(1e-3, rel=1e-3)


def test_clipping_by_value():
    trainer = Trainer(RunConfig(seq_len=10, clip="value", clip_threshold=1e-4))
    record = trainer.step()
    assert record.clipped
    assert all(p.grad.abs().max() <= 1e-4 for p in trainer.model.parameters())


def test_lr_and_clipping_change_mid_run():
    trainer = Trainer(RunConfig(seq_len=10))
    assert trainer.step().lr == 0.1
    trainer.set_lr(0.01)
    trainer.set_clip("norm", 1e-3)
    record = trainer.step()
    assert record.lr == 0.01 and record.clip == "norm" and record.clipped
    assert trainer.optimizer.param_groups[0]["lr"] == 0.01
    with pytest.raises(ValueError, match="lr"):
        trainer.set_lr(-1.0)


def test_divergence_stops_the_run_without_touching_weights():
    config = RunConfig(activation="relu", init="identity", lr=1.0, seq_len=50, hidden_size=16, steps=50)
    trainer = Trainer(config)
    records = []
    while not trainer.done:
        before = _state(trainer)
        records.append(trainer.step())
    last = records[-1]
    assert last.diverged and trainer.diverged_at == last.step < config.steps
    assert not math.isfinite(last.grad_norm) or not math.isfinite(last.loss)
    assert all(torch.equal(before[k], v) for k, v in trainer.model.state_dict().items())
    assert not any(r.diverged for r in records[:-1])
    with pytest.raises(DivergedError, match=f"step {last.step}"):
        trainer.step()
    assert last.step > 1  # it trained first, then blew up: the loss spiked before the NaN
    assert records[-2].loss > 10 * records[0].loss
    trainer.reset()
    assert trainer.step_count == 0 and trainer.diverged_at is None
    assert trainer.step().loss == records[0].loss  # back to the seed's start


def test_identical_configs_give_identical_records():
    config = RunConfig(model="lstm", seq_len=8, hidden_size=8, steps=5, optimizer="adam", lr=0.01)
    a, b = list(Trainer(config)), list(Trainer(config))
    for ra, rb in zip(a, b, strict=True):
        assert ra.loss == rb.loss and ra.grad_norm == rb.grad_norm
        assert np.array_equal(ra.hidden, rb.hidden) and np.array_equal(ra.cell, rb.cell)


def test_regression_has_no_accuracy():
    assert Trainer(RunConfig(task="adding", seq_len=10)).step().accuracy is None


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_optimizers_reduce_the_loss(optimizer):
    lr = {"sgd": 0.5, "momentum": 0.1, "adam": 0.02}[optimizer]
    records = list(Trainer(RunConfig(task="cat_mat_rat", optimizer=optimizer, lr=lr, steps=150, hidden_size=8)))
    assert np.mean([r.loss for r in records[-10:]]) < 0.5 * records[0].loss


def test_spectral_radius_of_identity_init():
    trainer = Trainer(RunConfig(init="identity", recurrent_gain=1.2, hidden_size=8))
    assert spectral_radius(trainer.model) == pytest.approx(1.2)


def test_gru_learns_first_token():
    """The GRU trains through the same Trainer: first word of 20, Adam; from chance to every sentence right."""
    config = RunConfig(model="gru", task="first_token", seq_len=20, optimizer="adam", lr=0.01, steps=150, seed=0)
    records = list(Trainer(config))
    assert records[0].loss == pytest.approx(math.log(2), abs=0.05)  # chance at the start
    assert np.mean([r.loss for r in records[-10:]]) < 0.01
    assert np.mean([r.accuracy for r in records[-10:]]) == 1.0
    assert records[-1].gates.shape == (2, 20) and records[-1].cell is None  # update, reset; no cell state
    assert math.isfinite(records[-1].spectral_radius)  # of the candidate block W_hn, a square matrix


@pytest.mark.slow
def test_lstm_remembers_across_lag_50_where_tanh_rnn_stays_at_chance():
    """The long-term dependency: LSTM with a large forget bias vs the tanh RNN, Adam, 300 steps."""
    base = RunConfig(task="first_token", seq_len=51, optimizer="adam", lr=0.01, hidden_size=32, batch_size=64,
                     steps=300, seed=0)
    lstm = list(Trainer(base.replace(model="lstm", forget_bias=3.0)))
    rnn = list(Trainer(base.replace(model="rnn", activation="tanh")))
    assert np.mean([r.accuracy for r in lstm[-20:]]) == 1.0
    assert lstm[-1].loss < 0.05
    assert 0.4 < np.mean([r.accuracy for r in rnn[-50:]]) < 0.6
    assert np.mean([r.loss for r in rnn[-50:]]) > 0.65


def test_record_carries_the_truncated_profile_of_the_training_batch():
    """bptt_window reaches the backward pass that trains: the record's profile is the truncated one."""
    config = RunConfig(model="gru", seq_len=10, hidden_size=8, batch_size=4, seed=2, bptt_window=3)
    trainer = Trainer(config)
    before = _state(trainer)
    task_state = trainer.task.generator.get_state()
    record = trainer.step()
    trainer.task.generator.set_state(task_state)
    x, y = trainer.task.sample(4)
    trainer.model.load_state_dict(before)
    expected = gradient_profile(trainer.model, x, y, window=3)
    np.testing.assert_array_equal(record.truncated, np.arange(10) < 7)
    np.testing.assert_allclose(record.hidden, expected.hidden, rtol=1e-6)
    assert (record.hidden[:7] == 0).all() and (record.hidden[7:] > 0).all()

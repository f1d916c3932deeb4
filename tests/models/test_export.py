"""Saved weights leave the lab: the safe loader reads them, torch.nn modules run them, our model rebuilds."""

import io

import pytest
import torch
from torch import nn

from models import RunConfig, Trainer, make_task
from models.export import FORMAT, load, save


def _trained(config: RunConfig, steps: int = 5) -> Trainer:
    trainer = Trainer(config.replace(steps=steps))
    for _ in trainer:
        pass
    return trainer


def _saved(trainer: Trainer) -> io.BytesIO:
    buffer = io.BytesIO()
    save(buffer, trainer.model, trainer.config, trainer.step_count)
    buffer.seek(0)
    return buffer


GATED = {"lstm": nn.LSTM, "gru": nn.GRU}  # torch.nn's module for each gated model (activation tanh)


def _torch_rnn(config: RunConfig, input_size: int) -> nn.Module:
    if config.model in GATED:
        return GATED[config.model](input_size, config.hidden_size, batch_first=True)
    return nn.RNN(input_size, config.hidden_size, nonlinearity=config.activation, batch_first=True)


@pytest.mark.parametrize("config", [
    RunConfig(model="lstm", seq_len=12, hidden_size=6),
    RunConfig(model="gru", seq_len=12, hidden_size=6),
    RunConfig(model="rnn", activation="tanh", seq_len=12, hidden_size=6),
    RunConfig(model="rnn", activation="relu", init="identity", seq_len=12, hidden_size=6),
], ids=["lstm", "gru", "rnn-tanh", "rnn-relu"])
def test_saved_weights_load_into_torch_nn_and_give_the_same_outputs(config):
    trainer = _trained(config)
    saved = torch.load(_saved(trainer), weights_only=True)  # the safe loader: no code of ours needed
    state = saved["state_dict"]
    assert saved["format"] == FORMAT and saved["step"] == 5
    assert RunConfig(**saved["config"]) == trainer.config

    task = make_task(trainer.config)
    rnn, head = _torch_rnn(trainer.config, task.input_size), nn.Linear(trainer.config.hidden_size, 1)
    rnn.load_state_dict({k.removeprefix("rnn."): v for k, v in state.items() if k.startswith("rnn.")})
    head.load_state_dict({k.removeprefix("head."): v for k, v in state.items() if k.startswith("head.")})
    assert len(state) == len(rnn.state_dict()) + len(head.state_dict())  # nothing else in the state_dict

    x, _ = task.sample(16)  # (B, T, D)
    with torch.no_grad():
        theirs = head(rnn(x)[0][:, -1]).squeeze(-1)  # (B,)
        ours = trainer.model(x)
    torch.testing.assert_close(theirs, ours, rtol=1e-5, atol=1e-6)
    assert not torch.equal(state["head.weight"], Trainer(trainer.config).model.head.weight)  # trained weights


def test_load_rebuilds_our_model_with_the_trained_weights():
    trainer = _trained(RunConfig(model="lstm", seq_len=8, hidden_size=4, optimizer="adam", lr=0.05))
    trainer.set_lr(0.02)  # a live change mid-run: the saved config is the one in force
    checkpoint = load(_saved(trainer))
    assert checkpoint.config == trainer.config and checkpoint.config.lr == 0.02
    assert checkpoint.step == 5
    x, _ = make_task(trainer.config).sample(8)
    with torch.no_grad():
        torch.testing.assert_close(checkpoint.model(x), trainer.model(x), rtol=0, atol=0)


def test_load_refuses_a_file_that_is_not_a_checkpoint():
    buffer = io.BytesIO()
    torch.save(Trainer(RunConfig()).model.state_dict(), buffer)  # a bare state_dict
    buffer.seek(0)
    with pytest.raises(ValueError, match="not an RNN Gradient Lab checkpoint"):
        load(buffer)

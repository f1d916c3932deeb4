"""The Lab's weights download: bytes the safe loader reads back into the same trained model."""

import io

import torch

from dashboard.weights import weights_bytes, weights_file_name
from models import RunConfig, Trainer, make_task
from models.export import load


def test_download_bytes_load_back_into_the_trained_model():
    trainer = Trainer(RunConfig(model="lstm", seq_len=7, hidden_size=5, steps=3))
    for _ in trainer:
        pass
    data = weights_bytes(trainer.model, trainer.config, trainer.step_count)
    saved = torch.load(io.BytesIO(data), weights_only=True)
    assert saved["step"] == 3 and saved["config"] == trainer.config.to_dict()
    checkpoint = load(io.BytesIO(data))
    x, _ = make_task(trainer.config).sample(4)
    with torch.no_grad():
        torch.testing.assert_close(checkpoint.model(x), trainer.model(x), rtol=0, atol=0)


def test_file_name_tells_runs_apart():
    assert weights_file_name(RunConfig(model="lstm", seq_len=50)) == "rnn_lab_lstm_tanh_first_token_T50.pt"
    assert weights_file_name(RunConfig(task="cat_mat_rat", seq_len=50)).endswith("_cat_mat_rat_T3.pt")  # always 3

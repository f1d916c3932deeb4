"""The Lab's weights download: the trained model as one file a student can take away.

The bytes are models/export.py's checkpoint (state_dict + RunConfig, read with
`torch.load(path, weights_only=True)`); this module only names the file and offers the data.
"""

from __future__ import annotations

from models import export
from models.cells import RecurrentModel
from models.config import RunConfig

HELP = ("A PyTorch file: `torch.load(path, weights_only=True)` gives the state_dict (keys rnn.*, head.*, "
        "loadable into torch.nn.RNN / nn.LSTM and nn.Linear) and the RunConfig that trained it.")


def weights_file_name(config: RunConfig) -> str:
    """e.g. rnn_lab_lstm_tanh_first_token_T50.pt: enough to tell two downloads apart."""
    return f"rnn_lab_{config.model}_{config.activation}_{config.task}_T{config.seq_length}.pt"


def weights_bytes(model: RecurrentModel, config: RunConfig, step: int) -> bytes:
    """The download's data. Call it between two training steps (a paused run, or under the runner's lock):
    the weights are copied here, and a copy taken while an optimizer step writes them would mix two steps."""
    return export.to_bytes(model, config, step)

"""Tests use one torch thread: the nets are small, and on a busy 2-core server a second
OpenMP thread spinning against other processes makes small steps ~10x slower."""

import torch

torch.set_num_threads(1)

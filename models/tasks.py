"""The lecture's tasks as sequence generators: one-hot words in, one number out.

Each task draws from its own torch.Generator seeded from the config, so a run's data
is reproducible and independent of the model's initialization.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from models.config import RunConfig


class Task:
    """Common shape: `sample(B) -> (inputs (B, T, D) float32, targets (B,) float32)`."""

    loss = "bce"
    vocab: tuple[str, ...] = ()

    def __init__(self, seq_len: int, seed: int) -> None:
        self.seq_len = seq_len
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def input_size(self) -> int:
        return len(self.vocab)

    def sample(self, batch_size: int) -> tuple[Tensor, Tensor]:
        tokens, targets = self.sample_tokens(batch_size)
        return F.one_hot(tokens, self.input_size).float(), targets.float()

    def sample_tokens(self, batch_size: int) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def words(self, tokens: Tensor) -> list[str]:
        """Sentences as text, for showing a batch to a person."""
        return [" ".join(self.vocab[i] for i in row) for row in tokens.tolist()]

    def examples(self, inputs: Tensor) -> np.ndarray | None:
        """The word indices of a batch's first sentences, for a view that prints them; None: not words."""
        return None


class CatMatRat(Task):
    """The worked example: three words over cat / mat / rat; label 1 iff a rat appears.

    "cat mat rat" → 1, "rat rat mat" → 1, "mat mat cat" → 0. The rat may come first, so
    the answer can depend on the earliest word: the gradient must flow back 3 steps.
    """

    vocab = ("cat", "mat", "rat")

    def __init__(self, seq_len: int, seed: int) -> None:
        super().__init__(3, seed)  # the example is always three words

    def sample_tokens(self, batch_size: int) -> tuple[Tensor, Tensor]:
        tokens = torch.randint(3, (batch_size, 3), generator=self.generator)  # (B, 3)
        return tokens, (tokens == 2).any(dim=1)

    def all_sentences(self) -> tuple[Tensor, Tensor]:
        """All 27 sentences with their labels: the whole world of the example."""
        tokens = torch.cartesian_prod(*[torch.arange(3)] * 3)  # (27, 3)
        return F.one_hot(tokens, 3).float(), (tokens == 2).any(dim=1).float()


class FirstToken(Task):
    """Long-term dependency ("Marathi ... Maharashtra"): the label is the first word.

    Word 0 is one of two signal words; then seq_len − 1 random distractor words. Only a
    network that carries the first word across the whole lag beats chance (50%).
    """

    vocab = ("marathi", "tamil", "is", "spoken", "in", "the", "state", "of")

    def sample_tokens(self, batch_size: int) -> tuple[Tensor, Tensor]:
        label = torch.randint(2, (batch_size, 1), generator=self.generator)  # (B, 1)
        distractors = 2 + torch.randint(len(self.vocab) - 2, (batch_size, self.seq_len - 1), generator=self.generator)
        return torch.cat([label, distractors], dim=1), label.squeeze(1)


class Adding(Task):
    """The adding problem (Hochreiter & Schmidhuber 1997): sum the two marked numbers.

    Input per step: (value ~ U(0, 1), marker ∈ {0, 1}); one marker in each half of the
    sequence. Predicting the constant 1 scores MSE = Var(U1 + U2) = 1/6 ≈ 0.167.
    """

    loss = "mse"
    vocab = ("value", "marker")

    def sample(self, batch_size: int) -> tuple[Tensor, Tensor]:
        values = torch.rand(batch_size, self.seq_len, generator=self.generator)  # (B, T)
        half = self.seq_len // 2
        first = torch.randint(half, (batch_size,), generator=self.generator)
        second = half + torch.randint(self.seq_len - half, (batch_size,), generator=self.generator)
        markers = torch.zeros_like(values)
        rows = torch.arange(batch_size)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        return torch.stack([values, markers], dim=-1), (values * markers).sum(dim=1)


# The sentence task's language, all of it: the cues and the answer each one gives, the word classes the
# filler clauses are drawn from, the clause pattern, and the closing question.
CUES: dict[str, int] = {  # a language and whether it is spoken in the north of India (1) or the south (0)
    "marathi": 1, "hindi": 1, "bengali": 1, "tamil": 0, "telugu": 0, "kannada": 0,
}
WORD_CLASSES: dict[str, tuple[str, ...]] = {
    "det": ("the", "a"),
    "noun": ("man", "woman", "child", "river", "train", "book", "song", "rain"),
    "verb": ("saw", "heard", "read", "crossed", "sang", "missed"),
    "conj": ("and", "then"),
}
CLAUSE = ("det", "noun", "verb", "det", "noun", "conj")  # "the man saw a river and …"
QUESTION = ("is", "it", "from", "the", "north", "?")


def _vocabulary() -> tuple[str, ...]:
    words = [*CUES, *(w for cls in WORD_CLASSES.values() for w in cls), *QUESTION]
    return tuple(dict.fromkeys(words))  # each word once, in order of first use


class Sentence(Task):
    """The source's sentence as words: "marathi the man saw a river and … is it from the north ?".

    Word 1 is a cue (a language, CUES); then filler clauses of real words (CLAUSE over WORD_CLASSES) and the
    question (QUESTION, its last seq_len − 1 words if the sentence is shorter). The label is the cue's answer:
    only the first word decides it, seq_len − 1 steps before the end, as in first_token.
    """

    vocab = _vocabulary()
    SHOWN = 8  # sentences per batch a record keeps for the words view

    def sample_tokens(self, batch_size: int) -> tuple[Tensor, Tensor]:
        cues = torch.randint(len(CUES), (batch_size, 1), generator=self.generator)  # (B, 1)
        question = QUESTION[max(0, len(QUESTION) - (self.seq_len - 1)):]
        filler = self._filler(batch_size, self.seq_len - 1 - len(question))
        closing = torch.tensor([self.vocab.index(w) for w in question], dtype=torch.long).expand(batch_size, -1)
        return torch.cat([cues, filler, closing], dim=1), torch.tensor(list(CUES.values()))[cues.squeeze(1)]

    def _filler(self, batch_size: int, length: int) -> Tensor:
        """(B, length) words of clauses: slot i takes a random word of class CLAUSE[i mod len(CLAUSE)]."""
        filler = torch.zeros(batch_size, length, dtype=torch.long)
        for i in range(length):
            words = WORD_CLASSES[CLAUSE[i % len(CLAUSE)]]
            pick = torch.randint(len(words), (batch_size,), generator=self.generator)
            filler[:, i] = torch.tensor([self.vocab.index(w) for w in words])[pick]
        return filler

    def examples(self, inputs: Tensor) -> np.ndarray:
        return inputs[: self.SHOWN].argmax(-1).numpy().astype(np.int16)  # (≤ SHOWN, T)


TASKS: dict[str, Callable[[int, int], Task]] = {
    "cat_mat_rat": CatMatRat,
    "first_token": FirstToken,
    "adding": Adding,
    "sentence": Sentence,
}


def make_task(config: RunConfig) -> Task:
    """The task of `config`, its data stream seeded from `config.seed`."""
    return TASKS[config.task](config.seq_len, config.seed)

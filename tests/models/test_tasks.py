import pytest
import torch

from models import RunConfig, make_task
from models.cost import MAX_INPUT_SIZE
from models.tasks import CUES, QUESTION, TASKS, WORD_CLASSES, Sentence


def test_cat_mat_rat_is_the_worked_example():
    task = make_task(RunConfig(task="cat_mat_rat", seq_len=40))
    x, y = task.sample(16)
    assert x.shape == (16, 3, 3) and y.shape == (16,) and task.loss == "bce"
    assert torch.all(x.sum(-1) == 1)  # one-hot words
    inputs, labels = task.all_sentences()
    sentences = dict(zip(task.words(inputs.argmax(-1)), labels.tolist(), strict=True))
    assert len(sentences) == 27
    assert sentences["cat mat rat"] == 1 and sentences["rat rat mat"] == 1 and sentences["mat mat cat"] == 0


def test_first_token_label_is_the_first_word():
    task = make_task(RunConfig(task="first_token", seq_len=51))
    x, y = task.sample(256)
    tokens = x.argmax(-1)
    assert x.shape == (256, 51, task.input_size)
    assert torch.equal(tokens[:, 0].float(), y)
    assert torch.all(tokens[:, 1:] >= 2)  # only distractors after the signal word
    assert 0.4 < y.mean() < 0.6  # balanced: chance is 50%


def test_adding_problem_constant_predictor_scores_a_sixth():
    task = make_task(RunConfig(task="adding", seq_len=30))
    x, y = task.sample(20000)
    assert x.shape == (20000, 30, 2) and task.loss == "mse"
    assert torch.all(x[..., 1].sum(1) == 2)  # exactly two markers
    torch.testing.assert_close(y, (x[..., 0] * x[..., 1]).sum(1))
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(1 / 6, abs=0.01)


@pytest.mark.parametrize("name", ["cat_mat_rat", "first_token", "adding", "sentence"])
def test_sampling_is_reproducible_from_the_seed(name):
    draw = lambda seed: make_task(RunConfig(task=name, seed=seed)).sample(8)  # noqa: E731
    assert all(torch.equal(a, b) for a, b in zip(draw(1), draw(1), strict=True))
    assert not torch.equal(draw(1)[0], draw(2)[0])


def test_sentence_opens_with_a_cue_and_its_label_is_the_cues_answer():
    task = make_task(RunConfig(task="sentence", seq_len=30, seed=3))
    tokens, labels = task.sample_tokens(512)
    assert tokens.shape == (512, 30) and task.loss == "bce" and task.input_size == len(task.vocab)
    cues = [task.vocab[i] for i in tokens[:, 0].tolist()]
    assert set(cues) == set(CUES)  # every cue drawn, and only cues open a sentence
    assert labels.tolist() == [CUES[cue] for cue in cues]
    assert 0.4 < labels.float().mean() < 0.6  # balanced: chance is 50%
    first = task.words(tokens[:1])[0].split()
    assert first[-len(QUESTION):] == list(QUESTION) and not set(first[1:]) & set(CUES)
    fillers = {w for words in WORD_CLASSES.values() for w in words}
    assert set(first[1:-len(QUESTION)]) <= fillers


def test_sentence_label_depends_only_on_the_cue():
    """Same cues, different filler (another seed's draw after the cue): the labels follow the cues alone."""
    task = make_task(RunConfig(task="sentence", seq_len=25, seed=0))
    tokens, labels = task.sample_tokens(2000)
    for cue in set(tokens[:, 0].tolist()):
        rows = tokens[:, 0] == cue
        assert labels[rows].unique().numel() == 1, task.vocab[cue]  # varied fillers, one answer
        assert tokens[rows, 1:-len(QUESTION)].unique(dim=0).shape[0] > 1


def test_a_short_sentence_keeps_the_cue_and_the_end_of_the_question():
    for seq_len, words in ((2, ["?"]), (4, ["the", "north", "?"])):
        tokens, _ = make_task(RunConfig(task="sentence", seq_len=seq_len)).sample_tokens(4)
        sentence = make_task(RunConfig(task="sentence")).words(tokens[:1])[0].split()
        assert len(sentence) == seq_len and sentence[0] in CUES and sentence[1:] == words


def test_every_task_vocabulary_fits_the_memory_estimate():
    assert max(len(task.vocab) for task in TASKS.values()) == MAX_INPUT_SIZE


def test_a_sentence_run_records_its_first_sentences():
    from models.trainer import Trainer

    trainer = Trainer(RunConfig(task="sentence", seq_len=12, batch_size=16, hidden_size=4, steps=1))
    shown = trainer.step().examples
    assert shown.shape == (Sentence.SHOWN, 12) and all(trainer.task.vocab[i] in CUES for i in shown[:, 0])
    assert Trainer(RunConfig(task="first_token", steps=1, hidden_size=4, batch_size=4)).step().examples is None

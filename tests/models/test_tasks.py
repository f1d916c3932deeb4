import pytest
import torch

from models import RunConfig, make_task


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


@pytest.mark.parametrize("name", ["cat_mat_rat", "first_token", "adding"])
def test_sampling_is_reproducible_from_the_seed(name):
    draw = lambda seed: make_task(RunConfig(task=name, seed=seed)).sample(8)  # noqa: E731
    assert all(torch.equal(a, b) for a, b in zip(draw(1), draw(1), strict=True))
    assert not torch.equal(draw(1)[0], draw(2)[0])

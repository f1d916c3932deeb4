"""Every lesson's promise holds: replay each preset headlessly and check its claim."""

import pytest
import torch

from models import CHOICES, RunConfig
from models.lessons import LESSONS, main, run_lesson

ISSUE_LESSONS = ("worked_example", "vanishing", "irnn", "skip", "exploding", "clipping", "small_lr", "lstm")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Two threads on a shared 2-core box can make these tiny nets 20× slower (spin-waiting).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("key", list(LESSONS))
def test_claim_holds(key):
    lesson = LESSONS[key]
    holds, measured = lesson.claim(run_lesson(lesson))
    assert holds, f"{key}: claimed {lesson.claim_text!r}, measured {measured}"


def test_the_issue_lessons_exist_with_their_remedies():
    assert set(ISSUE_LESSONS) <= set(LESSONS)
    by = {k: LESSONS[k].config for k in ISSUE_LESSONS}
    assert by["irnn"].init == "identity" and by["irnn"].activation == "relu"
    assert by["skip"].model == "residual" and by["lstm"].model == "lstm" and by["lstm"].forget_bias > 1
    # Lessons 6 and 7 change exactly one thing of lesson 5; 3, 4 and 8 change only the recurrence of 2.
    assert _changed(by["exploding"], by["clipping"]) == {"clip", "clip_threshold"}
    assert _changed(by["exploding"], by["small_lr"]) == {"lr"}
    for key in ("irnn", "skip", "lstm"):
        assert _changed(by["vanishing"], by[key]) <= {"model", "activation", "init", "forget_bias", "steps"}


def test_lesson_texts_are_complete():
    for lesson in LESSONS.values():
        assert isinstance(lesson.config, RunConfig) and lesson.config.task in CHOICES["task"]
        assert all(len(text) > 40 for text in (lesson.explanation, lesson.watch, lesson.try_next)), lesson.key
        assert "{" not in lesson.claim_text


def test_a_false_claim_is_reported():
    lesson = LESSONS["exploding"]
    records = run_lesson(LESSONS["small_lr"])  # never diverges
    holds, measured = lesson.claim(records)
    assert not holds and "diverged at step None" in measured


def test_cli_runs_one_lesson_and_rejects_unknown(capsys):
    assert main(["exploding"]) == 0
    assert "PASS exploding" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["no_such_lesson"])


def _changed(a: RunConfig, b: RunConfig) -> set[str]:
    return {k for k, v in a.to_dict().items() if b.to_dict()[k] != v}

"""Predict, then run: every lesson asks the class a question whose answer is what the lesson's run then shows."""

import pytest

from models import RunConfig, Trainer
from models.lessons import GENERIC, LESSONS, QUESTIONS, Lesson, get_question, run_lesson


@pytest.mark.parametrize("key", list(LESSONS))
def test_each_lessons_answer_is_what_its_run_shows_on_its_seed(key):
    lesson = LESSONS[key]
    assert lesson.answer in lesson.choices and lesson.question == QUESTIONS[lesson.asks].text
    assert QUESTIONS[lesson.asks].outcome(run_lesson(lesson)) == lesson.answer


def test_every_answer_is_taught_by_some_lesson_and_the_vanishing_lesson_asks_the_issues_question():
    asked = {(lesson.asks, lesson.answer) for lesson in LESSONS.values()}
    assert {("gradient", "vanish"), ("gradient", "stay"), ("gradient", "explode"), ("diverge", "diverges"),
            ("diverge", "survives"), ("learn", "yes")} <= asked
    vanishing = LESSONS["vanishing"]
    assert vanishing.choices == ("vanish", "stay", "explode") and "‖∂L/∂h_1‖" in vanishing.question


def test_each_measured_value_falls_in_exactly_one_choice():
    for name, q in QUESTIONS.items():
        for value in (0.0, 1e-12, 1e-2, 0.5, 1.0, 99.0, 1e2, 1e3, 7.0, float("inf")):
            assert sum(holds(value) for holds in q.choices.values()) == 1, (name, value)


def test_a_plain_run_gets_the_generic_question_without_an_answer():
    records = list(Trainer(RunConfig(task="first_token", seq_len=50, hidden_size=16, steps=1)))
    assert QUESTIONS[GENERIC].outcome(records) == "vanish"  # the default init's gradient vanishes over 50 words


def test_unknown_questions_and_answers_are_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="choose from gradient, learn, diverge"):
        get_question("guess")
    lesson = LESSONS["vanishing"]
    with pytest.raises(ValueError, match="is not one of vanish, stay, explode"):
        Lesson(lesson.key, lesson.title, lesson.config, {"init": "orthogonal"}, lesson.explanation, lesson.watch,
               lesson.try_next, lesson.claim, 30, 0, answer="maybe")

"""Every lesson's promise holds on seeds 0–9, the card's robustness figure is what the code measures, and the lesson
table of docs/lessons.md is what `python -m models.lessons --markdown` prints.

The sweep (12 lessons × 10 seeds) runs once per session in two worker processes with one torch thread each, and
every test here reads its results, so the table check costs no extra training.
"""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from models import CHOICES, RunConfig
from models.lessons import (
    LESSONS,
    NEVER,
    SEEDS,
    Check,
    check,
    claim,
    control_fields,
    main,
    markdown,
    measured_range,
    parse_seeds,
    pass_table,
    preset_text,
    run_lesson,
    sweep,
)

ISSUE_LESSONS = ("worked_example", "vanishing", "irnn", "skip", "exploding", "clipping", "small_lr", "lstm")
DOCS = Path(__file__).resolve().parents[2] / "docs"
TABLE = re.compile(r"<!-- lessons-table:start -->\n(.*?)\n<!-- lessons-table:end -->", re.S)


@pytest.fixture(scope="session")
def results():
    return sweep(list(LESSONS), SEEDS, jobs=2)


def test_every_claim_holds_on_at_least_nine_of_seeds_0_to_9(results):
    for key, outcomes in results.items():
        failing = [(o.seed, o.measured) for o in outcomes if not o.holds]
        assert len(failing) <= 1, f"{key}: claimed {LESSONS[key].claim_text!r}; failing seeds {failing}"


def test_recorded_robustness_is_what_the_sweep_measures(results):
    for key, outcomes in results.items():
        assert [o.seed for o in outcomes] == list(SEEDS)
        assert LESSONS[key].seeds_passing == sum(o.holds for o in outcomes), key


def test_the_preset_seed_passes(results):
    for key, outcomes in results.items():
        assert outcomes[LESSONS[key].config.seed].holds, key


def test_readme_table_is_what_the_code_prints(results):
    found = TABLE.search((DOCS / "lessons.md").read_text())
    assert found, "docs/lessons.md lacks the lessons-table markers"
    assert found.group(1) == markdown(results)


def test_markdown_has_one_row_per_lesson_with_its_pass_count(results):
    rows = markdown(results).splitlines()[2:]
    assert len(rows) == len(LESSONS)
    for row, lesson in zip(rows, LESSONS.values(), strict=True):
        assert f"`{lesson.key}`" in row and f"| {lesson.seeds_passing} / 10 |" in row
        assert row.count(" … ") + row.count(":") >= len(lesson.claim.checks)


def test_the_issue_lessons_exist_and_each_changes_one_thing():
    assert set(ISSUE_LESSONS) <= set(LESSONS) and len(LESSONS) == 12  # docs/lessons.md: "all twelve lessons"
    # docs/lessons.md: "Lessons 2, 3, 4 and 7 also make a claim about the untrained network".
    assert [lesson.title.split(" · ")[0] for lesson in LESSONS.values() if lesson.at_init] == ["2", "3", "4", "7"]
    by = {k: lesson.config for k, lesson in LESSONS.items()}
    # Lessons 3–6 and 11 change only the recurrence of lesson 2 (the IRNN also its step size).
    assert _changed(by["vanishing"], by["relu_alone"]) == {"activation"}
    assert _changed(by["vanishing"], by["init_alone"]) == {"init"}
    assert _changed(by["vanishing"], by["irnn"]) == {"activation", "init", "lr", "steps"}
    assert _changed(by["vanishing"], by["skip"]) == {"model"}
    assert _changed(by["vanishing"], by["lstm"]) == {"model", "forget_bias"}
    # Each remedy changes one setting of the run it rescues.
    assert _changed(by["exploding"], by["clipping"]) == {"clip", "clip_threshold", "steps"}
    assert _changed(by["exploding_lr"], by["small_lr"]) == {"lr", "steps"}
    assert _changed(by["exploding"], by["lstm_exploding"]) == {"model", "activation", "steps"}
    assert by["exploding"].lr == by["small_lr"].lr  # the weights explode at an lr that trains lesson 10
    assert by["irnn"].init == "identity" and by["irnn"].activation == "relu" and by["lstm"].forget_bias > 1


def test_lesson_texts_are_complete_and_cite_their_sources():
    for lesson in LESSONS.values():
        assert isinstance(lesson.config, RunConfig) and lesson.config.task in CHOICES["task"]
        assert all(len(text) > 40 for text in (lesson.explanation, lesson.watch, lesson.try_next)), lesson.key
        assert lesson.pace is None or 0 < lesson.pace <= 100
        assert "{" not in lesson.claim_text and lesson.robustness == f"holds on {lesson.seeds_passing} of seeds 0–9"
    assert "Bengio, Simard & Frasconi 1994" in LESSONS["vanishing"].explanation
    assert "Hochreiter & Schmidhuber 1997" in LESSONS["lstm"].explanation
    assert "Gers, Schmidhuber & Cummins (2000)" in LESSONS["lstm"].explanation
    assert "clipping" in LESSONS["lstm_exploding"].watch


def test_a_lesson_lasts_20_to_30_seconds_at_its_pace(results):
    for key, outcomes in results.items():
        lesson = LESSONS[key]
        steps = float(np.median([o.steps for o in outcomes]))
        assert 1 <= steps / lesson.pace <= 30, (key, steps, lesson.pace)
        if steps > 20:  # a run that diverges within a few steps is shown one step per second instead
            assert steps / lesson.pace >= 20, (key, steps, lesson.pace)


def test_a_false_claim_is_reported():
    records = run_lesson(LESSONS["small_lr"], seed=0)  # never diverges
    holds, measured = LESSONS["exploding_lr"].claim(records)
    assert not holds and "step at which the run diverges = never" in measured


def test_check_bounds_are_strict():
    inside = Check("x", float, above=1.0, below=2.0)
    assert inside.holds(1.5) and not inside.holds(1.0) and not inside.holds(2.0) and inside.text == "1 < x < 2"
    assert Check("x", float, below=3.0).holds(NEVER) is False and Check("x", float, above=1e9).holds(NEVER)
    assert Check("x", float, below=3.0).show(NEVER) == "never"
    both = claim(Check("a", lambda v: v, above=0.0), Check("b", lambda v: -v, above=0.0))
    assert both(1.0) == (False, "a = 1; b = -1")


def test_check_runs_one_lesson_on_another_seed():
    outcome = check("exploding", 3)
    assert outcome.key == "exploding" and outcome.seed == 3 and outcome.holds and outcome.steps == 2
    assert len(outcome.values) == len(LESSONS["exploding"].claim.checks) + len(LESSONS["exploding"].at_init.checks)
    assert outcome.values[-2] == pytest.approx(19 * math.log10(2.2), abs=1e-5)  # W_h: ×2.2 per step, 19 steps


def test_cli_runs_lessons_prints_a_pass_table_and_rejects_unknown(capsys):
    assert main(["exploding"]) == 0
    assert "PASS exploding" in capsys.readouterr().out
    assert main(["exploding", "exploding_lr", "--seeds", "0-2", "--jobs", "1"]) == 0
    table = capsys.readouterr().out
    assert re.search(r"exploding\s+3/3", table) and re.search(r"exploding_lr\s+3/3", table)
    with pytest.raises(SystemExit):
        main(["no_such_lesson"])


def test_parse_seeds_and_tables():
    assert parse_seeds("0-9") == list(range(10)) and parse_seeds("1,4-5") == [1, 4, 5] and parse_seeds("7") == [7]
    assert preset_text(RunConfig(lr=0.5, task="adding")) == "lr=0.5, task=adding"
    outcomes = {"exploding": [check("exploding", 0)]}
    assert re.search(r"exploding\s+1/1", pass_table(outcomes))


def _changed(a: RunConfig, b: RunConfig) -> set[str]:
    return {k for k, v in a.to_dict().items() if b.to_dict()[k] != v}


def test_readme_engine_section_quotes_the_sweep(results):
    text = (DOCS / "engine.md").read_text()
    section = text[text.index("### What the engine shows, measured"):text.index("## Performance")]
    for key, index in (("lstm", 2), ("vanishing", 3), ("vanishing", 0)):
        assert measured_range(results[key], index) in section, (key, index)


# The one thing each lesson is about: what its control changes, and to what.
CONTROLS = {
    "worked_example": {"recurrent_gain": 0.0},
    "vanishing": {"init": "orthogonal"},
    "relu_alone": {"activation": "tanh"},
    "init_alone": {"init": "default"},
    "irnn": {"init": "default"},
    "skip": {"model": "rnn"},
    "exploding": {"recurrent_gain": 1.0},
    "exploding_lr": {"lr": 0.1},
    "clipping": {"clip": "none"},
    "small_lr": {"lr": 1.0},
    "lstm": {"forget_bias": 1.0},
    "lstm_exploding": {"model": "rnn"},
}


def test_every_control_changes_exactly_the_thing_the_lesson_is_about():
    assert set(CONTROLS) == set(LESSONS)
    for key, lesson in LESSONS.items():
        assert _changed(lesson.config, lesson.control) == set(CONTROLS[key]), key
        assert control_fields(lesson) == lesson.controlled == tuple(CONTROLS[key]), key
        assert {name: getattr(lesson.control, name) for name in CONTROLS[key]} == CONTROLS[key], key


def test_run_lesson_trains_the_control():
    lesson = LESSONS["exploding"]
    preset, control = run_lesson(lesson, seed=1), run_lesson(lesson, seed=1, control=True)
    assert preset[-1].diverged and len(preset) < 3  # 2.2 × orthogonal
    assert not control[0].diverged and control[0].spectral_radius == pytest.approx(1.0, abs=1e-5)  # gain 1

import math
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import CHOICES, RunConfig, cost
from models.backprop import LOSSES
from models.cells import ACTIVATIONS, CELLS, DERIVATIVES, DERIVATIVES_FROM_OUTPUT, MAX_SLOPE
from models.config import RANGES, FieldError, field_help
from models.initializers import INITIALIZERS
from models.tasks import TASKS
from models.trainer import CLIPPERS, OPTIMIZERS


def test_defaults_are_valid_and_frozen():
    config = RunConfig()
    with pytest.raises(AttributeError):
        config.lr = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("field", "registry"), [
    ("model", CELLS), ("model", cost.COEFFICIENTS), ("model", cost.GATE_BLOCKS), ("activation", ACTIVATIONS),
    ("init", INITIALIZERS), ("optimizer", OPTIMIZERS), ("clip", CLIPPERS), ("task", TASKS),
])
def test_every_choice_name_has_an_implementation(field, registry):
    assert tuple(registry) == CHOICES[field]


def test_activation_tables_agree():
    assert ACTIVATIONS.keys() == DERIVATIVES.keys() == DERIVATIVES_FROM_OUTPUT.keys() == MAX_SLOPE.keys()
    assert set(LOSSES) == {"bce", "mse"}


@pytest.mark.parametrize("field", list(CHOICES))
def test_unknown_choice_lists_the_valid_ones(field):
    with pytest.raises(ValueError) as error:
        RunConfig(**{field: "banana"})
    assert field in str(error.value)
    assert all(name in str(error.value) for name in CHOICES[field])


@pytest.mark.parametrize("field", list(RANGES))
def test_out_of_range_is_rejected_not_clamped(field):
    lo, hi = RANGES[field]
    for bad in (hi * 2 + 1, lo - 1):
        with pytest.raises(ValueError, match=field):
            RunConfig(**{field: type(hi)(bad)})


@pytest.mark.parametrize("bad", [math.nan, math.inf, "3", True])
def test_non_numbers_are_rejected(bad):
    with pytest.raises(ValueError, match="lr"):
        RunConfig(lr=bad)


def test_whole_number_fields():
    assert RunConfig(seq_len=30.0).seq_len == 30
    assert isinstance(RunConfig(seq_len=30.0).seq_len, int)
    with pytest.raises(ValueError, match="seq_len"):
        RunConfig(seq_len=30.5)


def test_caps_protect_a_shared_server():
    assert RANGES["seq_len"][1] <= 500 and RANGES["hidden_size"][1] <= 256 and RANGES["batch_size"][1] <= 512


@dataclass
class _Sizes:
    """Just the fields the cost model reads, so the edge is found without RunConfig's validation."""

    model: str
    seq_length: int
    hidden_size: int
    batch_size: int


@pytest.mark.parametrize("model", CHOICES["model"])
def test_cost_budget_edges(model, monkeypatch):
    """The biggest runs are refused by their estimated step time, with the estimate and the fields named."""
    monkeypatch.setattr(cost, "RUN_MEMORY_MB", float("inf"))  # the time budget alone (tests/models/test_cost.py)
    with pytest.raises(ValueError, match=r"seq_len × batch_size × hidden_size² too large.*~\d+\.\d s per"):
        RunConfig(model=model, task="first_token", seq_len=500, hidden_size=256, batch_size=512)
    h = max(n for n in range(1, 257) if cost.step_seconds(_Sizes(model, 500, n, 512)) <= cost.BUDGET_SECONDS)
    assert 8 <= h < 256
    edge = RunConfig(model=model, task="first_token", seq_len=500, hidden_size=h, batch_size=512)
    assert cost.step_seconds(edge) <= cost.BUDGET_SECONDS
    with pytest.raises(ValueError) as error:
        edge.replace(hidden_size=h + 1)
    message = str(error.value)
    assert f"hidden_size ({h + 1})" in message and "seq_len (500)" in message and "batch_size (512)" in message
    assert "2 s budget" in message


def test_cost_grows_with_every_size_and_the_lstm_costs_more():
    base = RunConfig(task="first_token", seq_len=100, hidden_size=64, batch_size=64)
    for field in ("seq_len", "hidden_size", "batch_size"):
        assert cost.step_seconds(base.replace(**{field: getattr(base, field) * 2})) > cost.step_seconds(base)
    assert cost.step_seconds(base.replace(model="lstm")) > 2 * cost.step_seconds(base)
    assert all(c >= 0 for coefficients in cost.COEFFICIENTS.values() for c in coefficients)


def test_cat_mat_rat_costs_its_three_words_not_seq_len():
    """The worked example is always three words, so a long seq_len does not count against it."""
    big = dict(model="lstm", hidden_size=256, batch_size=512, seq_len=500)
    assert RunConfig(task="cat_mat_rat", **big).seq_length == 3
    with pytest.raises(ValueError, match="too large"):
        RunConfig(task="first_token", **big)


def test_from_strings_judges_sizes_together():
    """seq_len 500 and hidden 256 fit with a small batch: strict parsing must not fail half-way."""
    values = {"model": "lstm", "seq_len": "500", "hidden_size": "256", "batch_size": "4"}
    config = RunConfig.from_strings(values)
    assert (config.seq_len, config.hidden_size, config.batch_size) == (500, 256, 4)
    too_big = {**values, "batch_size": "512"}
    with pytest.raises(ValueError, match="too large"):
        RunConfig.from_strings(too_big)
    lenient = RunConfig.from_strings(too_big, lenient=True)  # the field that crosses the budget is skipped
    default = RunConfig()
    assert lenient.model == "lstm" and lenient.seq_len == 500
    kept = [(lenient.hidden_size, lenient.batch_size) == pair for pair in
            [(256, default.batch_size), (default.hidden_size, 512)]]
    assert any(kept)  # one of the two sizes kept, the other back to its default
    assert cost.step_seconds(lenient) <= cost.BUDGET_SECONDS


def test_from_strings_strict_and_lenient():
    text = {"model": "lstm", "lr": "0.01", "seq_len": "51", "unknown": "x"}
    config = RunConfig.from_strings(text)
    assert (config.model, config.lr, config.seq_len) == ("lstm", 0.01, 51)
    hostile = {"model": "banana", "lr": "-5", "seq_len": "99999999", "hidden_size": "abc", "seed": "7"}
    with pytest.raises(ValueError, match="model"):
        RunConfig.from_strings(hostile)
    lenient = RunConfig.from_strings(hostile, lenient=True)
    assert lenient == RunConfig(seed=7)


def test_round_trip_through_strings():
    config = RunConfig(model="lstm", activation="relu", lr=0.003, clip="norm", seq_len=77, seed=5)
    assert RunConfig.from_strings({k: str(v) for k, v in config.to_dict().items()}) == config


def test_every_field_has_a_reason():
    helps = field_help()
    assert set(helps) == set(RunConfig().to_dict())
    assert all(len(reason) > 10 for reason in helps.values())


def test_cat_mat_rat_is_always_three_words():
    assert RunConfig(task="cat_mat_rat", seq_len=50).seq_length == 3
    assert RunConfig(task="first_token", seq_len=50).seq_length == 50


@pytest.mark.parametrize(("name", "text"), [("steps", "inf"), ("seed", "1e400"), ("hidden_size", "-inf")])
def test_infinite_values_raise_a_value_error_naming_the_field(name, text):
    """These three links replaced the Lab with an OverflowError traceback (int() of an infinity)."""
    with pytest.raises(ValueError, match=rf"^{name}=-?inf is outside \[") as error:
        RunConfig.from_strings({name: text})
    assert isinstance(error.value, FieldError) and error.value.name == name
    assert RunConfig.from_strings({name: text}, lenient=True) == RunConfig()


@pytest.mark.parametrize(("values", "field", "message"), [
    ({"seed": "9" * 5000}, "seed", "seed=inf is outside [0, 2147483647]"),  # past int()'s 4,300 digits
    ({"steps": "nan"}, "steps", "steps=nan is outside [1, 100000]"),
    ({"lr": "-inf"}, "lr", "lr=-inf is outside [1e-06, 10]"),
    ({"seq_len": "20.5"}, "seq_len", "seq_len=20.5 must be a whole number"),
    ({"model": "x" * 1000}, "model", f"model='{'x' * 58}… is not one of rnn, lstm, residual, gru"),
])
def test_any_text_gives_a_short_value_error(values, field, message):
    with pytest.raises(FieldError) as error:
        RunConfig.from_strings(values)
    assert (str(error.value), error.value.name) == (message, field)


def test_a_huge_integer_is_refused_without_printing_it():
    with pytest.raises(FieldError, match=r"^seed=<a \d+-bit integer> is outside"):
        RunConfig(seed=10**5000)


def test_negative_zero_is_zero():
    config = RunConfig.from_strings({"seed": "-0", "negative_slope": "-0", "forget_bias": "-0.0"})
    assert (config.seed, config.negative_slope, config.forget_bias) == (0, 0.0, 0.0)
    assert math.copysign(1, config.negative_slope) == math.copysign(1, config.forget_bias) == 1


NUMBERS = st.one_of(
    st.integers().map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["inf", "-inf", "nan", "1e400", "-1e400", "-0", "1_000", "0x10", "١٢", "9" * 5000]))
VALUES = st.dictionaries(st.sampled_from([*RunConfig().to_dict(), "unknown"]),
                         st.one_of(NUMBERS, st.text(), st.sampled_from(sum(CHOICES.values(), ()))))


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_from_strings_gives_a_valid_config_or_a_value_error(values):
    try:
        config = RunConfig.from_strings(values)
    except ValueError as error:
        assert str(error)  # and nothing but a ValueError got out
    else:
        assert RunConfig(**config.to_dict()) == config
    assert isinstance(RunConfig.from_strings(values, lenient=True), RunConfig)  # lenient never raises


def test_bptt_window_is_a_non_negative_whole_number_with_the_same_name_everywhere():
    assert RunConfig().bptt_window == 0  # full BPTT unless asked
    assert RunConfig.from_strings({"bptt_window": "7"}).bptt_window == 7  # the URL's and the CLI's text
    for bad, reason in ((-1, "is outside"), (2.5, "must be a whole number"), ("3", "must be a number")):
        with pytest.raises(FieldError, match=f"^bptt_window=.* {reason}"):
            RunConfig(bptt_window=bad)
    assert "0 = full" in field_help()["bptt_window"]

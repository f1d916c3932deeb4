import math

import pytest

from models import CHOICES, RunConfig
from models.backprop import LOSSES
from models.cells import ACTIVATIONS, CELLS, DERIVATIVES, MAX_SLOPE
from models.config import RANGES, field_help
from models.initializers import INITIALIZERS
from models.tasks import TASKS
from models.trainer import CLIPPERS, OPTIMIZERS


def test_defaults_are_valid_and_frozen():
    config = RunConfig()
    with pytest.raises(AttributeError):
        config.lr = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(("field", "registry"), [
    ("model", CELLS), ("activation", ACTIVATIONS), ("init", INITIALIZERS), ("optimizer", OPTIMIZERS),
    ("clip", CLIPPERS), ("task", TASKS),
])
def test_every_choice_name_has_an_implementation(field, registry):
    assert tuple(registry) == CHOICES[field]


def test_activation_tables_agree():
    assert ACTIVATIONS.keys() == DERIVATIVES.keys() == MAX_SLOPE.keys()
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

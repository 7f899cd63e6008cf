"""Tests of minigrad.init: formulas, statistics, PyTorch agreement and input validation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from minigrad import Linear, Parameter, init

Array = np.ndarray[Any, Any]

# A (400, 300) weight has 120000 entries, so a sample standard deviation is within about
# 0.5% of the true one (relative standard error sqrt(1 / (2 * n)) ~ 0.2%).
SHAPE = (400, 300)
FAN_IN, FAN_OUT = 300, 400
STD_RTOL = 0.01


# --- calculate_gain and fans -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("nonlinearity", "param", "expected"),
    [
        ("linear", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2.0)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("leaky_relu", 0, math.sqrt(2.0)),
    ],
)
def test_gain_reference_values(nonlinearity: Any, param: Any, expected: float) -> None:
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("nonlinearity", "param"),
    [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
     ("leaky_relu", None), ("leaky_relu", 0.3), ("leaky_relu", math.sqrt(5))],
)
def test_gain_matches_torch(nonlinearity: Any, param: Any) -> None:
    torch = pytest.importorskip("torch")

    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_gain_unknown_nonlinearity() -> None:
    with pytest.raises(ValueError, match=r"nonlinearity must be one of .*got 'swish'"):
        init.calculate_gain("swish")  # type: ignore[arg-type]


def test_gain_param_without_leaky_relu() -> None:
    with pytest.raises(ValueError, match="nonlinearity 'relu' takes no parameter"):
        init.calculate_gain("relu", 0.1)


@pytest.mark.parametrize(
    ("shape", "expected"), [((3, 5), (5, 3)), ((4, 3, 2, 2), (12, 16)), ((1, 1), (1, 1))]
)
def test_fans_reference_values(shape: tuple[int, ...], expected: tuple[int, int]) -> None:
    assert init.calculate_fan_in_and_fan_out(np.zeros(shape)) == expected


def test_fans_of_linear_weight() -> None:
    layer = Linear(7, 2, rng=0)

    assert init.calculate_fan_in_and_fan_out(layer.weight) == (7, 2)


@pytest.mark.parametrize("shape", [(), (5,)])
def test_fans_need_two_dimensions(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="at least two dimensions"):
        init.calculate_fan_in_and_fan_out(np.zeros(shape))


# --- Statistics of each random function ------------------------------------------------------


def test_uniform_statistics() -> None:
    values = init.uniform_(np.zeros(SHAPE), -2.0, 4.0, rng=0)

    assert values.min() >= -2.0
    assert values.max() < 4.0
    assert values.mean() == pytest.approx(1.0, abs=0.03)
    assert values.std() == pytest.approx(6 / math.sqrt(12), rel=STD_RTOL)


def test_normal_statistics() -> None:
    values = init.normal_(np.zeros(SHAPE), 3.0, 0.5, rng=0)

    assert values.mean() == pytest.approx(3.0, abs=0.005)
    assert values.std() == pytest.approx(0.5, rel=STD_RTOL)


def xavier_std(gain: float) -> float:
    return gain * math.sqrt(2 / (FAN_IN + FAN_OUT))


def kaiming_std(gain: float, fan: int) -> float:
    return gain / math.sqrt(fan)


# Each case: the function name, which torch.nn.init shares, keyword arguments accepted by
# both, the expected standard deviation, and whether the distribution is uniform.
STATISTICS_CASES: list[tuple[str, dict[str, Any], float, bool]] = [
    ("xavier_uniform_", {}, xavier_std(1.0), True),
    ("xavier_uniform_", {"gain": 5 / 3}, xavier_std(5 / 3), True),
    ("xavier_normal_", {}, xavier_std(1.0), False),
    ("xavier_normal_", {"gain": 2.0}, xavier_std(2.0), False),
    ("kaiming_uniform_", {}, kaiming_std(math.sqrt(2), FAN_IN), True),
    (
        "kaiming_uniform_",
        {"mode": "fan_out", "nonlinearity": "relu"},
        kaiming_std(math.sqrt(2), FAN_OUT),
        True,
    ),
    (
        "kaiming_uniform_",
        {"a": math.sqrt(5)},
        kaiming_std(math.sqrt(2 / 6), FAN_IN),
        True,
    ),
    ("kaiming_normal_", {}, kaiming_std(math.sqrt(2), FAN_IN), False),
    (
        "kaiming_normal_",
        {"a": 0.2, "mode": "fan_out"},
        kaiming_std(math.sqrt(2 / 1.04), FAN_OUT),
        False,
    ),
    (
        "kaiming_normal_",
        {"nonlinearity": "tanh"},
        kaiming_std(5 / 3, FAN_IN),
        False,
    ),
]


@pytest.mark.parametrize(("name", "kwargs", "std", "uniform"), STATISTICS_CASES)
def test_scheme_statistics(name: str, kwargs: dict[str, Any], std: float, uniform: bool) -> None:
    function: Callable[..., Array] = getattr(init, name)
    values = function(np.zeros(SHAPE), **kwargs, rng=0)

    assert abs(values.mean()) < 0.01 * std
    assert values.std() == pytest.approx(std, rel=STD_RTOL)
    if uniform:
        bound = math.sqrt(3) * std
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.999 * bound


@pytest.mark.parametrize(("name", "kwargs", "std", "uniform"), STATISTICS_CASES)
def test_scheme_matches_torch(name: str, kwargs: dict[str, Any], std: float, uniform: bool) -> None:
    # The two random generators differ, so the comparison is statistical: same spread,
    # same range, mean near zero for both.
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    torch_values = getattr(torch.nn.init, name)(
        torch.empty(SHAPE, dtype=torch.float64), **kwargs, generator=generator
    ).numpy()
    function: Callable[..., Array] = getattr(init, name)
    values = function(np.zeros(SHAPE), **kwargs, rng=0)

    assert values.std() == pytest.approx(torch_values.std(), rel=2 * STD_RTOL)
    assert abs(values.mean()) < 0.01 * torch_values.std()
    if uniform:
        assert np.abs(values).max() == pytest.approx(np.abs(torch_values).max(), rel=1e-3)


def test_linear_default_matches_torch() -> None:
    # PyTorch 2.13's Linear draws its weight with kaiming_uniform_(a=sqrt(5)), whose bound is
    # 1 / sqrt(in_features); minigrad's Linear uses U(-1/sqrt(in), 1/sqrt(in)) directly.
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    torch_weight = torch.nn.Linear(FAN_IN, FAN_OUT, dtype=torch.float64).weight.detach().numpy()
    weight = Linear(FAN_IN, FAN_OUT, rng=0).weight.data

    assert np.abs(weight).max() <= 1 / math.sqrt(FAN_IN)
    assert weight.std() == pytest.approx(torch_weight.std(), rel=2 * STD_RTOL)


def test_linear_default_not_constant() -> None:
    weight = Linear(4, 8, rng=0).weight.data

    assert len(np.unique(weight)) == weight.size
    assert len({tuple(row) for row in weight}) == 8


# --- Deterministic fills ---------------------------------------------------------------------


def test_zeros_ones_constant() -> None:
    array = np.full((2, 3), 7.0)

    np.testing.assert_array_equal(init.zeros_(array), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones_(array), np.ones((2, 3)))
    np.testing.assert_array_equal(init.constant_(array, -2.5), np.full((2, 3), -2.5))


def test_constant_fills_one_dimension() -> None:
    bias = Parameter(np.ones(4))

    init.constant_(bias, 0.1)

    np.testing.assert_array_equal(bias.data, np.full(4, 0.1))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "1", None, True])
def test_constant_invalid_value(value: object) -> None:
    array = np.zeros(3)

    with pytest.raises(ValueError, match="constant_: val must be a finite number"):
        init.constant_(array, value)  # type: ignore[arg-type]
    np.testing.assert_array_equal(array, np.zeros(3))


# --- Targets ---------------------------------------------------------------------------------


def test_returns_same_object() -> None:
    array = np.zeros((3, 2))
    parameter = Parameter(np.zeros((3, 2)))
    original_data = parameter.data

    assert init.xavier_uniform_(array, rng=0) is array
    assert init.xavier_uniform_(parameter, rng=0) is parameter
    assert parameter.data is original_data


def test_parameter_filled_in_place() -> None:
    parameter = Parameter(np.zeros((3, 2)))

    init.normal_(parameter, rng=0)

    np.testing.assert_array_equal(parameter.data, np.random.default_rng(0).normal(size=(3, 2)))
    np.testing.assert_array_equal(parameter.grad, np.zeros((3, 2)))


def test_float32_target_same_values() -> None:
    array32 = init.kaiming_normal_(np.zeros((5, 4), dtype=np.float32), rng=3)
    array64 = init.kaiming_normal_(np.zeros((5, 4)), rng=3)

    assert array32.dtype == np.float32
    np.testing.assert_array_equal(array32, array64.astype(np.float32))


def test_same_seed_same_values() -> None:
    first = init.uniform_(np.zeros(10), rng=42)
    second = init.uniform_(np.zeros(10), rng=42)

    np.testing.assert_array_equal(first, second)


def test_generator_advances() -> None:
    generator = np.random.default_rng(0)
    first = init.normal_(np.zeros(10), rng=generator).copy()
    second = init.normal_(np.zeros(10), rng=generator)

    assert not np.array_equal(first, second)


def test_empty_target_unchanged() -> None:
    generator = np.random.default_rng(0)
    state = generator.bit_generator.state

    result = init.kaiming_uniform_(np.zeros((0, 3)), rng=generator)

    assert result.shape == (0, 3)
    assert generator.bit_generator.state == state


@pytest.mark.parametrize("rng", [None, 1.5, "0", np.random.RandomState(0), True])
def test_invalid_rng_rejected(rng: object) -> None:
    array = np.zeros((2, 2))

    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator or an integer"):
        init.uniform_(array, rng=rng)  # type: ignore[arg-type]
    np.testing.assert_array_equal(array, np.zeros((2, 2)))


def test_negative_seed_rejected() -> None:
    with pytest.raises(ValueError, match="the seed rng must be >= 0, got -1"):
        init.normal_(np.zeros(2), rng=-1)


def test_integer_array_rejected() -> None:
    with pytest.raises(TypeError, match="floating-point dtype, got int64"):
        init.normal_(np.zeros(3, dtype=np.int64), rng=0)


def test_read_only_array_rejected() -> None:
    array = np.zeros(3)
    array.flags.writeable = False

    with pytest.raises(ValueError, match="target is read-only"):
        init.ones_(array)


def test_list_target_rejected() -> None:
    with pytest.raises(TypeError, match="target must be a Parameter or a numpy array, got list"):
        init.zeros_([0.0, 1.0])  # type: ignore[type-var]


def test_xavier_needs_two_dimensions() -> None:
    with pytest.raises(ValueError, match=r"xavier_uniform_: .* got shape \(4,\)"):
        init.xavier_uniform_(np.zeros(4), rng=0)


# --- Argument validation; every failed call leaves the target unchanged ---------------------

INVALID_CALLS: list[tuple[Callable[[Array], object], str]] = [
    (lambda array: init.uniform_(array, 1.0, -1.0, rng=0), "lower bound a=1.0 is greater"),
    (lambda array: init.uniform_(array, float("nan"), 1.0, rng=0), "a must be a finite"),
    (lambda array: init.normal_(array, 0.0, -1.0, rng=0), "std must be >= 0, got -1.0"),
    (lambda array: init.normal_(array, float("inf"), rng=0), "mean must be a finite"),
    (lambda array: init.xavier_normal_(array, gain=-1.0, rng=0), "gain must be >= 0"),
    (
        lambda array: init.kaiming_uniform_(array, mode="fan_avg", rng=0),  # type: ignore[arg-type]
        "mode must be 'fan_in' or 'fan_out', got 'fan_avg'",
    ),
    (
        lambda array: init.kaiming_normal_(array, nonlinearity="gelu", rng=0),  # type: ignore[arg-type]
        "kaiming_normal_: nonlinearity must be one of",
    ),
    (
        lambda array: init.kaiming_uniform_(array, a=0.1, nonlinearity="relu", rng=0),
        "a=0.1 is the negative slope of 'leaky_relu', but nonlinearity is 'relu'",
    ),
    (lambda array: init.kaiming_uniform_(array, a=float("nan"), rng=0), "a must be a finite"),
]


@pytest.mark.parametrize(("call", "message"), INVALID_CALLS)
def test_invalid_arguments_rejected(call: Callable[[Array], object], message: str) -> None:
    array = np.full((3, 2), 5.0)

    with pytest.raises(ValueError, match=message):
        call(array)
    np.testing.assert_array_equal(array, np.full((3, 2), 5.0))


@pytest.mark.parametrize(
    ("fill", "owner"),
    [
        (lambda target: init.constant_(target, 1e39), "constant_"),
        (lambda target: init.uniform_(target, -1e300, 1e300, rng=0), "uniform_"),
        (lambda target: init.normal_(target, 0.0, 1e300, rng=0), "normal_"),
    ],
)
def test_init_float32_overflow_raises(fill: Callable[[np.ndarray], object], owner: str) -> None:
    target = np.full(3, 7.0, dtype=np.float32)

    with pytest.raises(ValueError, match=owner + r": the values exceed the range .* float32"):
        fill(target)

    np.testing.assert_array_equal(target, [7.0, 7.0, 7.0])


def test_uniform_infinite_range_raises() -> None:
    with pytest.raises(ValueError, match=r"uniform_: the range b - a .* overflows"):
        init.uniform_(np.zeros(3), -1.7e308, 1.7e308, rng=0)

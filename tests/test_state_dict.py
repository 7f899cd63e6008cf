"""Tests of Module.state_dict and Module.load_state_dict: names, copies, all-or-nothing loads."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad
from minigrad import Linear, LoadResult, Sequential, Sigmoid


def make_layer() -> Linear:
    """Return Linear(3, 4) with weight 0..11 as (out, in) = (4, 3) and bias 100..103."""
    weight = np.arange(12, dtype=np.float64).reshape(4, 3)
    return Linear.from_weights(weight, np.arange(100.0, 104.0))


def snapshot(module: minigrad.Module) -> dict[str, bytes]:
    """Return the raw bytes of every parameter's data and grad, for bit-for-bit checks."""
    result = {}
    for name, parameter in module.named_parameters():
        result[name + ".data"] = parameter.data.tobytes()
        result[name + ".grad"] = parameter.grad.tobytes()
        result[name + ".dtype"] = str(parameter.dtype).encode()
    return result


def test_state_dict_uses_dotted_names() -> None:
    model = Sequential(Linear(3, 4, rng=0), Sigmoid(), Linear(4, 2, rng=1))

    state = model.state_dict()

    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert state["0.weight"].shape == (4, 3)
    assert state["2.bias"].shape == (2,)


def test_state_dict_returns_copies() -> None:
    layer = make_layer()

    state = layer.state_dict()
    state["weight"][0, 0] = -1.0
    state["bias"] += 1.0

    assert layer.weight.data[0, 0] == 0.0
    np.testing.assert_array_equal(layer.bias.data, [100.0, 101.0, 102.0, 103.0])
    assert not np.shares_memory(state["weight"], layer.weight.data)


def test_state_dict_shared_parameter_once() -> None:
    shared = Linear(2, 2, rng=0)
    twin = Linear(2, 2, rng=1)
    twin.weight = shared.weight
    twin.bias = shared.bias
    model = Sequential(shared, Sigmoid(), twin)

    assert list(model.state_dict()) == ["0.weight", "0.bias"]


def test_load_state_dict_keeps_arrays() -> None:
    layer = make_layer()
    assert layer.bias is not None
    weight_array, bias_array = layer.weight.data, layer.bias.data
    state = {"weight": np.full((4, 3), 2.5), "bias": np.array([1.0, 2.0, 3.0, 4.0])}

    result = layer.load_state_dict(state)
    state["weight"][0, 0] = 99.0

    assert result == LoadResult(missing_keys=[], unexpected_keys=[])
    assert layer.weight.data is weight_array
    assert layer.bias.data is bias_array
    np.testing.assert_array_equal(layer.weight.data, np.full((4, 3), 2.5))
    np.testing.assert_array_equal(layer.bias.data, [1.0, 2.0, 3.0, 4.0])


def test_load_state_dict_leaves_grads() -> None:
    layer = make_layer()
    layer.weight.grad[...] = 7.0

    layer.load_state_dict({"weight": np.zeros((4, 3)), "bias": np.zeros(4)})

    np.testing.assert_array_equal(layer.weight.grad, np.full((4, 3), 7.0))


def test_numpy_assignment_would_broadcast() -> None:
    # The bug that loading prevents: numpy's own assignment fills every slot from one value.
    bias = np.arange(4.0)
    bias[...] = [7.0]
    np.testing.assert_array_equal(bias, [7.0, 7.0, 7.0, 7.0])


@pytest.mark.parametrize(
    ("name", "bad_shape", "expected_shape"),
    [
        ("bias", (1,), (4,)),
        ("bias", (), (4,)),
        ("bias", (1, 4), (4,)),
        ("weight", (4, 1), (4, 3)),
        ("weight", (1, 3), (4, 3)),
        ("weight", (3, 4), (4, 3)),
        ("weight", (12,), (4, 3)),
    ],
)
def test_load_rejects_broadcastable_shape(
    name: str, bad_shape: tuple[int, ...], expected_shape: tuple[int, ...]
) -> None:
    layer = make_layer()
    before = snapshot(layer)
    # The other entry is valid and different, so a partial load would show.
    state = {"weight": np.full((4, 3), -5.0), "bias": np.full(4, -5.0)}
    state[name] = np.full(bad_shape, 7.0)

    message = (
        rf"'{name}' has shape {re.escape(str(bad_shape))}, but parameter '{name}' has shape "
        rf"{re.escape(str(expected_shape))}"
    )
    with pytest.raises(ValueError, match=message):
        layer.load_state_dict(state)

    assert snapshot(layer) == before


def test_load_rejects_missing_entry() -> None:
    layer = make_layer()
    before = snapshot(layer)

    with pytest.raises(ValueError, match=r"missing entries for parameters 'bias' \(shape \(4,\)\)"):
        layer.load_state_dict({"weight": np.zeros((4, 3))})

    assert snapshot(layer) == before


def test_load_rejects_unexpected_entry() -> None:
    layer = make_layer()
    before = snapshot(layer)
    state = {"weight": np.zeros((4, 3)), "bias": np.zeros(4), "extra": np.zeros((2, 5))}

    with pytest.raises(ValueError, match=r"unexpected entries 'extra' \(shape \(2, 5\)\)"):
        layer.load_state_dict(state)

    assert snapshot(layer) == before


@pytest.mark.parametrize(
    "values",
    [
        np.ones(4, dtype=bool),
        np.ones(4, dtype=np.complex128),
        np.array(["a", "b", "c", "d"]),
        np.array([1.0, 2.0, None, 4.0], dtype=object),
        np.array([1, 2, 3, 4], dtype="datetime64[D]"),
    ],
    ids=["bool", "complex", "str", "object", "datetime"],
)
def test_load_rejects_non_numeric_dtype(values: np.ndarray) -> None:
    layer = make_layer()
    before = snapshot(layer)

    with pytest.raises(ValueError, match=rf"'bias' has dtype {re.escape(str(values.dtype))}"):
        layer.load_state_dict({"weight": np.zeros((4, 3)), "bias": values})

    assert snapshot(layer) == before


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_load_rejects_non_finite(bad_value: float) -> None:
    layer = make_layer()
    before = snapshot(layer)
    bias = np.array([0.0, bad_value, 0.0, 0.0])

    with pytest.raises(ValueError, match=r"'bias' contains 1 NaN or infinite values"):
        layer.load_state_dict({"weight": np.zeros((4, 3)), "bias": bias})

    assert snapshot(layer) == before


def test_load_rejects_float32_overflow() -> None:
    layer = make_layer().to(np.float32)
    before = snapshot(layer)

    with pytest.raises(ValueError, match=r"'bias' has 1 values beyond the float32 range"):
        layer.load_state_dict({"weight": np.zeros((4, 3)), "bias": [0.0, 1e39, 0.0, 0.0]})

    assert snapshot(layer) == before


def test_load_rejects_ragged_values() -> None:
    layer = make_layer()
    before = snapshot(layer)

    with pytest.raises(ValueError, match=r"'bias' could not be converted to an array"):
        layer.load_state_dict({"weight": np.zeros((4, 3)), "bias": [[1.0], [1.0, 2.0]]})

    assert snapshot(layer) == before


def test_load_casts_integers() -> None:
    layer = make_layer()

    layer.load_state_dict({"weight": np.ones((4, 3), dtype=np.uint8), "bias": [1, 2, 3, 4]})

    assert layer.weight.dtype == np.float64
    np.testing.assert_array_equal(layer.bias.data, [1.0, 2.0, 3.0, 4.0])


def test_load_float64_into_float32() -> None:
    layer = make_layer().to(np.float32)
    bias = np.array([0.1, 0.2, 0.3, 0.4])

    layer.load_state_dict({"weight": np.zeros((4, 3)), "bias": bias})

    assert layer.bias is not None
    assert layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.data, bias.astype(np.float32))


def test_load_non_strict_reports_names() -> None:
    layer = make_layer()
    state = {"bias": np.zeros(4), "extra": np.zeros(2)}

    result = layer.load_state_dict(state, strict=False)

    assert result.missing_keys == ["weight"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(layer.bias.data, np.zeros(4))
    np.testing.assert_array_equal(layer.weight.data, np.arange(12.0).reshape(4, 3))


def test_load_non_strict_checks_shapes() -> None:
    layer = make_layer()
    before = snapshot(layer)

    with pytest.raises(ValueError, match=r"'bias' has shape \(1,\)"):
        layer.load_state_dict({"bias": [7.0]}, strict=False)

    assert snapshot(layer) == before


def test_load_swapped_own_arrays() -> None:
    first = Linear.from_weights([[1.0, 2.0], [3.0, 4.0]])
    second = Linear.from_weights([[5.0, 6.0], [7.0, 8.0]])
    model = Sequential(first, second)
    # Each entry is the other layer's live array, so copying in place without a private
    # copy would read an array that was already overwritten.
    state = {"0.weight": second.weight.data, "1.weight": first.weight.data}

    model.load_state_dict(state)

    np.testing.assert_array_equal(first.weight.data, [[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_array_equal(second.weight.data, [[1.0, 2.0], [3.0, 4.0]])


def test_load_rejects_non_mapping() -> None:
    layer = make_layer()

    with pytest.raises(TypeError, match=r"state must be a mapping .* got list"):
        layer.load_state_dict([np.zeros((4, 3)), np.zeros(4)])  # type: ignore[arg-type]


def test_optimizer_sees_loaded_values() -> None:
    layer = make_layer()
    optimizer = minigrad.SGD(layer.parameters(), lr=0.5)

    layer.load_state_dict({"weight": np.ones((4, 3)), "bias": np.ones(4)})
    layer.weight.grad[...] = 2.0
    optimizer.step()

    np.testing.assert_array_equal(layer.weight.data, np.zeros((4, 3)))


def test_round_trip_between_models() -> None:
    source = Sequential(Linear(3, 5, rng=0), Sigmoid(), Linear(5, 2, rng=1))
    target = Sequential(Linear(3, 5, rng=2), Sigmoid(), Linear(5, 2, rng=3))
    x = np.random.default_rng(4).normal(size=(6, 3))

    target.load_state_dict(source.state_dict())

    np.testing.assert_array_equal(target(x), source(x))

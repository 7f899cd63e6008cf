"""Error paths of the public API: the exception, its message, and that nothing changed.

A failed call must leave the parameters (``.data``) and gradients (``.grad``) bit-for-bit as
they were, and the caller's arrays untouched. It must also keep the layer's cache: a later
valid ``backward`` still uses the earlier forward, or still raises if there was none.
Expected gradients are computed here with plain numpy, independently of minigrad.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import minigrad
from minigrad import SGD, Linear, Module, MSELoss, Parameter, Sequential, Sigmoid

# A Linear(3, 2) layer, its weight stored as (out_features, in_features).
WEIGHT = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
BIAS = np.array([0.1, -0.2])
X0 = np.array([[1.0, 2.0, -1.0], [0.5, -0.5, 3.0], [-2.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
G0 = np.array([[1.0, -1.0], [0.5, 2.0], [-1.0, 0.0], [0.25, 0.75]])


def make_linear() -> Linear:
    return Linear.from_weights(WEIGHT, BIAS)


def sigmoid_reference(x: np.ndarray) -> np.ndarray:
    """Compute the sigmoid of moderate inputs with the textbook formula."""
    result: np.ndarray = 1.0 / (1.0 + np.exp(-x))
    return result


def pattern(text: str) -> str:
    """Escape ``text`` (a repr or a shape) for use inside a ``match=`` regex."""
    return re.escape(text)


# Snapshots of parameters and caller arrays


@dataclass(frozen=True)
class ParameterState:
    name: str
    parameter: Parameter
    data_array: np.ndarray
    grad_array: np.ndarray
    data_bytes: bytes
    grad_bytes: bytes
    dtype: np.dtype[Any]
    shape: tuple[int, ...]


def snapshot(module: Module) -> list[ParameterState]:
    """Record every parameter's arrays, their identity and their exact bits."""
    return [
        ParameterState(
            name=name,
            parameter=parameter,
            data_array=parameter.data,
            grad_array=parameter.grad,
            data_bytes=parameter.data.tobytes(),
            grad_bytes=parameter.grad.tobytes(),
            dtype=parameter.dtype,
            shape=parameter.shape,
        )
        for name, parameter in module.named_parameters()
    ]


def assert_parameters_unchanged(states: list[ParameterState]) -> None:
    for state in states:
        parameter = state.parameter
        assert parameter.data is state.data_array, f"{state.name}.data was replaced"
        assert parameter.grad is state.grad_array, f"{state.name}.grad was replaced"
        assert parameter.dtype == state.dtype, f"{state.name} changed dtype"
        assert parameter.shape == state.shape, f"{state.name} changed shape"
        assert parameter.data.tobytes() == state.data_bytes, f"{state.name}.data changed"
        assert parameter.grad.tobytes() == state.grad_bytes, f"{state.name}.grad changed"


def prime_gradients(module: Module) -> None:
    """Fill each ``.grad`` with distinct non-zero values, so a stray write shows up."""
    for index, parameter in enumerate(module.parameters()):
        values = np.linspace(-1.0, 1.0, parameter.size).reshape(parameter.shape)
        parameter.grad[...] = values + 0.125 * (index + 1)


def assert_array_bits_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


def assert_same_contents(actual: np.ndarray, expected: np.ndarray) -> None:
    """Compare arrays of any dtype, including strings and objects, element by element."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tolist() == expected.tolist()


# Checks of a layer's cache after a failed call


def assert_linear_backward_uses(layer: Linear, x: np.ndarray, grads_before: list[Any]) -> None:
    """Run a valid backward and check it against ``x`` and the gradients held before."""
    assert layer.bias is not None
    grad_weight_before, grad_bias_before = grads_before

    grad_input = layer.backward(G0)

    np.testing.assert_allclose(grad_input, G0 @ WEIGHT, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(
        layer.weight.grad, grad_weight_before + G0.T @ x, rtol=1e-14, atol=1e-15
    )
    np.testing.assert_allclose(
        layer.bias.grad, grad_bias_before + G0.sum(axis=0), rtol=1e-14, atol=1e-15
    )


def linear_with_cache() -> tuple[Linear, list[Any]]:
    """Return a layer after forward(X0) with primed gradients, and copies of those gradients."""
    layer = make_linear()
    assert layer.bias is not None
    layer.forward(X0)
    prime_gradients(layer)
    return layer, [layer.weight.grad.copy(), layer.bias.grad.copy()]


def assert_backward_needs_forward(module: Module, grad_output: np.ndarray) -> None:
    states = snapshot(module)
    with pytest.raises(RuntimeError, match="without a preceding forward"):
        module.backward(grad_output)
    assert_parameters_unchanged(states)


# Linear input with the wrong number of features


WRONG_FEATURE_INPUTS = [
    pytest.param(np.ones((4, 2)), id="2d-too-few"),
    pytest.param(np.ones((4, 4)), id="2d-too-many"),
    pytest.param(np.ones((4, 0)), id="2d-no-features"),
    pytest.param(np.ones(2), id="1d"),
    pytest.param(np.ones(4), id="1d-batch-of-scalars"),
    pytest.param(np.array(3.0), id="0d"),
    pytest.param(np.ones((2, 3, 4)), id="3d"),
    pytest.param(X0.T, id="transposed"),
]


@pytest.mark.parametrize("x", WRONG_FEATURE_INPUTS)
def test_linear_wrong_features_keeps_cache(x: np.ndarray) -> None:
    layer, grads_before = linear_with_cache()
    states = snapshot(layer)
    x_before = x.copy()

    with pytest.raises(
        ValueError,
        match=pattern(repr(layer))
        + r": expected input with 3 features in its last dimension, got shape "
        + pattern(str(x.shape))
        + r"\. Pass x with shape \(batch_size, 3\)",
    ):
        layer.forward(x)

    assert_parameters_unchanged(states)
    assert_array_bits_equal(x, x_before)
    assert_linear_backward_uses(layer, X0, grads_before)


@pytest.mark.parametrize("x", WRONG_FEATURE_INPUTS)
def test_linear_wrong_features_no_cache(x: np.ndarray) -> None:
    layer = make_linear()

    with pytest.raises(ValueError, match=r"3 features.*got shape " + pattern(str(x.shape))):
        layer.forward(x)

    assert_backward_needs_forward(layer, G0)


def test_linear_wrong_features_python_scalar() -> None:
    layer = make_linear()

    with pytest.raises(ValueError, match=r"3 features in its last dimension, got shape \(\)"):
        layer.forward(3.0)  # type: ignore[arg-type]

    assert_backward_needs_forward(layer, G0)


# Backward before forward, and a second backward


def make_network() -> Sequential:
    return Sequential(make_linear(), Sigmoid(), Linear.from_weights([[1.0, -2.0]], [0.5]))


BACKWARD_CASES = [
    pytest.param(
        make_linear, X0, G0, r"Linear\(in_features=3, out_features=2, bias=True\)", id="linear"
    ),
    pytest.param(Sigmoid, X0, np.ones((4, 3)), r"Sigmoid\(\)", id="sigmoid"),
    # A Sequential reports its last module, because backward runs that module first.
    pytest.param(
        make_network, X0, np.ones((4, 1)), r"Linear\(in_features=2, out_features=1", id="sequential"
    ),
]


@pytest.mark.parametrize(("make_module", "x", "grad_output", "owner"), BACKWARD_CASES)
def test_backward_before_forward_raises(
    make_module: Callable[[], Module], x: np.ndarray, grad_output: np.ndarray, owner: str
) -> None:
    module = make_module()
    prime_gradients(module)
    states = snapshot(module)
    grad_before = grad_output.copy()

    with pytest.raises(
        RuntimeError,
        match=owner + r".*: backward was called without a preceding forward\. Call forward\(x\)",
    ):
        module.backward(grad_output)

    assert_parameters_unchanged(states)
    assert_array_bits_equal(grad_output, grad_before)


@pytest.mark.parametrize(("make_module", "x", "grad_output", "owner"), BACKWARD_CASES)
def test_second_backward_raises(
    make_module: Callable[[], Module], x: np.ndarray, grad_output: np.ndarray, owner: str
) -> None:
    module = make_module()
    module.forward(x)
    module.backward(grad_output)
    states = snapshot(module)

    with pytest.raises(RuntimeError, match=owner + r".*without a preceding forward"):
        module.backward(grad_output)

    assert_parameters_unchanged(states)


def test_empty_sequential_backward_passes_through() -> None:
    grad_output = np.array([[1.0, 2.0]])

    grad_input = Sequential().backward(grad_output)

    assert_array_bits_equal(grad_input, grad_output)


def test_mse_backward_before_forward_raises() -> None:
    loss = MSELoss()

    with pytest.raises(
        RuntimeError,
        match=r"MSELoss\(reduction='mean'\): backward was called without a preceding forward\. "
        r"Call loss\(prediction, target\) first",
    ):
        loss.backward()


def test_mse_second_backward_raises() -> None:
    loss = MSELoss()
    loss.forward(np.array([[1.0]]), np.array([[0.0]]))
    loss.backward()

    with pytest.raises(RuntimeError, match=r"MSELoss.*without a preceding forward"):
        loss.backward()


# Upstream gradient of the wrong shape


@pytest.mark.parametrize("shape", [(2, 2), (4, 1), (4, 3), (4,), (8,), (2, 4), (4, 2, 1), ()])
def test_linear_grad_output_wrong_shape(shape: tuple[int, ...]) -> None:
    layer, grads_before = linear_with_cache()
    states = snapshot(layer)
    grad_output = np.ones(shape)

    with pytest.raises(
        ValueError,
        match=pattern(repr(layer))
        + r": grad_output has shape "
        + pattern(str(shape))
        + r", but the last forward returned shape \(4, 2\)",
    ):
        layer.backward(grad_output)

    assert_parameters_unchanged(states)
    assert_array_bits_equal(grad_output, np.ones(shape))
    assert_linear_backward_uses(layer, X0, grads_before)


SIGMOID_X = np.array([[-2.0, -0.5, 0.0], [0.5, 1.0, 3.0]])
SIGMOID_G = np.array([[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]])


@pytest.mark.parametrize("shape", [(3, 2), (2,), (6,), (1, 3), (2, 3, 1), ()])
def test_sigmoid_grad_output_wrong_shape(shape: tuple[int, ...]) -> None:
    sigmoid = Sigmoid()
    sigmoid.forward(SIGMOID_X)
    grad_output = np.ones(shape)

    with pytest.raises(
        ValueError,
        match=r"Sigmoid\(\): grad_output has shape "
        + pattern(str(shape))
        + r", but the last forward returned shape \(2, 3\)",
    ):
        sigmoid.backward(grad_output)

    assert_array_bits_equal(grad_output, np.ones(shape))
    s = sigmoid_reference(SIGMOID_X)
    np.testing.assert_allclose(sigmoid.backward(SIGMOID_G), SIGMOID_G * s * (1 - s), rtol=1e-12)


def test_sequential_grad_output_wrong_shape() -> None:
    network = make_network()
    network.forward(X0)
    prime_gradients(network)
    states = snapshot(network)

    with pytest.raises(
        ValueError,
        match=r"grad_output has shape \(4, 2\), but the last forward returned shape \(4, 1\)",
    ):
        network.backward(np.ones((4, 2)))

    assert_parameters_unchanged(states)
    grad_input = network.backward(np.ones((4, 1)))
    assert grad_input.shape == (4, 3)


# Loss target shape mismatch and empty batches


PREDICTION = np.array([[0.9], [0.2], [0.8], [0.1]])
TARGET = np.array([[1.0], [0.0], [1.0], [0.0]])


def mse_with_cache() -> MSELoss:
    loss = MSELoss()
    loss.forward(PREDICTION, TARGET)
    return loss


def assert_mse_backward_uses_cache(loss: MSELoss) -> None:
    np.testing.assert_allclose(loss.backward(), 2 * (PREDICTION - TARGET) / 4, rtol=1e-14)


@pytest.mark.parametrize(
    ("prediction_shape", "target_shape"),
    [((4, 1), (4,)), ((4, 1), (1, 4)), ((4, 1), (4, 2)), ((4,), (4, 1)), ((4, 1), ())],
)
def test_mse_shape_mismatch_raises(
    prediction_shape: tuple[int, ...], target_shape: tuple[int, ...]
) -> None:
    prediction = np.full(prediction_shape, 0.5)
    target = np.zeros(target_shape)
    message = (
        r"MSELoss\(reduction='mean'\): prediction has shape "
        + pattern(str(prediction_shape))
        + r" but target has shape "
        + pattern(str(target_shape))
        + r"; they must be identical"
    )

    loss = mse_with_cache()
    with pytest.raises(ValueError, match=message):
        loss.forward(prediction, target)
    assert_mse_backward_uses_cache(loss)

    fresh_loss = MSELoss()
    with pytest.raises(ValueError, match=message):
        fresh_loss.forward(prediction, target)
    with pytest.raises(RuntimeError, match="without a preceding forward"):
        fresh_loss.backward()

    assert_array_bits_equal(prediction, np.full(prediction_shape, 0.5))
    assert_array_bits_equal(target, np.zeros(target_shape))


@pytest.mark.parametrize("reduction", ["mean", "sum", "half_sum"])
@pytest.mark.parametrize("shape", [(0, 1), (0,), (3, 0)])
def test_mse_empty_batch_raises(reduction: str, shape: tuple[int, ...]) -> None:
    loss = MSELoss(reduction)  # type: ignore[arg-type]
    loss.forward(PREDICTION, TARGET)

    with pytest.raises(
        ValueError,
        match=r"MSELoss\(reduction='"
        + reduction
        + r"'\): the batch is empty \(prediction shape "
        + pattern(str(shape))
        + r"\), so the loss is undefined",
    ):
        loss.forward(np.zeros(shape), np.zeros(shape))

    scale = {"mean": 2 / 4, "sum": 2.0, "half_sum": 1.0}[reduction]
    np.testing.assert_allclose(loss.backward(), scale * (PREDICTION - TARGET), rtol=1e-14)


# Strings, objects, booleans and complex numbers


BAD_DTYPE_VALUES = [
    pytest.param(np.array([["a", "b", "c"]]), "<U1", id="strings"),
    pytest.param(np.array([[1.0, None, 2.0]], dtype=object), "object", id="object-none"),
    pytest.param(np.array([[1.0, 2.0, 3.0]], dtype=object), "object", id="object-floats"),
    pytest.param(np.array([[True, False, True]]), "bool", id="bool"),
    pytest.param(np.array([[1 + 2j, 0, 1]]), "complex128", id="complex128"),
    pytest.param(np.array([[1, 2, 3]], dtype=np.complex64), "complex64", id="complex64"),
    pytest.param(np.array([[1, 2, 3]], dtype="datetime64[D]"), "datetime64[D]", id="datetime"),
]


def real_numbers_message(owner: str, name: str, dtype_text: str) -> str:
    return (
        owner
        + ": "
        + name
        + r" must contain real numbers, got dtype "
        + pattern(dtype_text)
        + r"\. Convert it first"
    )


@pytest.mark.parametrize(("x", "dtype_text"), BAD_DTYPE_VALUES)
def test_linear_bad_dtype_input(x: np.ndarray, dtype_text: str) -> None:
    layer, grads_before = linear_with_cache()
    states = snapshot(layer)
    x_before = copy.deepcopy(x)

    message = real_numbers_message(pattern(repr(layer)), "x", dtype_text)
    with pytest.raises(TypeError, match=message):
        layer.forward(x)

    assert_parameters_unchanged(states)
    assert_same_contents(x, x_before)
    assert_linear_backward_uses(layer, X0, grads_before)


@pytest.mark.parametrize(("x", "dtype_text"), BAD_DTYPE_VALUES)
def test_sigmoid_bad_dtype_input(x: np.ndarray, dtype_text: str) -> None:
    sigmoid = Sigmoid()
    sigmoid.forward(SIGMOID_X)
    x_before = copy.deepcopy(x)

    with pytest.raises(TypeError, match=real_numbers_message(r"Sigmoid\(\)", "x", dtype_text)):
        sigmoid.forward(x)

    assert_same_contents(x, x_before)
    s = sigmoid_reference(SIGMOID_X)
    np.testing.assert_allclose(sigmoid.backward(SIGMOID_G), SIGMOID_G * s * (1 - s), rtol=1e-12)


@pytest.mark.parametrize(("value", "dtype_text"), BAD_DTYPE_VALUES)
def test_mse_bad_dtype_prediction_target(value: np.ndarray, dtype_text: str) -> None:
    numbers = np.zeros((1, 3))
    owner = r"MSELoss\(reduction='mean'\)"
    value_before = copy.deepcopy(value)

    loss = mse_with_cache()
    with pytest.raises(TypeError, match=real_numbers_message(owner, "prediction", dtype_text)):
        loss.forward(value, numbers)
    with pytest.raises(TypeError, match=real_numbers_message(owner, "target", dtype_text)):
        loss.forward(numbers, value)

    assert_same_contents(value, value_before)
    assert_array_bits_equal(numbers, np.zeros((1, 3)))
    assert_mse_backward_uses_cache(loss)


@pytest.mark.parametrize(("grad_output", "dtype_text"), BAD_DTYPE_VALUES[:5])
def test_bad_dtype_grad_output_keeps_cache(grad_output: np.ndarray, dtype_text: str) -> None:
    layer, grads_before = linear_with_cache()
    states = snapshot(layer)
    sigmoid = Sigmoid()
    sigmoid.forward(SIGMOID_X)

    with pytest.raises(
        TypeError, match=real_numbers_message(pattern(repr(layer)), "grad_output", dtype_text)
    ):
        layer.backward(grad_output)
    with pytest.raises(
        TypeError, match=real_numbers_message(r"Sigmoid\(\)", "grad_output", dtype_text)
    ):
        sigmoid.backward(grad_output)

    assert_parameters_unchanged(states)
    assert_linear_backward_uses(layer, X0, grads_before)
    s = sigmoid_reference(SIGMOID_X)
    np.testing.assert_allclose(sigmoid.backward(SIGMOID_G), SIGMOID_G * s * (1 - s), rtol=1e-12)


def test_ragged_input_raises_type_error() -> None:
    layer, grads_before = linear_with_cache()
    ragged = [[1.0, 2.0, 3.0], [4.0, 5.0]]
    converted = r"could not be converted to a numeric array"

    with pytest.raises(TypeError, match=pattern(repr(layer)) + r": x " + converted):
        layer.forward(ragged)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Sigmoid\(\): x " + converted):
        Sigmoid().forward(ragged)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"MSELoss\(reduction='mean'\): target " + converted):
        MSELoss().forward(np.zeros((2, 3)), ragged)  # type: ignore[arg-type]

    assert ragged == [[1.0, 2.0, 3.0], [4.0, 5.0]]
    assert_linear_backward_uses(layer, X0, grads_before)


# Integer and unsigned input, computed in float without wrap-around


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        # int8 arithmetic would wrap -129 to 127.
        pytest.param(np.array([[-128, -128, 127]], dtype=np.int8), -129.0, id="int8"),
        # uint8 arithmetic would wrap 555 to 43.
        pytest.param(np.array([[200, 100, 255]], dtype=np.uint8), 555.0, id="uint8"),
        pytest.param(np.array([[-32768, -32768, 0]], dtype=np.int16), -65536.0, id="int16"),
        # float64 rounds 2**64 - 1 to 2**64, and 2**64 + 2**63 + 1 to 2**64 + 2**63.
        pytest.param(
            np.array([[2**64 - 1, 2**63, 1]], dtype=np.uint64), 2.0**64 + 2.0**63, id="uint64"
        ),
    ],
)
def test_linear_integer_input_no_wraparound(x: np.ndarray, expected: float) -> None:
    layer = Linear.from_weights(np.ones((1, 3)))
    x_before = x.copy()

    output = layer.forward(x)
    grad_input = layer.backward(np.array([[2]], dtype=np.int8))

    assert output.dtype == np.float64
    assert output.tolist() == [[expected]]
    assert_array_bits_equal(x, x_before)
    np.testing.assert_array_equal(layer.weight.grad, 2.0 * x.astype(np.float64))
    assert grad_input.dtype == np.float64
    np.testing.assert_array_equal(grad_input, [[2.0, 2.0, 2.0]])


def test_linear_float32_integer_input() -> None:
    layer = Linear.from_weights(np.ones((1, 2)), dtype=np.float32)

    output = layer.forward(np.array([[200, 100]], dtype=np.uint8))

    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, [[300.0]])


def test_sigmoid_int8_input() -> None:
    x = np.array([-128, 0, 127], dtype=np.int8)

    output = Sigmoid().forward(x)

    assert output.dtype == np.float64
    expected = [1.0 / (1.0 + math.exp(128.0)), 0.5, 1.0 / (1.0 + math.exp(-127.0))]
    np.testing.assert_allclose(output, expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    ("prediction", "target", "expected_loss", "expected_gradient"),
    [
        # In uint8, 0 - 200 wraps to 56. In int8 below, -128 - 127 wraps to 1.
        pytest.param(
            np.array([[0], [255]], dtype=np.uint8),
            np.array([[200], [0]], dtype=np.uint8),
            (200.0**2 + 255.0**2) / 2,
            [[-200.0], [255.0]],
            id="uint8",
        ),
        pytest.param(
            np.array([[-128]], dtype=np.int8),
            np.array([[127]], dtype=np.int8),
            255.0**2,
            [[-510.0]],
            id="int8",
        ),
    ],
)
def test_mse_integer_input_no_wraparound(
    prediction: np.ndarray, target: np.ndarray, expected_loss: float, expected_gradient: Any
) -> None:
    loss = MSELoss()

    value = loss.forward(prediction, target)
    gradient = loss.backward()

    assert value == expected_loss
    assert gradient.dtype == np.float64
    np.testing.assert_array_equal(gradient, expected_gradient)


# Changing x in place between forward and backward


def change_in_place(x: np.ndarray) -> None:
    x[...] = 100.0


def change_base_of_view(x: np.ndarray) -> None:
    assert x.base is not None
    x.base[...] = 100.0


INPUT_CHANGES = [
    pytest.param(lambda: X0.copy(), change_in_place, id="float64"),
    pytest.param(lambda: X0.astype(np.float32), change_in_place, id="float32"),
    pytest.param(lambda: np.vstack([X0, X0])[:4], change_base_of_view, id="view"),
    pytest.param(lambda: np.asfortranarray(X0), change_in_place, id="fortran-order"),
]


@pytest.mark.parametrize(("make_input", "change"), INPUT_CHANGES)
def test_linear_input_changed_after_forward(
    make_input: Callable[[], np.ndarray], change: Callable[[np.ndarray], None]
) -> None:
    layer = make_linear()
    assert layer.bias is not None
    x = make_input()
    x_seen = x.astype(np.float64)

    layer.forward(x)
    change(x)
    layer.backward(G0)

    np.testing.assert_allclose(layer.weight.grad, G0.T @ x_seen, rtol=1e-14)
    np.testing.assert_allclose(layer.bias.grad, G0.sum(axis=0), rtol=1e-14)


def test_linear_list_input_changed_after_forward() -> None:
    layer = make_linear()
    x = X0.tolist()

    layer.forward(x)
    x[0][0] = 100.0
    layer.backward(G0)

    np.testing.assert_allclose(layer.weight.grad, G0.T @ X0, rtol=1e-14)


def test_sequential_input_changed_after_forward() -> None:
    second_weight = np.array([[1.0, -2.0]])
    second_bias = np.array([0.5])
    network = Sequential(make_linear(), Sigmoid(), Linear.from_weights(second_weight, second_bias))
    first = network[0]
    second = network[2]
    assert isinstance(first, Linear)
    assert isinstance(second, Linear)
    assert first.bias is not None
    assert second.bias is not None
    x = X0.copy()
    grad_output = np.array([[1.0], [-0.5], [2.0], [0.25]])

    network.forward(x)
    x[...] = 100.0
    grad_input = network.backward(grad_output)

    hidden = sigmoid_reference(X0 @ WEIGHT.T + BIAS)
    grad_hidden = (grad_output @ second_weight) * hidden * (1 - hidden)
    np.testing.assert_allclose(second.weight.grad, grad_output.T @ hidden, rtol=1e-12)
    np.testing.assert_allclose(second.bias.grad, grad_output.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(first.weight.grad, grad_hidden.T @ X0, rtol=1e-12)
    np.testing.assert_allclose(first.bias.grad, grad_hidden.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(grad_input, grad_hidden @ WEIGHT, rtol=1e-12)


def test_sigmoid_input_changed_after_forward() -> None:
    sigmoid = Sigmoid()
    x = SIGMOID_X.copy()

    sigmoid.forward(x)
    x[...] = 100.0
    grad_input = sigmoid.backward(SIGMOID_G)

    s = sigmoid_reference(SIGMOID_X)
    np.testing.assert_allclose(grad_input, SIGMOID_G * s * (1 - s), rtol=1e-12)


# The Sigmoid output is read-only


def write_item(output: np.ndarray) -> None:
    output[0, 0] = 1.0


def add_in_place(output: np.ndarray) -> None:
    output += 1.0


def ufunc_into(output: np.ndarray) -> None:
    np.multiply(output, 2.0, out=output)


def fill(output: np.ndarray) -> None:
    output.fill(0.0)


@pytest.mark.parametrize("modify", [write_item, add_in_place, ufunc_into, fill])
def test_sigmoid_output_is_read_only(modify: Callable[[np.ndarray], None]) -> None:
    sigmoid = Sigmoid()
    output = sigmoid.forward(SIGMOID_X)
    output_before = output.copy()

    with pytest.raises(ValueError, match="read-only"):
        modify(output)

    assert_array_bits_equal(output, output_before)
    s = sigmoid_reference(SIGMOID_X)
    np.testing.assert_allclose(sigmoid.backward(SIGMOID_G), SIGMOID_G * s * (1 - s), rtol=1e-12)


def test_sequential_sigmoid_output_read_only() -> None:
    output = Sequential(make_linear(), Sigmoid()).forward(X0)

    with pytest.raises(ValueError, match="read-only"):
        write_item(output)


# A failure inside a Sequential restores every module


def make_sigmoid_first_network() -> Sequential:
    # Sigmoid accepts any shape, so an input with 3 features reaches the Linear(2, 1).
    return Sequential(Sequential(Sigmoid(), Sigmoid()), Linear.from_weights([[1.0, -2.0]], [0.5]))


SEQUENTIAL_GOOD_X = np.array([[0.5, -1.0], [2.0, 0.0]])
SEQUENTIAL_BAD_X = np.zeros((2, 3))


def test_sequential_failed_forward_keeps_caches() -> None:
    network = make_sigmoid_first_network()
    output_layer = network[1]
    assert isinstance(output_layer, Linear)
    assert output_layer.bias is not None
    network.forward(SEQUENTIAL_GOOD_X)
    states = snapshot(network)
    bad_x_before = SEQUENTIAL_BAD_X.copy()

    with pytest.raises(ValueError, match=r"expected input with 2 features.*got shape \(2, 3\)"):
        network.forward(SEQUENTIAL_BAD_X)

    assert_parameters_unchanged(states)
    assert_array_bits_equal(SEQUENTIAL_BAD_X, bad_x_before)
    grad_output = np.array([[1.0], [2.0]])
    grad_input = network.backward(grad_output)

    once = sigmoid_reference(SEQUENTIAL_GOOD_X)
    twice = sigmoid_reference(once)
    grad_twice = (grad_output @ np.array([[1.0, -2.0]])) * twice * (1 - twice)
    np.testing.assert_allclose(output_layer.weight.grad, grad_output.T @ twice, rtol=1e-12)
    np.testing.assert_allclose(output_layer.bias.grad, [3.0], rtol=1e-12)
    np.testing.assert_allclose(grad_input, grad_twice * once * (1 - once), rtol=1e-12)


def test_sequential_failed_forward_no_cache() -> None:
    network = make_sigmoid_first_network()

    with pytest.raises(ValueError, match=r"expected input with 2 features.*got shape \(2, 3\)"):
        network.forward(SEQUENTIAL_BAD_X)

    # The Sigmoids that ran hold no cache either, so backward stops at the first module.
    assert_backward_needs_forward(network, np.ones((2, 1)))
    inner = network[0]
    assert isinstance(inner, Sequential)
    assert_backward_needs_forward(inner, np.ones((2, 3)))


# Constructor validation: Linear


@pytest.mark.parametrize("argument", ["in_features", "out_features"])
@pytest.mark.parametrize("value", [0, -1, np.int64(-2)])
def test_linear_bad_feature_count(argument: str, value: Any) -> None:
    sizes: dict[str, Any] = {"in_features": 3, "out_features": 2}
    sizes[argument] = value

    with pytest.raises(
        ValueError,
        match=r"Linear: " + argument + r" must be a positive integer, got " + pattern(repr(value)),
    ):
        Linear(sizes["in_features"], sizes["out_features"])


@pytest.mark.parametrize("argument", ["in_features", "out_features"])
@pytest.mark.parametrize("value", [2.0, 3.5, True, False, "3", None, np.float64(3.0)])
def test_linear_feature_count_wrong_type(argument: str, value: Any) -> None:
    sizes: dict[str, Any] = {"in_features": 3, "out_features": 2}
    sizes[argument] = value

    with pytest.raises(
        TypeError,
        match=r"Linear: " + argument + r" must be an integer, got " + pattern(repr(value)),
    ):
        Linear(sizes["in_features"], sizes["out_features"])


def test_linear_numpy_integer_feature_count() -> None:
    layer = Linear(np.int64(3), np.int32(2), rng=0)

    assert layer.weight.shape == (2, 3)


@pytest.mark.parametrize("value", [1, 0, "yes", None, np.array(True), 1.0])
def test_linear_bias_not_bool(value: Any) -> None:
    with pytest.raises(
        TypeError, match=r"Linear: bias must be True or False, got " + pattern(repr(value))
    ):
        Linear(3, 2, bias=value)


@pytest.mark.parametrize(
    "rng", [1.5, "seed", [0], True, np.random.RandomState(0)], ids=lambda rng: type(rng).__name__
)
def test_linear_rng_wrong_type(rng: Any) -> None:
    with pytest.raises(
        TypeError,
        match=r"Linear: rng must be a numpy\.random\.Generator, an integer seed or None, got "
        + type(rng).__name__,
    ):
        Linear(3, 2, rng=rng)


NON_FLOAT_DTYPES = [
    pytest.param(np.int64, "int64", id="int64"),
    pytest.param(np.float16, "float16", id="float16"),
    pytest.param(np.complex128, "complex128", id="complex128"),
    pytest.param(np.bool_, "bool", id="bool"),
    pytest.param(object, "object", id="object"),
    pytest.param("int32", "int32", id="int32-name"),
]


@pytest.mark.parametrize(("dtype", "dtype_text"), NON_FLOAT_DTYPES)
def test_bad_dtype_argument_raises(dtype: Any, dtype_text: str) -> None:
    suffix = r": dtype must be float32 or float64, got " + dtype_text + r"\. Pass dtype=np\.float64"

    with pytest.raises(TypeError, match=r"^Linear" + suffix):
        Linear(3, 2, dtype=dtype)
    with pytest.raises(TypeError, match=r"^Linear\.from_weights" + suffix):
        Linear.from_weights(WEIGHT, BIAS, dtype=dtype)
    with pytest.raises(TypeError, match=r"^Parameter" + suffix):
        Parameter(BIAS, dtype=dtype)


def test_unknown_dtype_name_raises() -> None:
    with pytest.raises(
        TypeError,
        match=r"^Linear: dtype must be float32 or float64, got 'banana', which is not a numpy ",
    ):
        Linear(3, 2, dtype="banana")


BAD_WEIGHTS = [
    pytest.param(np.ones(3), id="1d"),
    pytest.param(np.ones((1, 2, 3)), id="3d"),
    pytest.param(np.ones((0, 3)), id="no-outputs"),
    pytest.param(np.ones((2, 0)), id="no-inputs"),
    pytest.param(np.array(1.0), id="0d"),
]


@pytest.mark.parametrize("weight", BAD_WEIGHTS)
def test_from_weights_bad_weight_shape(weight: np.ndarray) -> None:
    weight_before = weight.copy()

    with pytest.raises(
        ValueError,
        match=r"Linear\.from_weights: weight must be a non-empty 2-D array of shape "
        r"\(out_features, in_features\), got shape " + pattern(str(weight.shape)),
    ):
        Linear.from_weights(weight)

    assert_array_bits_equal(weight, weight_before)


@pytest.mark.parametrize("shape", [(3,), (1, 2), (2, 1), (), (1,), (0,)])
def test_from_weights_bad_bias_shape(shape: tuple[int, ...]) -> None:
    bias = np.ones(shape)

    with pytest.raises(
        ValueError,
        match=r"Linear\.from_weights: bias must have shape \(2,\) to match weight of shape "
        r"\(2, 3\), got shape " + pattern(str(shape)),
    ):
        Linear.from_weights(WEIGHT, bias)

    assert_array_bits_equal(bias, np.ones(shape))


@pytest.mark.parametrize(
    ("weight", "bias", "name", "error", "detail"),
    [
        (WEIGHT, [np.nan, 0.0], "bias", ValueError, r"must be finite, got 1 NaN or infinite"),
        ([[np.inf, 0.0, 0.0]], None, "weight", ValueError, r"must be finite, got 1 NaN"),
        (WEIGHT, ["a", "b"], "bias", TypeError, r"must be real numbers, got dtype <U1"),
        ([["x", "y", "z"]], None, "weight", TypeError, r"must be real numbers, got dtype <U1"),
        ([[True, False]], None, "weight", TypeError, r"must be real numbers, got dtype bool"),
    ],
)
def test_from_weights_bad_values_name_argument(
    weight: Any, bias: Any, name: str, error: type[Exception], detail: str
) -> None:
    message = r"^Linear\.from_weights: " + name + r" is invalid\..*" + detail
    with pytest.raises(error, match=message):
        Linear.from_weights(weight, bias)


# Constructor validation: Parameter


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_parameter_non_finite_values(bad_value: float) -> None:
    values = np.array([[1.0, bad_value], [bad_value, 2.0]])
    values_before = values.copy()

    with pytest.raises(
        ValueError, match=r"^Parameter: initial values must be finite, got 2 NaN or infinite"
    ):
        Parameter(values)

    assert_array_bits_equal(values, values_before)


@pytest.mark.parametrize(
    ("values", "dtype_text"),
    [
        (["a", "b"], "<U1"),
        ([1.0, "b"], "<U32"),
        (np.array([1.0, 2.0], dtype=object), "object"),
        (None, "object"),
        ([True, False], "bool"),
        ([1j, 2.0], "complex128"),
    ],
)
def test_parameter_non_numeric_values(values: Any, dtype_text: str) -> None:
    with pytest.raises(
        TypeError,
        match=r"^Parameter: initial values must be real numbers, got dtype " + pattern(dtype_text),
    ):
        Parameter(values)


def test_parameter_ragged_values() -> None:
    with pytest.raises(
        TypeError, match=r"^Parameter: initial values could not be converted to a numeric array"
    ):
        Parameter([[1.0, 2.0], [3.0]])


@pytest.mark.parametrize("attribute", ["data", "grad"])
@pytest.mark.parametrize("new_value", [np.zeros(2), np.array([5.0, 6.0]), 0.0, None])
def test_parameter_reassignment_raises(attribute: str, new_value: Any) -> None:
    parameter = Parameter([1.0, 2.0])
    parameter.grad[...] = [0.5, -0.5]
    states = [
        ParameterState(
            "parameter",
            parameter,
            parameter.data,
            parameter.grad,
            parameter.data.tobytes(),
            parameter.grad.tobytes(),
            parameter.dtype,
            parameter.shape,
        )
    ]

    with pytest.raises(
        AttributeError,
        match=r"^Parameter\." + attribute + r" cannot be replaced.*param\." + attribute + r"\[",
    ):
        setattr(parameter, attribute, new_value)

    assert_parameters_unchanged(states)


def test_parameter_augmented_assignment_in_place() -> None:
    parameter = Parameter([1.0, 2.0])
    data = parameter.data
    grad = parameter.grad

    parameter.data -= np.array([0.5, 0.25])
    parameter.grad += np.array([3.0, 4.0])
    parameter.data *= 2.0
    parameter.data[...] = parameter.data + 1.0

    assert parameter.data is data
    assert parameter.grad is grad
    np.testing.assert_array_equal(parameter.data, [2.0, 4.5])
    np.testing.assert_array_equal(parameter.grad, [3.0, 4.0])


# Constructor validation: MSELoss


@pytest.mark.parametrize(
    "reduction", ["avg", "Mean", "", None, 2, ["mean"], np.array(["mean", "sum"])]
)
def test_mse_unknown_reduction(reduction: Any) -> None:
    with pytest.raises(
        ValueError,
        match=r"^MSELoss: reduction must be one of \['mean', 'sum', 'half_sum'\], got "
        + pattern(repr(reduction)),
    ):
        MSELoss(reduction)


def test_mse_reduction_none_explained() -> None:
    with pytest.raises(ValueError, match=r"^MSELoss: reduction='none' is not supported"):
        MSELoss("none")  # type: ignore[arg-type]


# Constructor validation: SGD


@pytest.mark.parametrize("lr", [math.nan, math.inf, -math.inf], ids=repr)
def test_sgd_lr_not_finite(lr: Any) -> None:
    layer = make_linear()
    prime_gradients(layer)
    states = snapshot(layer)

    message = r"^SGD: lr must be finite, got " + pattern(repr(lr))
    with pytest.raises(ValueError, match=message):
        SGD(layer.parameters(), lr=lr)

    assert_parameters_unchanged(states)


@pytest.mark.parametrize(
    "lr", [True, False, "0.1", None, [0.1], np.array(0.1), 1j], ids=repr
)
def test_sgd_lr_not_a_number(lr: Any) -> None:
    layer = make_linear()
    prime_gradients(layer)
    states = snapshot(layer)

    message = r"^SGD: lr must be a real number, got " + pattern(repr(lr))
    with pytest.raises(TypeError, match=message):
        SGD(layer.parameters(), lr=lr)

    assert_parameters_unchanged(states)


@pytest.mark.parametrize("lr", [-0.1, -1, np.float32(-0.5)], ids=repr)
def test_sgd_negative_lr(lr: Any) -> None:
    with pytest.raises(ValueError, match=r"^SGD: lr must be >= 0, got " + pattern(repr(float(lr)))):
        SGD(make_linear().parameters(), lr=lr)


@pytest.mark.parametrize(
    ("lr", "expected"),
    [(0, 0.0), (1, 1.0), (0.5, 0.5), (np.float32(0.25), 0.25), (np.float64(0.1), 0.1)],
    ids=repr,
)
def test_sgd_accepts_real_lr(lr: Any, expected: float) -> None:
    optimizer = SGD(make_linear().parameters(), lr=lr)

    assert type(optimizer.lr) is float
    assert optimizer.lr == expected


@pytest.mark.parametrize(
    "params",
    [[], (), iter([]), Sequential().parameters(), Sequential(Sigmoid()).parameters()],
    ids=["list", "tuple", "iterator", "empty-sequential", "sigmoid-only"],
)
def test_sgd_empty_params(params: Any) -> None:
    with pytest.raises(ValueError, match=r"^SGD: params is empty, so there is nothing to optimize"):
        SGD(params, lr=0.1)


def test_sgd_single_parameter_not_list() -> None:
    with pytest.raises(
        TypeError, match=r"^SGD: .*got a single Parameter\. Wrap it in a list: \[param\]"
    ):
        SGD(Parameter([1.0]), lr=0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "type_name"), [(None, "NoneType"), (0.1, "float"), (Linear(3, 2, rng=0), "Linear")]
)
def test_sgd_params_not_iterable(params: Any, type_name: str) -> None:
    with pytest.raises(
        TypeError,
        match=r"^SGD: params must be an iterable of Parameter objects, got "
        + type_name
        + r"\. Pass model\.parameters\(\)",
    ):
        SGD(params, lr=0.1)


def test_sgd_non_parameter_items() -> None:
    layer = make_linear()

    with pytest.raises(TypeError, match=r"^SGD: params\[1\] must be a Parameter, got ndarray"):
        SGD([layer.weight, np.ones(2)], lr=0.1)  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"^SGD: params\[0\] must be a Parameter, got Linear"):
        SGD(Sequential(layer), lr=0.1)  # type: ignore[arg-type]


def test_sgd_duplicated_parameter() -> None:
    layer = make_linear()
    assert layer.bias is not None

    with pytest.raises(ValueError, match=r"^SGD: params\[2\] appears more than once"):
        SGD([layer.weight, layer.bias, layer.weight], lr=0.1)


# Constructor validation: Sequential


def identity(x: np.ndarray) -> np.ndarray:
    return x


@pytest.mark.parametrize(
    ("item", "type_name"),
    [
        (Linear, "type"),
        (identity, "function"),
        (np.tanh, "ufunc"),
        (None, "NoneType"),
        ("Linear", "str"),
        (MSELoss(), "MSELoss"),
        (Parameter([1.0]), "Parameter"),
    ],
)
def test_sequential_rejects_non_module(item: Any, type_name: str) -> None:
    message = r"^Sequential: layer 1 must be a Module, got " + type_name + r"\. Pass layer"

    with pytest.raises(TypeError, match=message):
        Sequential(make_linear(), item)

    network = Sequential(make_linear())
    with pytest.raises(TypeError, match=message):
        network.append(item)
    assert len(network) == 1


def test_sequential_rejects_repeated_module() -> None:
    layer = make_linear()
    message = r"^Sequential: layer 2 contains Linear\(in_features=3.*which layer 0 already"

    with pytest.raises(ValueError, match=message):
        Sequential(layer, Sigmoid(), layer)
    with pytest.raises(ValueError, match=message):
        Sequential(layer, Sigmoid(), Sequential(Sigmoid(), layer))

    network = Sequential(layer, Sigmoid())
    with pytest.raises(ValueError, match=message):
        network.append(layer)
    assert len(network) == 2


def test_sequential_shared_parameters_allowed() -> None:
    first = make_linear()
    second = Linear(3, 3, rng=0)
    second.weight = first.weight
    second.bias = first.bias
    network = Sequential(first, second)

    assert [name for name, _ in network.named_parameters()] == ["0.weight", "0.bias"]


# Read-only input that can still change through a writable view


def test_linear_read_only_input_with_writable_view() -> None:
    layer = make_linear()
    x = X0.copy()
    writable_view = x[:]
    x.flags.writeable = False

    layer.forward(x)
    writable_view[...] = 100.0
    layer.backward(G0)

    np.testing.assert_allclose(layer.weight.grad, G0.T @ X0, rtol=1e-14)


# Values that do not fit in float32


def test_float32_linear_rejects_overflowing_input() -> None:
    layer = Linear(3, 2, rng=0, dtype=np.float32)
    x = np.array([[1.0, 2.0, 3.0], [1.0, 1e300, 3.0]])

    message = r"x has values outside the float32 range.*1e\+300 at index \(1, 1\)"
    with pytest.raises(ValueError, match=message):
        layer.forward(x)
    with pytest.raises(RuntimeError, match="without a preceding forward"):
        layer.backward(np.ones((2, 2), dtype=np.float32))


def test_float32_parameter_rejects_overflow() -> None:
    with pytest.raises(ValueError, match=r"^Parameter: initial values exceed the float32 range"):
        Parameter([1.0, 1e300], dtype=np.float32)


class ArrayHolder:
    """Array-like whose ``__array__`` returns a buffer that the holder keeps and can change."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.values


def test_linear_array_like_changed_after_forward() -> None:
    layer = Linear.from_weights([[2.0]], [0.0])
    holder = ArrayHolder(np.array([[3.0]]))

    layer.forward(holder)  # type: ignore[arg-type]
    holder.values[0, 0] = 5.0
    layer.backward(np.array([[1.0]]))

    np.testing.assert_array_equal(layer.weight.grad, [[3.0]])


# Zero-dimensional and empty inputs


@pytest.mark.parametrize(
    "layer",
    [
        Sigmoid(),
        minigrad.Tanh(),
        minigrad.ReLU(),
        minigrad.LeakyReLU(0.1),
        minigrad.Dropout(0.5, rng=0),
    ],
    ids=repr,
)
def test_zero_dim_input_gives_arrays(layer: Module) -> None:
    output = layer.forward(np.array(0.5))
    grad_input = layer.backward(np.array(1.0))

    assert isinstance(output, np.ndarray)
    assert output.shape == ()
    assert isinstance(grad_input, np.ndarray)
    assert grad_input.shape == ()


@pytest.mark.parametrize(
    "loss",
    [MSELoss(), minigrad.L1Loss(), minigrad.BCELoss(), minigrad.BCEWithLogitsLoss()],
    ids=repr,
)
def test_zero_dim_loss_gives_array_gradient(loss: minigrad.Loss) -> None:
    value = loss.forward(np.array(0.25), np.array(1.0))
    grad_input = loss.backward()

    assert isinstance(value, float)
    assert isinstance(grad_input, np.ndarray)
    assert grad_input.shape == ()


@pytest.mark.parametrize(("shape", "axis"), [((2, 0), -1), ((0, 3), 0)])
def test_softmax_empty_input(shape: tuple[int, ...], axis: int) -> None:
    layer = minigrad.Softmax(axis=axis)

    output = layer.forward(np.zeros(shape))
    grad_input = layer.backward(np.zeros(shape))

    assert output.shape == shape
    assert grad_input.shape == shape


def test_linear_negative_seed_raises() -> None:
    with pytest.raises(ValueError, match=r"^Linear: the seed rng must be >= 0, got -1"):
        Linear(3, 2, rng=-1)


def test_failed_forward_keeps_dropout_generator() -> None:
    failed = Sequential(minigrad.Dropout(0.5, rng=5), Linear(3, 1, rng=0))
    fresh = Sequential(minigrad.Dropout(0.5, rng=5), Linear(3, 1, rng=0))

    with pytest.raises(ValueError, match="expected input with 3 features"):
        failed.forward(np.ones((2, 4)))

    np.testing.assert_array_equal(failed.forward(np.ones((2, 3))), fresh.forward(np.ones((2, 3))))


@pytest.mark.parametrize("value", [np.ones((2, 3)), [[1.0, 2.0, 3.0]], 2.0])
def test_parameter_replacement_by_array_raises(value: Any) -> None:
    layer = make_linear()
    weight = layer.weight

    with pytest.raises(TypeError, match=r"Linear\.weight is a Parameter and cannot be replaced"):
        layer.weight = value

    assert layer.weight is weight


def test_parameter_replacement_by_parameter_allowed() -> None:
    layer = make_linear()
    replacement = Parameter(np.zeros((3, 3)))

    layer.weight = replacement
    layer.bias = None

    assert [parameter for parameter in layer.parameters()] == [replacement]

"""Tests of the activation layers: values, gradients, errors and PyTorch agreement."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from finite_differences import assert_gradient_close, central_difference
from hypothesis import given
from hypothesis import strategies as st

from minigrad import Identity, LeakyReLU, Module, ReLU, Sigmoid, Softmax, Tanh

Array = np.ndarray[Any, Any]

# Shapes with one to three dimensions of size 1 to 4, so a batch of one is included.
SHAPES = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
FINITE = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False)


def input_arrays(shape_strategy: st.SearchStrategy[tuple[int, ...]] = SHAPES) -> Any:
    return hnp.arrays(np.float64, shape_strategy, elements=FINITE)


def away_from_zero(array: Array) -> Array:
    """Move entries within 1e-3 of the kink at 0 to 0.5, where finite differences are valid."""
    result = array.copy()
    result[np.abs(result) < 1e-3] = 0.5
    return result


def check_finite_differences(layer: Module, x: Array) -> None:
    """Compare ``backward`` with central differences of ``sum(forward(x) * g)``."""
    upstream = np.random.default_rng(0).normal(size=x.shape)

    layer.forward(x)
    analytic = layer.backward(upstream)
    numeric = central_difference(lambda: float(np.sum(layer.forward(x) * upstream)), x)
    assert_gradient_close(analytic, numeric, f"{layer!r} input", rtol=1e-5, atol=1e-7)


def check_against_torch(
    layer: Module, torch_function: Callable[[Any], Any], x: Array, upstream: Array
) -> None:
    """Compare forward and backward with a float64 torch function on the same data."""
    torch = pytest.importorskip("torch")
    x_torch = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y_torch = torch_function(x_torch)
    y_torch.backward(torch.tensor(upstream, dtype=torch.float64))

    output = layer.forward(x)
    grad_input = layer.backward(upstream)

    np.testing.assert_allclose(output, y_torch.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad_input, x_torch.grad.numpy(), rtol=1e-12, atol=1e-15)


# --- ReLU ------------------------------------------------------------------------------------


def test_relu_reference_values() -> None:
    layer = ReLU()
    output = layer.forward(np.array([[-2.0, -0.0, 0.0, 1.5, 3.0]]))
    grad_input = layer.backward(np.array([[10.0, 20.0, 30.0, 40.0, 50.0]]))

    np.testing.assert_array_equal(output, [[0.0, 0.0, 0.0, 1.5, 3.0]])
    np.testing.assert_array_equal(grad_input, [[0.0, 0.0, 0.0, 40.0, 50.0]])


def test_relu_derivative_at_zero() -> None:
    layer = ReLU()
    layer.forward(np.zeros((1, 3)))

    np.testing.assert_array_equal(layer.backward(np.ones((1, 3))), np.zeros((1, 3)))


def test_relu_keeps_float32() -> None:
    layer = ReLU()
    output = layer.forward(np.array([-1.0, 2.0], dtype=np.float32))
    grad_input = layer.backward(np.array([1.0, 1.0]))

    assert output.dtype == np.float32
    assert grad_input.dtype == np.float32


def test_relu_integer_input_float64() -> None:
    output = ReLU().forward(np.array([-3, 4], dtype=np.int64))

    assert output.dtype == np.float64
    np.testing.assert_array_equal(output, [0.0, 4.0])


@given(input_arrays())
def test_relu_finite_differences(x: Array) -> None:
    check_finite_differences(ReLU(), away_from_zero(x))


def test_relu_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 4))
    x[0, :2] = 0.0

    check_against_torch(ReLU(), torch.relu, x, rng.normal(size=(5, 4)))


# --- LeakyReLU -------------------------------------------------------------------------------


def test_leaky_relu_reference_values() -> None:
    layer = LeakyReLU(negative_slope=0.1)
    output = layer.forward(np.array([-2.0, 0.0, 3.0]))
    grad_input = layer.backward(np.array([1.0, 1.0, 1.0]))

    np.testing.assert_allclose(output, [-0.2, 0.0, 3.0], rtol=1e-15)
    np.testing.assert_allclose(grad_input, [0.1, 0.1, 1.0], rtol=1e-15)


def test_leaky_relu_default_slope() -> None:
    layer = LeakyReLU()

    assert layer.negative_slope == 0.01
    assert repr(layer) == "LeakyReLU(negative_slope=0.01)"


@pytest.mark.parametrize("slope", [float("nan"), float("inf"), -float("inf"), 2**2000])
def test_leaky_relu_non_finite_slope(slope: object) -> None:
    with pytest.raises(ValueError, match="negative_slope must be finite"):
        LeakyReLU(negative_slope=slope)  # type: ignore[arg-type]


@pytest.mark.parametrize("slope", [True, "0.1", None, [0.1]])
def test_leaky_relu_slope_wrong_type(slope: object) -> None:
    with pytest.raises(TypeError, match="negative_slope must be a real number"):
        LeakyReLU(negative_slope=slope)  # type: ignore[arg-type]


def test_relu_keeps_nan() -> None:
    output = ReLU()(np.array([np.nan, -1.0, 1.0]))

    assert np.isnan(output[0])
    np.testing.assert_array_equal(output[1:], [0.0, 1.0])


def test_leaky_relu_large_positive_no_overflow() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = LeakyReLU(2.0)(np.array([1e308, -1.0]))

    np.testing.assert_array_equal(output, [1e308, -2.0])


@given(input_arrays(), st.floats(-1.0, 1.0))
def test_leaky_relu_finite_differences(x: Array, slope: float) -> None:
    check_finite_differences(LeakyReLU(slope), away_from_zero(x))


@pytest.mark.parametrize("slope", [0.01, 0.2, -0.5])
def test_leaky_relu_matches_torch(slope: float) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6))
    x[1, 1] = 0.0

    check_against_torch(
        LeakyReLU(slope),
        lambda tensor: torch.nn.functional.leaky_relu(tensor, slope),
        x,
        rng.normal(size=(3, 6)),
    )


# --- Tanh ------------------------------------------------------------------------------------


def test_tanh_reference_values() -> None:
    layer = Tanh()
    output = layer.forward(np.array([-1.0, 0.0, 0.5]))
    grad_input = layer.backward(np.array([2.0, 2.0, 2.0]))

    expected = [math.tanh(-1.0), 0.0, math.tanh(0.5)]
    np.testing.assert_allclose(output, expected, rtol=1e-15)
    np.testing.assert_allclose(grad_input, [2 * (1 - t * t) for t in expected], rtol=1e-14)


def test_tanh_extreme_inputs_saturate() -> None:
    layer = Tanh()
    output = layer.forward(np.array([-1000.0, 1000.0]))

    np.testing.assert_array_equal(output, [-1.0, 1.0])
    np.testing.assert_array_equal(layer.backward(np.ones(2)), [0.0, 0.0])


def test_tanh_output_read_only() -> None:
    output = Tanh().forward(np.array([0.3]))

    with pytest.raises(ValueError, match="read-only"):
        output[0] = 1.0


@given(input_arrays())
def test_tanh_finite_differences(x: Array) -> None:
    check_finite_differences(Tanh(), x)


def test_tanh_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)

    check_against_torch(Tanh(), torch.tanh, rng.normal(size=(4, 5)) * 3, rng.normal(size=(4, 5)))


# --- Sigmoid ---------------------------------------------------------------------------------


@given(input_arrays())
def test_sigmoid_finite_differences(x: Array) -> None:
    check_finite_differences(Sigmoid(), x)


def test_sigmoid_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 5)) * 10
    x[0, 0] = -800.0

    check_against_torch(Sigmoid(), torch.sigmoid, x, rng.normal(size=(4, 5)))


# --- Softmax ---------------------------------------------------------------------------------


def test_softmax_large_logits_finite() -> None:
    # Shifting by the maximum turns [1000, 1001, 1002] into [-2, -1, 0]; exp(1000) would
    # overflow, and the suite turns the overflow warning into an error.
    output = Softmax().forward(np.array([[1000.0, 1001.0, 1002.0]]))

    exponentials = [math.exp(-2.0), math.exp(-1.0), 1.0]
    expected = [[value / sum(exponentials) for value in exponentials]]
    np.testing.assert_allclose(output, expected, rtol=1e-15)


def test_softmax_rows_sum_to_one() -> None:
    x = np.random.default_rng(5).normal(size=(6, 4)) * 50
    output = Softmax(axis=1).forward(x)

    np.testing.assert_allclose(output.sum(axis=1), np.ones(6), rtol=1e-15)
    assert np.all(output >= 0)


def test_softmax_axis_zero() -> None:
    output = Softmax(axis=0).forward(np.array([[0.0, 5.0], [0.0, 5.0]]))

    np.testing.assert_allclose(output, np.full((2, 2), 0.5), rtol=1e-15)


def test_softmax_backward_reference() -> None:
    layer = Softmax()
    s = layer.forward(np.array([[0.0, math.log(3.0)]]))  # probabilities [0.25, 0.75]
    grad_input = layer.backward(np.array([[1.0, 0.0]]))

    np.testing.assert_allclose(s, [[0.25, 0.75]], rtol=1e-15)
    # s * (g - sum(g * s)) = [0.25 * (1 - 0.25), 0.75 * (0 - 0.25)]
    np.testing.assert_allclose(grad_input, [[0.1875, -0.1875]], rtol=1e-14)


def test_softmax_axis_out_of_range() -> None:
    layer = Softmax(axis=2)

    with pytest.raises(ValueError, match=r"axis 2 is out of range for input of shape \(2, 3\)"):
        layer.forward(np.zeros((2, 3)))


def test_softmax_scalar_input_rejected() -> None:
    with pytest.raises(ValueError, match="axis -1 is out of range"):
        Softmax().forward(np.float64(1.0))


@pytest.mark.parametrize("axis", [1.0, "1", None, True])
def test_softmax_invalid_axis_type(axis: object) -> None:
    with pytest.raises(TypeError, match="axis must be an integer"):
        Softmax(axis=axis)  # type: ignore[arg-type]


def test_softmax_repr() -> None:
    assert repr(Softmax(axis=0)) == "Softmax(axis=0)"


@given(input_arrays(), st.integers(0, 2))
def test_softmax_finite_differences(x: Array, axis_choice: int) -> None:
    axis = axis_choice % x.ndim - x.ndim  # a valid negative axis for this input
    check_finite_differences(Softmax(axis=axis), x)


@pytest.mark.parametrize(("shape", "axis"), [((4, 5), -1), ((4, 5), 0), ((2, 3, 4), 1)])
def test_softmax_matches_torch(shape: tuple[int, ...], axis: int) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)

    check_against_torch(
        Softmax(axis=axis),
        lambda tensor: torch.softmax(tensor, dim=axis),
        rng.normal(size=shape) * 5,
        rng.normal(size=shape),
    )


# --- Identity --------------------------------------------------------------------------------


def test_identity_returns_input() -> None:
    layer = Identity()
    x = np.array([[1.0, -2.0]])
    grad = np.array([[3.0, 4.0]])

    assert layer.forward(x) is x
    np.testing.assert_array_equal(layer.backward(grad), [[3.0, 4.0]])


def test_identity_converts_integers() -> None:
    layer = Identity()
    output = layer.forward(np.array([1, 2]))
    grad_input = layer.backward(np.array([1, 1]))

    assert output.dtype == np.float64
    assert grad_input.dtype == np.float64


def test_identity_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)

    check_against_torch(Identity(), torch.nn.Identity(), rng.normal(size=(2, 3)), np.ones((2, 3)))


# --- Shared contract -------------------------------------------------------------------------

ALL_LAYERS = [ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, Identity]


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_backward_without_forward(layer_class: type[Module]) -> None:
    layer = layer_class()

    with pytest.raises(RuntimeError, match="backward was called without a preceding forward"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_second_backward_raises(layer_class: type[Module]) -> None:
    layer = layer_class()
    layer.forward(np.ones((2, 3)))
    layer.backward(np.ones((2, 3)))

    with pytest.raises(RuntimeError, match="without a preceding forward"):
        layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_backward_shape_mismatch(layer_class: type[Module]) -> None:
    layer = layer_class()
    layer.forward(np.ones((2, 3)))

    with pytest.raises(ValueError, match=r"grad_output has shape \(3, 2\)"):
        layer.backward(np.ones((3, 2)))
    # The failed call keeps the cache, so a correct gradient still works.
    assert layer.backward(np.ones((2, 3))).shape == (2, 3)


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_boolean_input_rejected(layer_class: type[Module]) -> None:
    with pytest.raises(TypeError, match="must contain real numbers, got dtype bool"):
        layer_class().forward(np.array([True, False]))


@pytest.mark.parametrize("layer_class", ALL_LAYERS)
def test_caller_input_unchanged(layer_class: type[Module]) -> None:
    x = np.array([[-1.0, 0.5, 2.0]])
    original = x.copy()
    layer = layer_class()
    layer.forward(x)
    layer.backward(np.ones((1, 3)))

    np.testing.assert_array_equal(x, original)


def test_relu_nan_passes_gradient() -> None:
    layer = ReLU()
    layer.forward(np.array([np.nan, -1.0, 2.0]))

    grad_input = layer.backward(np.array([3.0, 4.0, 5.0]))

    np.testing.assert_array_equal(grad_input, [3.0, 0.0, 5.0])


def test_sigmoid_ignores_strict_error_state() -> None:
    x = np.array([-800.0, -50.0, 5.0])
    with np.errstate(all="raise"):
        output = Sigmoid().forward(x)

    np.testing.assert_allclose(output[1], 1.9287498479639178e-22, rtol=1e-12)
    assert output[0] >= 0.0

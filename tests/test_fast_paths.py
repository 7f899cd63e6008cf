"""The optimized paths give the numbers of the plain formulas they replace.

Each fast path is compared with the general path of the same code or with the plain numpy
formula, exactly where the arithmetic is the same and to rtol 1e-12 in float64 where the
formula differs.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

from minigrad import SGD, Linear, Module, MSELoss, ReLU, Sequential, Sigmoid, Tanh, _array
from minigrad._array import as_float_array, freeze, is_private
from minigrad.activations import _sigmoid, _sigmoid_without_overflow
from minigrad.linear import _DIRECT_PRODUCT_MIN_SIZE
from minigrad.optim import _UPDATE_BLOCK_SIZE

# Input conversion


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conversion_fast_path_returns_input(dtype: type) -> None:
    x = np.arange(6, dtype=dtype).reshape(2, 3)

    assert as_float_array(x, owner="layer", name="x") is x
    assert as_float_array(x, owner="layer", name="x", dtype=np.dtype(dtype)) is x


def test_conversion_fortran_input_copied_to_c_order() -> None:
    x = np.asfortranarray(np.arange(6.0).reshape(2, 3))

    converted = as_float_array(x, owner="layer", name="x")

    assert converted is not x
    assert converted.flags.c_contiguous
    np.testing.assert_array_equal(converted, x)


def test_conversion_other_dtype_converted() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)

    converted = as_float_array(x, owner="layer", name="x", dtype=np.float64)

    assert converted.dtype == np.float64
    np.testing.assert_array_equal(converted, x)


def test_conversion_byte_swapped_input_converted() -> None:
    x = np.arange(4.0).astype(">f8")

    converted = as_float_array(x, owner="layer", name="x")

    assert converted.dtype == np.dtype(np.float64)
    np.testing.assert_array_equal(converted, [0.0, 1.0, 2.0, 3.0])


# Read-only outputs


def test_frozen_array_registered_as_private() -> None:
    output = freeze(np.ones(3))

    assert is_private(output, output)
    assert not output.flags.writeable


def test_caller_read_only_array_not_private() -> None:
    base = np.ones(3)
    view = base[:]
    view.flags.writeable = False

    assert not is_private(view, view)


def test_frozen_registry_forgets_dead_arrays() -> None:
    gc.collect()
    size_before = len(_array._frozen_arrays)

    for _ in range(100):
        freeze(np.ones(3))
    gc.collect()

    assert len(_array._frozen_arrays) == size_before


# Sigmoid


def test_sigmoid_matches_overflow_free_form() -> None:
    x = np.random.default_rng(0).uniform(-700.0, 700.0, size=(200, 50))

    np.testing.assert_allclose(_sigmoid(x), _sigmoid_without_overflow(x), rtol=1e-12, atol=0)


def test_sigmoid_matches_plain_formula() -> None:
    x = np.random.default_rng(1).normal(scale=10.0, size=(64, 32))

    np.testing.assert_allclose(_sigmoid(x), 1.0 / (1.0 + np.exp(-x)), rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_overflow_uses_exact_form(dtype: type) -> None:
    x = np.array([-1000.0, -720.0, -95.0, -50.0, 0.0, 50.0], dtype=dtype)

    output = Sigmoid().forward(x)

    np.testing.assert_array_equal(output, _sigmoid_without_overflow(x))
    assert output.dtype == np.dtype(dtype)


def test_sigmoid_subnormal_results_kept() -> None:
    # exp(720) overflows, but sigmoid(-720) is the subnormal number exp(-720).
    output = Sigmoid().forward(np.array([-720.0]))

    assert output[0] > 0
    np.testing.assert_allclose(output[0], np.exp(-720.0), rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_matches_reference_bitwise(dtype: type) -> None:
    x = np.array([[-2.0, -0.0, 0.0, 1.5], [np.nan, np.inf, -np.inf, 3e-39]], dtype=dtype)
    upstream = np.array([[np.nan, np.inf, -1.0, 2.0], [-np.inf, -3.0, np.nan, 0.5]], dtype=dtype)
    layer = ReLU()

    output = layer.forward(x)
    grad_input = layer.backward(upstream)

    # NaN inputs keep NaN forward and pass their gradient, as in PyTorch; the rest is np.where.
    expected_output = np.where((x > 0) | np.isnan(x), x, 0.0).astype(dtype)
    expected_grad = np.where((x > 0) | np.isnan(x), upstream, 0.0).astype(dtype)
    assert output.dtype == np.dtype(dtype)
    assert grad_input.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(output.view(np.uint8), expected_output.view(np.uint8))
    np.testing.assert_array_equal(grad_input.view(np.uint8), expected_grad.view(np.uint8))


def test_tanh_backward_matches_formula() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 5))
    upstream = rng.normal(size=(8, 5))
    layer = Tanh()

    output = layer.forward(x)
    grad_input = layer.backward(upstream)

    np.testing.assert_array_equal(grad_input, (1.0 - output * output) * upstream)


# Linear


def _layer_pair(in_features: int, out_features: int) -> tuple[Linear, Linear]:
    first = Linear(in_features, out_features, rng=3)
    second = Linear.from_weights(first.weight.data, first.bias.data if first.bias else None)
    return first, second


@pytest.mark.parametrize("shape", [(4, 3), (64, 128)])
def test_linear_zero_grad_path_exact(shape: tuple[int, int]) -> None:
    out_features, in_features = shape
    rng = np.random.default_rng(4)
    x = rng.normal(size=(16, in_features))
    upstream = rng.normal(size=(16, out_features))
    fast, plain = _layer_pair(in_features, out_features)
    # -0.0 is zero but not +0.0 in its bits, so it sends the product through the addition.
    plain.weight.grad[...] = -0.0

    fast.forward(x)
    fast_input_grad = fast.backward(upstream)
    plain.forward(x)
    plain_input_grad = plain.backward(upstream)

    np.testing.assert_array_equal(fast.weight.grad, plain.weight.grad)
    np.testing.assert_array_equal(fast.weight.grad, upstream.T @ x)
    np.testing.assert_array_equal(fast_input_grad, plain_input_grad)


def test_linear_direct_path_threshold_covered() -> None:
    # The (64, 128) case above must take the direct path, and the (4, 3) case must not.
    assert 4 * 3 < _DIRECT_PRODUCT_MIN_SIZE <= 64 * 128


def test_linear_accumulates_into_nonzero_grad() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 128))
    upstream = rng.normal(size=(16, 64))
    layer = Linear(128, 64, rng=6)
    layer.weight.grad[...] = 1.5

    layer.forward(x)
    layer.backward(upstream)

    np.testing.assert_array_equal(layer.weight.grad, 1.5 + upstream.T @ x)


def test_linear_parameter_backward_same_grads() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 5, 128))
    upstream = rng.normal(size=(2, 5, 64))
    full, partial = _layer_pair(128, 64)

    full.forward(x)
    full.backward(upstream)
    partial.forward(x)
    result = partial.parameter_backward(upstream)

    assert result is None
    np.testing.assert_array_equal(partial.weight.grad, full.weight.grad)
    assert partial.bias is not None and full.bias is not None
    np.testing.assert_array_equal(partial.bias.grad, full.bias.grad)


def test_linear_parameter_backward_releases_cache() -> None:
    layer = Linear(3, 2, rng=8)
    layer.forward(np.ones((4, 3)))
    layer.parameter_backward(np.ones((4, 2)))

    with pytest.raises(RuntimeError, match="without a preceding forward"):
        layer.parameter_backward(np.ones((4, 2)))


def test_linear_parameter_backward_bad_shape_changes_nothing() -> None:
    layer = Linear(3, 2, rng=9)
    layer.forward(np.ones((4, 3)))

    with pytest.raises(ValueError, match=r"grad_output has shape \(4, 3\)"):
        layer.parameter_backward(np.ones((4, 3)))

    np.testing.assert_array_equal(layer.weight.grad, np.zeros((2, 3)))
    layer.parameter_backward(np.ones((4, 2)))
    np.testing.assert_array_equal(layer.weight.grad, np.full((2, 3), 4.0))


# Sequential


def _network(rng: int) -> Sequential:
    generator = np.random.default_rng(rng)
    return Sequential(
        Linear(20, 16, rng=generator), Sigmoid(), Linear(16, 3, rng=generator), Sigmoid()
    )


def test_sequential_without_input_grad_same_grads() -> None:
    rng = np.random.default_rng(10)
    x = rng.normal(size=(8, 20))
    upstream = rng.normal(size=(8, 3))
    full = _network(11)
    partial = _network(11)

    full.forward(x)
    full.backward(upstream)
    partial.forward(x)
    result = partial.backward(upstream, input_grad=False)

    assert result is None
    for (name, expected), (_, actual) in zip(
        full.named_parameters(), partial.named_parameters(), strict=True
    ):
        np.testing.assert_array_equal(actual.grad, expected.grad, err_msg=name)


def test_sequential_without_input_grad_releases_caches() -> None:
    model = _network(12)
    model.forward(np.ones((2, 20)))
    model.backward(np.ones((2, 3)), input_grad=False)

    with pytest.raises(RuntimeError, match="without a preceding forward"):
        model.backward(np.ones((2, 3)))


def test_empty_sequential_without_input_grad() -> None:
    assert Sequential().backward(np.ones(3), input_grad=False) is None


def test_sequential_input_grad_flag_type_checked() -> None:
    model = _network(13)
    model.forward(np.ones((2, 20)))

    with pytest.raises(TypeError, match="input_grad must be True or False"):
        model.backward(np.ones((2, 3)), input_grad="no")  # type: ignore[call-overload]


class _Pair(Module):
    """A module with two submodules as attributes, found by the base named_children."""

    def __init__(self) -> None:
        self.first = Linear(2, 2, rng=14)
        self.second = Sigmoid()

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.second.forward(self.first.forward(x))

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return self.first.backward(self.second.backward(grad_output))


class _RejectBatchOfFive(Module):
    """An identity layer that raises for a batch of five samples."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 5:
            raise ValueError("batch of five rejected")
        return x

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output


def test_sequential_failure_restores_nested_caches() -> None:
    pair = _Pair()
    model = Sequential(pair, _RejectBatchOfFive())
    model.forward(np.ones((3, 2)))
    cached_input = pair.first._input
    cached_output = pair.second._output

    with pytest.raises(ValueError, match="batch of five rejected"):
        model.forward(np.ones((5, 2)))

    assert pair.first._input is cached_input
    assert pair.second._output is cached_output
    assert cached_output is not None
    assert cached_output.shape == (3, 2)


# SGD


def _parameters_and_reference(
    shape: tuple[int, ...], lr: float, *, fortran: bool = False
) -> tuple[Linear, np.ndarray]:
    layer = Linear(shape[1], shape[0], bias=False, rng=16)
    if fortran:
        layer.weight._replace_arrays(
            np.asfortranarray(layer.weight.data), np.asfortranarray(layer.weight.grad)
        )
    layer.weight.grad[...] = np.random.default_rng(17).normal(size=shape)
    expected = layer.weight.data - lr * layer.weight.grad
    return layer, expected


@pytest.mark.parametrize(
    ("shape", "fortran"), [((4, 3), False), ((300, 300), False), ((300, 300), True)]
)
def test_sgd_in_place_step_exact(shape: tuple[int, int], fortran: bool) -> None:
    layer, expected = _parameters_and_reference(shape, 0.1, fortran=fortran)
    data = layer.weight.data

    SGD(layer.parameters(), lr=0.1).step()

    assert layer.weight.data is data
    np.testing.assert_array_equal(layer.weight.data, expected)


def test_sgd_block_size_covered() -> None:
    # The (300, 300) case above must span several blocks of the in-place update.
    assert _UPDATE_BLOCK_SIZE < 300 * 300


def test_sgd_unbounded_finite_step_exact() -> None:
    # The squared norm overflows, so the general path takes this step.
    layer = Linear.from_weights(np.array([[1e300, -1e300]]))
    layer.weight.grad[...] = [1e299, 2.0]
    expected = layer.weight.data - 0.5 * layer.weight.grad

    with np.errstate(all="raise"):
        SGD(layer.parameters(), lr=0.5).step()

    np.testing.assert_array_equal(layer.weight.data, expected)


def test_sgd_overflow_changes_nothing() -> None:
    layer = Linear.from_weights(np.array([[1.7e308, 1.0]]))
    layer.weight.grad[...] = [-1.7e308, 0.0]
    before = layer.weight.data.copy()

    with pytest.raises(FloatingPointError, match="made 1 entries of its data NaN or infinite"):
        SGD(layer.parameters(), lr=1.0).step()

    np.testing.assert_array_equal(layer.weight.data, before)


def test_sgd_nan_grad_raises_before_update() -> None:
    first = Linear(3, 2, rng=18)
    second = Linear(2, 1, rng=19)
    first.weight.grad[...] = 1.0
    second.weight.grad[0, 1] = np.nan
    before = first.weight.data.copy()

    with pytest.raises(FloatingPointError, match=r"params\[2\].grad contains 1 NaN"):
        SGD([*first.parameters(), *second.parameters()], lr=0.1).step()

    np.testing.assert_array_equal(first.weight.data, before)


def test_vdot_overflow_sets_no_error_state() -> None:
    # The in-place SGD path relies on this: an overflowing norm must not warn or raise.
    values = np.full(1000, 1e300)

    with np.errstate(all="raise"):
        norm = np.vdot(values, values)

    assert norm == np.inf


# A whole training run


def _plain_training_run(
    x: np.ndarray, y: np.ndarray, weights: list[np.ndarray], steps: int, lr: float
) -> list[np.ndarray]:
    """Train the 20-16-3 sigmoid network with the plain formulas and return its parameters."""
    w1, b1, w2, b2 = (array.copy() for array in weights)
    for _ in range(steps):
        a1 = 1.0 / (1.0 + np.exp(-(x @ w1.T + b1)))
        a2 = 1.0 / (1.0 + np.exp(-(a1 @ w2.T + b2)))
        delta2 = 2.0 * (a2 - y) / y.size * a2 * (1.0 - a2)
        delta1 = (delta2 @ w2) * a1 * (1.0 - a1)
        gradients = [delta1.T @ x, delta1.sum(axis=0), delta2.T @ a1, delta2.sum(axis=0)]
        for parameter, gradient in zip((w1, b1, w2, b2), gradients, strict=True):
            parameter -= lr * gradient
    return [w1, b1, w2, b2]


@pytest.mark.parametrize("input_grad", [True, False])
def test_training_run_matches_plain_numpy(input_grad: bool) -> None:
    rng = np.random.default_rng(20)
    x = rng.normal(size=(32, 20))
    y = rng.random(size=(32, 3))
    model = _network(21)
    initial = [parameter.data.copy() for parameter in model.parameters()]
    loss_function = MSELoss()
    optimizer = SGD(model.parameters(), lr=0.5)

    for _ in range(25):
        optimizer.zero_grad()
        loss_function(model(x), y)
        model.backward(loss_function.backward(), input_grad=input_grad)
        optimizer.step()

    expected = _plain_training_run(x, y, initial, 25, 0.5)
    for parameter, reference in zip(model.parameters(), expected, strict=True):
        np.testing.assert_allclose(parameter.data, reference, rtol=1e-12, atol=0)

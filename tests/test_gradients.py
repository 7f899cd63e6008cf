"""Backward passes of every layer checked against central finite differences in float64.

Each layer is reduced to the scalar ``sum(forward(x) * G)`` with a random upstream gradient
``G``, so the derivative of that scalar with respect to the input or a parameter is exactly
what ``backward(G)`` returns or adds into ``.grad``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from finite_differences import assert_gradient_close, central_difference
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from minigrad import Array, Linear, Module, MSELoss, Sequential, Sigmoid

BATCH_SIZES = st.integers(min_value=1, max_value=5)
FEATURE_COUNTS = st.integers(min_value=1, max_value=6)
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def weighted_sum(module: Module, x: Array, upstream: Array) -> Callable[[], float]:
    """Return a function that evaluates ``sum(module.forward(x) * upstream)``.

    The function reads ``x`` and the parameters each time, so ``central_difference`` can
    perturb them in place.
    """

    def evaluate() -> float:
        return float(np.sum(module.forward(x) * upstream))

    return evaluate


def check_module_gradients(module: Module, x: Array, rng: np.random.Generator) -> None:
    """Compare ``module.backward`` with finite differences for the input and each parameter."""
    module.zero_grad()
    output = module.forward(x)
    upstream = rng.standard_normal(output.shape)
    grad_input = module.backward(upstream)
    analytic = {name: parameter.grad.copy() for name, parameter in module.named_parameters()}

    function = weighted_sum(module, x, upstream)
    assert_gradient_close(grad_input, central_difference(function, x), "input")
    for name, parameter in module.named_parameters():
        numeric = central_difference(function, parameter.data)
        assert_gradient_close(analytic[name], numeric, name)


@given(batch=BATCH_SIZES, in_features=FEATURE_COUNTS, out_features=FEATURE_COUNTS, seed=SEEDS)
def test_linear_gradients_with_bias(
    batch: int, in_features: int, out_features: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    layer = Linear(in_features, out_features, rng=rng)
    x = rng.standard_normal((batch, in_features))

    check_module_gradients(layer, x, rng)


@given(batch=BATCH_SIZES, in_features=FEATURE_COUNTS, out_features=FEATURE_COUNTS, seed=SEEDS)
def test_linear_gradients_without_bias(
    batch: int, in_features: int, out_features: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    layer = Linear(in_features, out_features, bias=False, rng=rng)
    x = rng.standard_normal((batch, in_features))

    check_module_gradients(layer, x, rng)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 2, 1, 4), (3, 1, 4)])
def test_linear_gradients_leading_dimensions(shape: tuple[int, ...], bias: bool) -> None:
    rng = np.random.default_rng(11)
    layer = Linear(4, 5, bias=bias, rng=rng)
    x = rng.standard_normal(shape)

    check_module_gradients(layer, x, rng)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("in_features", [1, 4])
def test_linear_gradients_1d_input(in_features: int, bias: bool) -> None:
    rng = np.random.default_rng(12)
    layer = Linear(in_features, 3, bias=bias, rng=rng)
    x = rng.standard_normal(in_features)

    output = layer(x)
    grad_input = layer.backward(np.ones(3))
    assert output.shape == (3,)
    assert grad_input.shape == (in_features,)

    check_module_gradients(layer, x, rng)


@given(shape=st.lists(FEATURE_COUNTS, min_size=1, max_size=3).map(tuple), seed=SEEDS)
def test_sigmoid_gradient_any_shape(shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = 3.0 * rng.standard_normal(shape)

    check_module_gradients(Sigmoid(), x, rng)


def test_sigmoid_gradient_large_inputs() -> None:
    rng = np.random.default_rng(13)
    x = np.array([-30.0, -12.0, -5.0, 0.0, 5.0, 12.0, 30.0])
    upstream = rng.standard_normal(x.shape)
    layer = Sigmoid()

    layer(x)
    grad_input = layer.backward(upstream)

    # Finite differences lose all relative accuracy where the slope is below ~1e-10,
    # so the expected slope is the closed form exp(-|x|) / (1 + exp(-|x|))**2.
    exp_neg_abs = np.exp(-np.abs(x))
    expected = upstream * exp_neg_abs / (1.0 + exp_neg_abs) ** 2
    negative = x <= 0
    np.testing.assert_allclose(grad_input[negative], expected[negative], rtol=1e-12, atol=0)

    # For x > 0 the cached s rounds near 1, so 1 - s carries an absolute error of up to
    # one float64 epsilon (2.2e-16). torch.sigmoid's backward returns the same rounded
    # values, which test_torch_crosscheck.py checks at x = 12 and 30.
    positive = ~negative
    np.testing.assert_allclose(
        grad_input[positive],
        expected[positive],
        rtol=1e-12,
        atol=2.3e-16 * float(np.max(np.abs(upstream))),
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "half_sum"])
@given(shape=st.tuples(BATCH_SIZES, FEATURE_COUNTS), seed=SEEDS)
def test_mse_gradient_each_reduction(reduction: str, shape: tuple[int, int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    prediction = rng.standard_normal(shape)
    target = rng.standard_normal(shape)
    loss_function = MSELoss(reduction=reduction)  # type: ignore[arg-type]

    loss_function(prediction, target)
    analytic = loss_function.backward()

    def loss_value() -> float:
        return loss_function(prediction, target)

    numeric = central_difference(loss_value, prediction)
    assert_gradient_close(analytic, numeric, f"prediction ({reduction})")


@pytest.mark.parametrize("reduction", ["mean", "sum", "half_sum"])
def test_mse_gradient_closed_form(reduction: str) -> None:
    prediction = np.array([[0.5, -1.0], [2.0, 0.25]])
    target = np.array([[1.0, 1.0], [-1.0, 0.25]])
    difference = np.array([[-0.5, -2.0], [3.0, 0.0]])
    expected_loss = {"mean": 13.25 / 4, "sum": 13.25, "half_sum": 6.625}[reduction]
    expected_scale = {"mean": 0.5, "sum": 2.0, "half_sum": 1.0}[reduction]
    loss_function = MSELoss(reduction=reduction)  # type: ignore[arg-type]

    loss = loss_function(prediction, target)
    gradient = loss_function.backward()

    assert loss == expected_loss
    np.testing.assert_array_equal(gradient, expected_scale * difference)


@given(
    batch=BATCH_SIZES,
    in_features=FEATURE_COUNTS,
    hidden_features=FEATURE_COUNTS,
    out_features=FEATURE_COUNTS,
    bias=st.booleans(),
    seed=SEEDS,
)
def test_sequential_gradients_two_layers(
    batch: int, in_features: int, hidden_features: int, out_features: int, bias: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    network = Sequential(
        Linear(in_features, hidden_features, bias=bias, rng=rng),
        Sigmoid(),
        Linear(hidden_features, out_features, bias=bias, rng=rng),
        Sigmoid(),
    )
    x = rng.standard_normal((batch, in_features))

    check_module_gradients(network, x, rng)
    expected_names = ["0.weight", "2.weight"]
    if bias:
        expected_names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [name for name, _ in network.named_parameters()] == expected_names


def test_sequential_with_loss_gradients() -> None:
    rng = np.random.default_rng(14)
    network = Sequential(Linear(3, 4, rng=rng), Sigmoid(), Linear(4, 2, rng=rng), Sigmoid())
    loss_function = MSELoss()
    x = rng.standard_normal((5, 3))
    target = rng.standard_normal((5, 2))

    loss_function(network(x), target)
    grad_input = network.backward(loss_function.backward())

    def loss_value() -> float:
        return loss_function(network.forward(x), target)

    assert_gradient_close(grad_input, central_difference(loss_value, x), "input")
    for name, parameter in network.named_parameters():
        numeric = central_difference(loss_value, parameter.data)
        assert_gradient_close(parameter.grad, numeric, name)


def make_network(rng: np.random.Generator) -> Sequential:
    return Sequential(Linear(3, 4, rng=rng), Sigmoid(), Linear(4, 2, rng=rng), Sigmoid())


def run_forward_backward(network: Module, x: Array, upstream: Array) -> Array:
    network.forward(x)
    return network.backward(upstream)


def test_gradients_accumulate_over_two_passes() -> None:
    rng = np.random.default_rng(15)
    network = make_network(rng)
    x = rng.standard_normal((5, 3))
    upstream = rng.standard_normal((5, 2))

    first_input_grad = run_forward_backward(network, x, upstream)
    single = {name: parameter.grad.copy() for name, parameter in network.named_parameters()}
    second_input_grad = run_forward_backward(network, x, upstream)

    np.testing.assert_array_equal(second_input_grad, first_input_grad)
    for name, parameter in network.named_parameters():
        assert np.any(single[name] != 0), name
        np.testing.assert_array_equal(parameter.grad, 2 * single[name], err_msg=name)


def test_zero_grad_clears_accumulated() -> None:
    rng = np.random.default_rng(16)
    network = make_network(rng)
    x = rng.standard_normal((5, 3))
    upstream = rng.standard_normal((5, 2))
    run_forward_backward(network, x, upstream)
    single = {name: parameter.grad.copy() for name, parameter in network.named_parameters()}
    run_forward_backward(network, x, upstream)

    network.zero_grad()

    for name, parameter in network.named_parameters():
        np.testing.assert_array_equal(parameter.grad, np.zeros(parameter.shape), err_msg=name)

    run_forward_backward(network, x, upstream)
    for name, parameter in network.named_parameters():
        np.testing.assert_array_equal(parameter.grad, single[name], err_msg=name)


def test_sigmoid_backward_skips_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    original_exp = np.exp
    calls: list[int] = []

    def counting_exp(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original_exp(*args, **kwargs)

    monkeypatch.setattr(minigrad.activations.np, "exp", counting_exp)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((4, 3))
    upstream = rng.standard_normal((4, 3))
    layer = Sigmoid()

    output = layer(x)
    calls_after_forward = len(calls)
    grad_input = layer.backward(upstream)

    assert calls_after_forward >= 1
    assert len(calls) == calls_after_forward
    np.testing.assert_array_equal(grad_input, upstream * ((1.0 - output) * output))


def test_sigmoid_backward_ignores_input_changes() -> None:
    rng = np.random.default_rng(18)
    x = rng.standard_normal((4, 3))
    upstream = rng.standard_normal((4, 3))
    output = 1.0 / (1.0 + np.exp(-x))
    expected = upstream * output * (1.0 - output)
    layer = Sigmoid()

    layer(x)
    x[...] = 100.0
    grad_input = layer.backward(upstream)

    np.testing.assert_allclose(grad_input, expected, rtol=1e-14)


def test_linear_float32_input_float64_output() -> None:
    rng = np.random.default_rng(19)
    layer = Linear(3, 2, rng=rng)
    x = rng.standard_normal((4, 3)).astype(np.float32)

    output = layer(x)
    grad_input = layer.backward(np.ones((4, 2), dtype=np.float32))

    assert layer.bias is not None
    assert layer.weight.dtype == np.float64
    assert output.dtype == np.float64
    assert grad_input.dtype == np.float64
    assert layer.weight.grad.dtype == np.float64
    np.testing.assert_allclose(
        output, x.astype(np.float64) @ layer.weight.data.T + layer.bias.data, rtol=1e-15
    )


def test_sigmoid_keeps_float32() -> None:
    rng = np.random.default_rng(20)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    layer = Sigmoid()

    output = layer(x)
    grad_input = layer.backward(np.ones((4, 3), dtype=np.float32))

    assert output.dtype == np.float32
    assert grad_input.dtype == np.float32
    expected = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    np.testing.assert_allclose(output, expected, rtol=1e-6)

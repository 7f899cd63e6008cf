"""Known faults of small neural-network frameworks, each pinned to its correct values.

Weights below are written in the textbook (in_features, out_features) layout, as used in
``y = x @ w + b``, and are passed to minigrad as ``Linear.from_weights(w.T, b)``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from minigrad import SGD, Linear, MSELoss, Sequential, Sigmoid

SIGMOID_OF_MINUS_50 = 1.9287498479639178e-22
"""sigmoid(-50) = exp(-50) / (1 + exp(-50)) in float64. Computing it as 1 - sigmoid(50) gives 0."""


# Sigmoid at extreme inputs


def test_sigmoid_extreme_inputs_no_overflow() -> None:
    x = np.array([[-1000.0], [-50.0], [0.0], [50.0], [1000.0]])
    sigmoid = Sigmoid()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = sigmoid.forward(x)
        grad_input = sigmoid.backward(np.ones_like(x))

    np.testing.assert_allclose(
        output, [[0.0], [SIGMOID_OF_MINUS_50], [0.5], [1.0], [1.0]], rtol=1e-12, atol=0
    )
    np.testing.assert_allclose(
        grad_input, [[0.0], [SIGMOID_OF_MINUS_50], [0.25], [0.0], [0.0]], rtol=1e-12, atol=0
    )
    assert np.all(np.isfinite(output))
    assert np.all(np.isfinite(grad_input))
    assert np.all(output >= 0)
    assert np.all(grad_input >= 0)


def test_sigmoid_tiny_value_not_rounded() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        output = Sigmoid().forward(np.array([-50.0]))

    assert output[0] > 0
    np.testing.assert_allclose(output[0], SIGMOID_OF_MINUS_50, rtol=1e-12, atol=0)


# A 1-D target against a column of predictions


XOR_PREDICTION = np.array([[0.9], [0.2], [0.8], [0.1]])


def test_mse_1d_target_raises_not_broadcasts() -> None:
    loss = MSELoss()
    target = np.array([1.0, 0.0, 1.0, 0.0])

    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        loss.forward(XOR_PREDICTION, target)

    # The failed forward stores nothing, so the broadcast value 0.375 cannot reach backward.
    with pytest.raises(RuntimeError, match="without a preceding forward"):
        loss.backward()


@pytest.mark.parametrize("target_shape", [(1, 4), (4, 2)])
def test_mse_mismatched_target_raises(target_shape: tuple[int, int]) -> None:
    target = np.zeros(target_shape)
    shape_pattern = re.escape(str(target_shape))

    with pytest.raises(ValueError, match=r"\(4, 1\).*" + shape_pattern):
        MSELoss().forward(XOR_PREDICTION, target)


def test_mse_column_target_value_and_gradient() -> None:
    loss = MSELoss()
    target = np.array([[1.0], [0.0], [1.0], [0.0]])

    value = loss.forward(XOR_PREDICTION, target)
    gradient = loss.backward()

    np.testing.assert_allclose(value, 0.025, rtol=1e-12)
    assert gradient.shape == (4, 1)
    np.testing.assert_allclose(gradient, [[-0.05], [0.1], [-0.1], [0.05]], rtol=1e-12)


# Bias gradient reduced over the batch axis


def test_linear_bias_gradient_sums_batch() -> None:
    weight = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])  # (in_features, out_features)
    bias = np.array([0.5, -0.5])
    layer = Linear.from_weights(weight.T, bias)
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    grad_output = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])

    output = layer.forward(x)
    grad_input = layer.backward(grad_output)

    assert layer.bias is not None
    np.testing.assert_allclose(
        output, [[1.5, 1.5], [3.5, 3.5], [5.5, 5.5], [9.5, 11.5]], rtol=1e-15, atol=0
    )
    assert layer.bias.grad.shape == bias.shape
    np.testing.assert_allclose(layer.bias.grad, [16.0, 20.0], rtol=1e-15, atol=0)
    # minigrad stores dW as (out_features, in_features), the transpose of the textbook dW.
    np.testing.assert_allclose(
        layer.weight.grad.T, [[8.0, 10.0], [10.0, 12.0], [12.0, 14.0]], rtol=1e-15, atol=0
    )
    np.testing.assert_allclose(
        grad_input,
        [[5.0, 11.0, 17.0], [11.0, 25.0, 39.0], [17.0, 39.0, 61.0], [23.0, 53.0, 83.0]],
        rtol=1e-15,
        atol=0,
    )


# Gradients cleared between steps, and one backward per forward


def test_sgd_two_steps_clear_gradients() -> None:
    layer = Linear.from_weights([[2.0]], [0.0])
    assert layer.bias is not None
    loss = MSELoss()
    optimizer = SGD(layer.parameters(), lr=0.01)
    x = np.array([[3.0]])
    y = np.array([[0.0]])
    expected_steps = [
        # (weight.grad, bias.grad, weight after the step, bias after the step)
        (36.0, 12.0, 1.64, -0.12),
        (28.8, 9.6, 1.352, -0.216),
    ]

    for grad_weight, grad_bias, weight, bias in expected_steps:
        optimizer.zero_grad()
        loss.forward(layer.forward(x), y)
        layer.backward(loss.backward())
        np.testing.assert_allclose(layer.weight.grad, [[grad_weight]], rtol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, [grad_bias], rtol=1e-12)
        optimizer.step()
        np.testing.assert_allclose(layer.weight.data, [[weight]], rtol=1e-12)
        np.testing.assert_allclose(layer.bias.data, [bias], rtol=1e-12)


def test_second_backward_without_forward_raises() -> None:
    layer = Linear.from_weights([[2.0]], [0.0])
    assert layer.bias is not None
    loss = MSELoss()
    loss.forward(layer.forward(np.array([[3.0]])), np.array([[0.0]]))
    grad_output = loss.backward()
    layer.backward(grad_output)

    with pytest.raises(RuntimeError, match=r"MSELoss.*without a preceding forward"):
        loss.backward()
    with pytest.raises(RuntimeError, match=r"Linear.*without a preceding forward"):
        layer.backward(grad_output)

    # The failed calls add nothing, so the gradients are still those of the single backward.
    np.testing.assert_array_equal(layer.weight.grad, [[36.0]])
    np.testing.assert_array_equal(layer.bias.grad, [12.0])


# Integer input and integer initial weights


XOR_INPUTS = [[0, 0], [0, 1], [1, 0], [1, 1]]


def build_xor_network() -> Sequential:
    hidden_weight = np.array([[0.5, -0.5], [0.25, 0.75]])  # (in_features, out_features)
    output_weight = np.array([[1.0], [-1.0]])
    return Sequential(
        Linear.from_weights(hidden_weight.T, [0.1, -0.1]),
        Sigmoid(),
        Linear.from_weights(output_weight.T, [0.0]),
        Sigmoid(),
    )


def test_int64_input_matches_float_input() -> None:
    int_output = build_xor_network().forward(np.array(XOR_INPUTS, dtype=np.int64))
    float_output = build_xor_network().forward(np.array(XOR_INPUTS, dtype=np.float64))

    assert int_output.dtype == np.float64
    np.testing.assert_array_equal(int_output, float_output)
    np.testing.assert_allclose(
        int_output.ravel(),
        [0.5124869967194757, 0.4824090422924948, 0.5723174517806497, 0.5406941122847645],
        rtol=1e-12,
    )


def test_integer_weights_train_in_float() -> None:
    weight = np.array([[1], [2]])  # int64, (in_features, out_features)
    layer = Linear.from_weights(weight.T, np.array([0]))
    assert layer.bias is not None
    loss = MSELoss()
    optimizer = SGD(layer.parameters(), lr=0.1)

    assert layer.weight.dtype == np.float64
    assert layer.bias.dtype == np.float64
    optimizer.zero_grad()
    loss.forward(layer.forward(np.array([[1.0, 1.0]])), np.array([[0.0]]))
    layer.backward(loss.backward())
    optimizer.step()

    np.testing.assert_allclose(layer.weight.data.T, [[0.4], [1.4]], rtol=1e-12)
    np.testing.assert_allclose(layer.bias.data, [-0.6], rtol=1e-12)
    # The caller's integer array is untouched.
    np.testing.assert_array_equal(weight, [[1], [2]])


def test_uint8_input_does_not_wrap() -> None:
    layer = Linear.from_weights(np.ones((1, 2)))

    output = layer.forward(np.array([[200, 100]], dtype=np.uint8))

    assert output.dtype == np.float64
    np.testing.assert_array_equal(output, [[300.0]])


@pytest.mark.parametrize(
    ("x", "dtype_text"),
    [
        (np.array([["0", "1"]]), "<U1"),
        (np.array([[0.0, 1.0]], dtype=object), "object"),
    ],
)
def test_string_object_input_raises(x: np.ndarray, dtype_text: str) -> None:
    with pytest.raises(TypeError, match=r"Linear\(.*x must contain real numbers.*" + dtype_text):
        Linear.from_weights(np.ones((1, 2))).forward(x)
    with pytest.raises(TypeError, match=r"Sigmoid\(\).*x must contain real numbers.*" + dtype_text):
        Sigmoid().forward(x)


# Empty batch


def test_empty_batch_forward_shape() -> None:
    layer = Linear(3, 1, rng=0)

    output = layer.forward(np.zeros((0, 3)))

    assert output.shape == (0, 1)
    assert output.dtype == np.float64


def test_empty_batch_loss_raises_unchanged() -> None:
    layer = Linear(3, 1, rng=0)
    assert layer.bias is not None
    optimizer = SGD(layer.parameters(), lr=0.1)
    loss = MSELoss()
    weight_before = layer.weight.data.copy()
    bias_before = layer.bias.data.copy()
    optimizer.zero_grad()

    prediction = layer.forward(np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"batch is empty.*\(0, 1\)"):
        loss.forward(prediction, np.zeros((0, 1)))
    with pytest.raises(RuntimeError, match="without a preceding forward"):
        loss.backward()
    optimizer.step()

    np.testing.assert_array_equal(layer.weight.data, weight_before)
    np.testing.assert_array_equal(layer.bias.data, bias_before)
    np.testing.assert_array_equal(layer.weight.grad, np.zeros((1, 3)))
    np.testing.assert_array_equal(layer.bias.grad, np.zeros(1))
    assert not np.isnan(prediction).any()
    assert not np.isnan(layer.weight.data).any()
    assert not np.isnan(layer.bias.data).any()


def test_empty_batch_backward_zero_gradient() -> None:
    layer = Linear(3, 1, rng=0)
    assert layer.bias is not None
    layer.forward(np.zeros((0, 3)))

    grad_input = layer.backward(np.zeros((0, 1)))

    assert grad_input.shape == (0, 3)
    np.testing.assert_array_equal(layer.weight.grad, np.zeros((1, 3)))
    np.testing.assert_array_equal(layer.bias.grad, np.zeros(1))


# Stale cache and backward before forward


def test_linear_backward_uses_forward_input() -> None:
    layer = Linear.from_weights([[2.0]], [0.0])
    assert layer.bias is not None
    x = np.array([[3.0]])

    layer.forward(x)
    x[0, 0] = 5.0
    grad_input = layer.backward(np.array([[1.0]]))

    np.testing.assert_array_equal(layer.weight.grad, [[3.0]])
    np.testing.assert_array_equal(layer.bias.grad, [1.0])
    np.testing.assert_array_equal(grad_input, [[2.0]])


def test_linear_backward_before_forward_raises() -> None:
    layer = Linear(2, 1, rng=0)

    with pytest.raises(RuntimeError, match=r"Linear\(.*without a preceding forward.*forward\(x\)"):
        layer.backward(np.ones((1, 1)))

    np.testing.assert_array_equal(layer.weight.grad, np.zeros((1, 2)))


def test_linear_grad_output_shape_mismatch() -> None:
    layer = Linear.from_weights([[2.0]], [0.0])
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    layer.forward(x)

    with pytest.raises(ValueError, match=r"shape \(2, 1\).*shape \(4, 1\)"):
        layer.backward(np.ones((2, 1)))

    np.testing.assert_array_equal(layer.weight.grad, [[0.0]])
    grad_input = layer.backward(np.ones((4, 1)))
    np.testing.assert_array_equal(grad_input, np.full((4, 1), 2.0))
    np.testing.assert_array_equal(layer.weight.grad, [[10.0]])

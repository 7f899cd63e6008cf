"""Layers, loss and SGD compared with PyTorch in float64, value by value."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from minigrad import SGD, Array, Linear, MSELoss, Parameter, Sequential, Sigmoid

torch = pytest.importorskip("torch")

RTOL = 1e-12
ATOL = 1e-14


def as_numpy(tensor: Any) -> Array:
    return np.asarray(tensor.detach().numpy())


def assert_matches(actual: Array, expected: Any, name: str) -> None:
    """Assert that a minigrad array equals a torch tensor to ~1e-12 relative."""
    expected_array = as_numpy(expected)
    assert actual.shape == expected_array.shape, name
    np.testing.assert_allclose(actual, expected_array, rtol=RTOL, atol=ATOL, err_msg=name)


def torch_linear_like(layer: Linear) -> Any:
    """Build a ``torch.nn.Linear`` with copies of ``layer``'s weight and bias."""
    module = torch.nn.Linear(
        layer.in_features, layer.out_features, bias=layer.bias is not None, dtype=torch.float64
    )
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(layer.weight.data.copy()))
        if layer.bias is not None:
            module.bias.copy_(torch.from_numpy(layer.bias.data.copy()))
    return module


def leaf_tensor(array: Array) -> Any:
    return torch.tensor(array, dtype=torch.float64, requires_grad=True)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (1, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(shape: tuple[int, ...], bias: bool) -> None:
    rng = np.random.default_rng(1)
    layer = Linear(3, 4, bias=bias, rng=rng)
    reference = torch_linear_like(layer)
    x = rng.standard_normal(shape)
    upstream = rng.standard_normal((*shape[:-1], 4))

    output = layer(x)
    grad_input = layer.backward(upstream)
    x_tensor = leaf_tensor(x)
    output_tensor = reference(x_tensor)
    output_tensor.backward(torch.from_numpy(upstream))

    assert_matches(output, output_tensor, "output")
    assert_matches(grad_input, x_tensor.grad, "input gradient")
    assert_matches(layer.weight.grad, reference.weight.grad, "weight gradient")
    if bias:
        assert layer.bias is not None
        assert_matches(layer.bias.grad, reference.bias.grad, "bias gradient")


def test_sigmoid_matches_torch() -> None:
    rng = np.random.default_rng(2)
    x = 4.0 * rng.standard_normal((6, 5))
    upstream = rng.standard_normal((6, 5))
    layer = Sigmoid()

    output = layer(x)
    grad_input = layer.backward(upstream)
    x_tensor = leaf_tensor(x)
    output_tensor = torch.sigmoid(x_tensor)
    output_tensor.backward(torch.from_numpy(upstream))

    assert_matches(output, output_tensor, "output")
    assert_matches(grad_input, x_tensor.grad, "input gradient")


def test_sigmoid_extreme_inputs_match_torch() -> None:
    x = np.array([-1000.0, -50.0, -20.0, 0.0, 20.0, 50.0, 1000.0])
    layer = Sigmoid()

    output = layer(x)
    expected = torch.sigmoid(torch.from_numpy(x))

    # Relative tolerance only, so sigmoid(-50) = 1.93e-22 must keep its digits.
    np.testing.assert_allclose(output, as_numpy(expected), rtol=RTOL, atol=0)
    assert output[0] == 0.0
    assert output[-1] == 1.0
    assert output[1] == pytest.approx(math.exp(-50.0) / (1.0 + math.exp(-50.0)), rel=1e-12)


def test_sigmoid_extreme_gradients_match_torch() -> None:
    x = np.array([-1000.0, -50.0, -30.0, 0.0, 12.0, 30.0, 50.0, 1000.0])
    upstream = np.array([1.0, -2.0, 0.75, 3.0, -1.25, 2.5, 0.5, -1.5])
    layer = Sigmoid()

    layer(x)
    grad_input = layer.backward(upstream)
    x_tensor = leaf_tensor(x)
    torch.sigmoid(x_tensor).backward(torch.from_numpy(upstream))

    np.testing.assert_allclose(grad_input, as_numpy(x_tensor.grad), rtol=RTOL, atol=0)
    assert np.all(np.isfinite(grad_input))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(4, 1), (3, 5), (7,)])
def test_mse_matches_torch(reduction: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(3)
    prediction = rng.standard_normal(shape)
    target = rng.standard_normal(shape)
    loss_function = MSELoss(reduction=reduction)  # type: ignore[arg-type]

    loss = loss_function(prediction, target)
    gradient = loss_function.backward()
    prediction_tensor = leaf_tensor(prediction)
    loss_tensor = torch.nn.MSELoss(reduction=reduction)(prediction_tensor, torch.from_numpy(target))
    loss_tensor.backward()

    assert isinstance(loss, float)
    assert loss == pytest.approx(loss_tensor.item(), rel=RTOL)
    assert_matches(gradient, prediction_tensor.grad, "prediction gradient")


def test_mse_half_sum_matches_torch() -> None:
    rng = np.random.default_rng(4)
    prediction = rng.standard_normal((4, 3))
    target = rng.standard_normal((4, 3))
    loss_function = MSELoss(reduction="half_sum")

    loss = loss_function(prediction, target)
    gradient = loss_function.backward()
    prediction_tensor = leaf_tensor(prediction)
    loss_tensor = 0.5 * torch.nn.MSELoss(reduction="sum")(
        prediction_tensor, torch.from_numpy(target)
    )
    loss_tensor.backward()

    assert loss == pytest.approx(loss_tensor.item(), rel=RTOL)
    assert_matches(gradient, prediction_tensor.grad, "prediction gradient")


@pytest.mark.parametrize("lr", [0.0, 0.1, 1.0, 3])
def test_sgd_steps_match_torch(lr: float) -> None:
    rng = np.random.default_rng(5)
    initial = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    parameters = [Parameter(values) for values in initial]
    tensors = [torch.tensor(values, dtype=torch.float64, requires_grad=True) for values in initial]
    optimizer = SGD(parameters, lr=lr)
    reference = torch.optim.SGD(tensors, lr=lr)

    for step in range(4):
        for parameter, tensor in zip(parameters, tensors, strict=True):
            gradient = rng.standard_normal(parameter.shape)
            parameter.grad[...] = gradient
            tensor.grad = torch.from_numpy(gradient.copy())
        optimizer.step()
        reference.step()

        for index, (parameter, tensor) in enumerate(zip(parameters, tensors, strict=True)):
            assert_matches(parameter.data, tensor, f"parameter {index} after step {step}")


def test_sequential_training_matches_torch() -> None:
    rng = np.random.default_rng(6)
    network = Sequential(Linear(3, 5, rng=rng), Sigmoid(), Linear(5, 2, rng=rng), Sigmoid())
    first_linear = network[0]
    second_linear = network[2]
    assert isinstance(first_linear, Linear)
    assert isinstance(second_linear, Linear)
    reference = torch.nn.Sequential(
        torch_linear_like(first_linear),
        torch.nn.Sigmoid(),
        torch_linear_like(second_linear),
        torch.nn.Sigmoid(),
    )
    loss_function = MSELoss()
    reference_loss_function = torch.nn.MSELoss()
    optimizer = SGD(network.parameters(), lr=0.5)
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.5)
    reference_parameters = dict(reference.named_parameters())
    assert list(reference_parameters) == [name for name, _ in network.named_parameters()]

    for step in range(5):
        x = rng.standard_normal((6, 3))
        target = rng.random((6, 2))

        optimizer.zero_grad()
        output = network(x)
        loss = loss_function(output, target)
        grad_input = network.backward(loss_function.backward())

        reference_optimizer.zero_grad()
        x_tensor = leaf_tensor(x)
        output_tensor = reference(x_tensor)
        loss_tensor = reference_loss_function(output_tensor, torch.from_numpy(target))
        loss_tensor.backward()

        assert_matches(output, output_tensor, f"output at step {step}")
        assert loss == pytest.approx(loss_tensor.item(), rel=RTOL)
        assert_matches(grad_input, x_tensor.grad, f"input gradient at step {step}")
        for name, parameter in network.named_parameters():
            tensor = reference_parameters[name]
            assert_matches(parameter.grad, tensor.grad, f"{name} gradient at step {step}")

        optimizer.step()
        reference_optimizer.step()
        for name, parameter in network.named_parameters():
            tensor = reference_parameters[name]
            assert_matches(parameter.data, tensor, f"{name} after step {step}")

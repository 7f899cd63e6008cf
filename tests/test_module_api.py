"""Module API: parameter discovery, zero_grad, Sequential, repr, initialization and dtypes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minigrad import SGD, Array, Linear, Module, MSELoss, Parameter, Sequential, Sigmoid


class Scale(Module):
    """Element-wise ``y = x * s`` with a parameter ``s`` and a child Linear layer after it.

    Its ``__init__`` does not call ``Module.__init__``, because Module needs no setup.
    """

    def __init__(self, features: int) -> None:
        self.scale = Parameter(np.full(features, 2.0))
        self.child = Linear(features, 2, rng=0)

    def forward(self, x: Array) -> Array:
        self._input = np.asarray(x, dtype=np.float64)
        return self.child.forward(self._input * self.scale.data)

    def backward(self, grad_output: Array) -> Array:
        grad_scaled = self.child.backward(grad_output)
        self.scale.grad += np.sum(grad_scaled * self._input, axis=0)
        return grad_scaled * self.scale.data


class Outer(Module):
    """A module whose child is assigned before its own parameter."""

    def __init__(self) -> None:
        self.inner = Scale(3)
        self.offset = Parameter(np.zeros(2))


class Tied(Module):
    """A module that keeps one Linear layer under two attribute names."""

    def __init__(self) -> None:
        self.encoder = Linear(3, 3, rng=0)
        self.decoder = self.encoder


class Unfinished(Module):
    """A subclass that implements neither forward nor backward."""


def make_network(bias: bool) -> Sequential:
    return Sequential(
        Linear(3, 4, bias=bias, rng=0), Sigmoid(), Linear(4, 1, bias=bias, rng=1), Sigmoid()
    )


def fill_gradients(network: Module, rng: np.random.Generator) -> None:
    output = network.forward(rng.standard_normal((5, 3)))
    network.backward(rng.standard_normal(output.shape))


# Parameter discovery


def test_named_parameters_without_bias() -> None:
    network = make_network(bias=False)

    names = [name for name, _ in network.named_parameters()]

    assert names == ["0.weight", "2.weight"]


def test_named_parameters_with_bias() -> None:
    network = make_network(bias=True)

    names = [name for name, _ in network.named_parameters()]

    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_named_parameters_are_layer_objects() -> None:
    network = make_network(bias=True)
    first, last = network[0], network[2]
    assert isinstance(first, Linear)
    assert isinstance(last, Linear)

    named = dict(network.named_parameters())

    assert named["0.weight"] is first.weight
    assert named["0.bias"] is first.bias
    assert named["2.weight"] is last.weight
    assert named["2.bias"] is last.bias


def test_parameters_match_named_parameters() -> None:
    network = make_network(bias=True)

    from_parameters = list(network.parameters())
    from_named = [parameter for _, parameter in network.named_parameters()]

    assert len(from_parameters) == 4
    assert all(a is b for a, b in zip(from_parameters, from_named, strict=True))


def test_named_parameters_prefix() -> None:
    network = make_network(bias=False)

    names = [name for name, _ in network.named_parameters(prefix="model.")]

    assert names == ["model.0.weight", "model.2.weight"]


def test_shared_layer_yielded_once() -> None:
    module = Tied()

    named = list(module.named_parameters())

    assert [name for name, _ in named] == ["encoder.weight", "encoder.bias"]
    assert named[0][1] is module.encoder.weight
    assert len(list(module.parameters())) == 2


def test_shared_parameter_yielded_once() -> None:
    first = Linear(3, 3, rng=0)
    second = Linear(3, 3, rng=1)
    second.weight = first.weight
    network = Sequential(first, second)

    names = [name for name, _ in network.named_parameters()]

    assert names == ["0.weight", "0.bias", "1.bias"]
    assert len(SGD(network.parameters(), lr=0.1).params) == 3


def test_subclass_parameter_names() -> None:
    module = Scale(3)

    names = [name for name, _ in module.named_parameters()]

    assert names == ["scale", "child.weight", "child.bias"]
    assert [name for name, _ in module.named_children()] == ["child"]


def test_nested_subclass_parameter_names() -> None:
    module = Outer()

    names = [name for name, _ in module.named_parameters()]

    # Own parameters come before those of children, as in PyTorch's named_parameters.
    assert names == ["offset", "inner.scale", "inner.child.weight", "inner.child.bias"]


def test_sequential_of_subclass_names() -> None:
    network = Sequential(Scale(3), Sigmoid())

    names = [name for name, _ in network.named_parameters()]

    assert names == ["0.scale", "0.child.weight", "0.child.bias"]


# zero_grad


def test_module_zero_grad_clears_all() -> None:
    network = Sequential(Scale(3), Sigmoid(), Linear(2, 2, rng=3))
    fill_gradients(network, np.random.default_rng(4))
    grads = {name: parameter.grad for name, parameter in network.named_parameters()}
    assert all(np.any(grad != 0) for grad in grads.values())

    network.zero_grad()

    for name, parameter in network.named_parameters():
        assert parameter.grad is grads[name], name
        np.testing.assert_array_equal(parameter.grad, np.zeros(parameter.shape), err_msg=name)


def test_optimizer_zero_grad_clears_all() -> None:
    network = make_network(bias=True)
    optimizer = SGD(network.parameters(), lr=0.1)
    fill_gradients(network, np.random.default_rng(5))
    grads = {name: parameter.grad for name, parameter in network.named_parameters()}
    assert all(np.any(grad != 0) for grad in grads.values())

    optimizer.zero_grad()

    for name, parameter in network.named_parameters():
        assert parameter.grad is grads[name], name
        np.testing.assert_array_equal(parameter.grad, np.zeros(parameter.shape), err_msg=name)


def test_parameter_zero_grad_keeps_dtype() -> None:
    parameter = Parameter(np.ones((2, 3)), dtype=np.float32)
    parameter.grad[...] = 5.0

    parameter.zero_grad()

    assert parameter.grad.dtype == np.float32
    np.testing.assert_array_equal(parameter.grad, np.zeros((2, 3)))


# Sequential


def test_sequential_integer_index() -> None:
    layers = [Linear(3, 4, rng=0), Sigmoid(), Linear(4, 1, rng=1)]
    network = Sequential(*layers)

    assert network[0] is layers[0]
    assert network[1] is layers[1]
    assert network[-1] is layers[2]
    assert network[-3] is layers[0]
    with pytest.raises(IndexError):
        network[3]


def test_sequential_slice_shares_layers() -> None:
    layers = [Linear(3, 4, rng=0), Sigmoid(), Linear(4, 1, rng=1), Sigmoid()]
    network = Sequential(*layers)

    head = network[:2]
    tail = network[2:]

    assert isinstance(head, Sequential)
    assert isinstance(tail, Sequential)
    assert list(head) == layers[:2]
    assert all(a is b for a, b in zip(head, layers[:2], strict=True))
    assert all(a is b for a, b in zip(tail, layers[2:], strict=True))
    assert next(head.parameters()) is next(network.parameters())
    assert [name for name, _ in tail.named_parameters()] == ["0.weight", "0.bias"]


def test_sequential_slices_compose() -> None:
    rng = np.random.default_rng(6)
    network = Sequential(Linear(3, 4, rng=0), Sigmoid(), Linear(4, 1, rng=1), Sigmoid())
    x = rng.standard_normal((5, 3))

    full = network(x)
    composed = network[2:](network[:2](x))

    np.testing.assert_array_equal(composed, full)


def test_sequential_len_and_iteration() -> None:
    layers = [Linear(3, 4, rng=0), Sigmoid(), Linear(4, 1, rng=1)]
    network = Sequential(*layers)

    assert len(network) == 3
    assert all(a is b for a, b in zip(network, layers, strict=True))
    assert len(list(network)) == 3


def test_sequential_append_adds_layer() -> None:
    first = Linear(3, 4, rng=0)
    second = Sigmoid()
    network = Sequential(first)

    returned = network.append(second)

    assert returned is network
    assert len(network) == 2
    assert network[1] is second
    assert [name for name, _ in network.named_parameters()] == ["0.weight", "0.bias"]


def test_sequential_append_rejects_non_module() -> None:
    network = Sequential(Linear(3, 4, rng=0))

    with pytest.raises(TypeError, match="layer 1 must be a Module, got type"):
        network.append(Linear)  # type: ignore[arg-type]
    assert len(network) == 1


def test_empty_sequential_passes_through() -> None:
    network = Sequential()
    x = np.array([[1.0, -2.0, 3.0]])
    grad = np.array([[0.5, 0.25, -1.0]])

    output = network(x)
    grad_input = network.backward(grad)

    assert len(network) == 0
    assert list(network.parameters()) == []
    np.testing.assert_array_equal(output, np.array([[1.0, -2.0, 3.0]]))
    np.testing.assert_array_equal(grad_input, np.array([[0.5, 0.25, -1.0]]))


# repr


def test_linear_repr() -> None:
    assert repr(Linear(3, 4, bias=False)) == "Linear(in_features=3, out_features=4, bias=False)"
    assert repr(Linear(2, 1)) == "Linear(in_features=2, out_features=1, bias=True)"


def test_sigmoid_and_loss_repr() -> None:
    assert repr(Sigmoid()) == "Sigmoid()"
    assert repr(MSELoss()) == "MSELoss(reduction='mean')"
    assert repr(MSELoss(reduction="half_sum")) == "MSELoss(reduction='half_sum')"


def test_sequential_repr_multiline() -> None:
    network = Sequential(Linear(3, 4, rng=0), Sigmoid(), Sequential(Linear(4, 1, bias=False)))

    expected = (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): Sigmoid()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=1, bias=False)\n"
        "  )\n"
        ")"
    )
    assert repr(network) == expected
    assert repr(Sequential()) == "Sequential()"


def test_parameter_and_sgd_repr() -> None:
    parameter = Parameter(np.zeros((3, 4)))

    assert repr(parameter) == "Parameter(shape=(3, 4), dtype=float64)"
    assert repr(Parameter([1, 2], dtype=np.float32)) == "Parameter(shape=(2,), dtype=float32)"
    assert repr(SGD([parameter], lr=0.1)) == (
        "SGD(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)"
    )
    assert repr(SGD([parameter], lr=1, momentum=0.9, nesterov=True)) == (
        "SGD(lr=1.0, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True)"
    )


# Linear initialization


def test_linear_init_within_bound() -> None:
    layer = Linear(9, 200, rng=0)
    bound = 1.0 / math.sqrt(9)
    assert layer.bias is not None

    for name, values in [("weight", layer.weight.data), ("bias", layer.bias.data)]:
        assert np.all(np.abs(values) <= bound), name
        assert values.min() < -0.8 * bound, name
        assert values.max() > 0.8 * bound, name
        assert len(np.unique(values)) == values.size, name


def test_linear_init_reproducible_seed() -> None:
    first = Linear(4, 3, rng=7)
    second = Linear(4, 3, rng=7)
    assert first.bias is not None
    assert second.bias is not None

    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    np.testing.assert_array_equal(first.bias.data, second.bias.data)


def test_linear_init_reproducible_generator() -> None:
    first = Linear(4, 3, rng=np.random.default_rng(7))
    second = Linear(4, 3, rng=np.random.default_rng(7))
    from_seed = Linear(4, 3, rng=7)

    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    np.testing.assert_array_equal(first.weight.data, from_seed.weight.data)


def test_linear_init_differs_across_seeds() -> None:
    assert not np.array_equal(Linear(4, 3, rng=7).weight.data, Linear(4, 3, rng=8).weight.data)
    assert not np.array_equal(Linear(4, 3).weight.data, Linear(4, 3).weight.data)


def test_linear_init_advances_generator() -> None:
    generator = np.random.default_rng(7)

    first = Linear(4, 3, rng=generator)
    second = Linear(4, 3, rng=generator)

    assert not np.array_equal(first.weight.data, second.weight.data)


# dtypes and copies


def test_linear_float32_throughout() -> None:
    rng = np.random.default_rng(8)
    layer = Linear(3, 2, dtype=np.float32, rng=0)
    assert layer.bias is not None

    for x in [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3))]:
        layer.zero_grad()
        output = layer(x)
        grad_input = layer.backward(np.ones((4, 2)))

        assert layer.weight.dtype == np.float32
        assert layer.bias.dtype == np.float32
        assert output.dtype == np.float32
        assert grad_input.dtype == np.float32
        assert layer.weight.grad.dtype == np.float32
        assert layer.bias.grad.dtype == np.float32
        np.testing.assert_array_equal(layer.bias.grad, np.full(2, 4.0, dtype=np.float32))


def test_parameter_copies_input() -> None:
    values = np.array([1.0, 2.0, 3.0])

    parameter = Parameter(values)
    values[0] = 100.0

    assert parameter.data is not values
    np.testing.assert_array_equal(parameter.data, np.array([1.0, 2.0, 3.0]))


def test_parameter_copies_same_dtype() -> None:
    values = np.array([1.0, 2.0], dtype=np.float32)

    parameter = Parameter(values, dtype=np.float32)
    parameter.data[1] = 50.0

    np.testing.assert_array_equal(values, np.array([1.0, 2.0], dtype=np.float32))


def test_from_weights_copies_input() -> None:
    weight = np.array([[1.0, 2.0]])
    bias = np.array([0.5])

    layer = Linear.from_weights(weight, bias)
    weight[0, 0] = 100.0
    bias[0] = 100.0

    assert layer.bias is not None
    np.testing.assert_array_equal(layer.weight.data, np.array([[1.0, 2.0]]))
    np.testing.assert_array_equal(layer.bias.data, np.array([0.5]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_step_keeps_arrays(dtype: type) -> None:
    parameters = [
        Parameter(np.arange(6.0).reshape(2, 3), dtype=dtype),
        Parameter(np.array([1.0, -1.0]), dtype=dtype),
    ]
    arrays = [parameter.data for parameter in parameters]
    grad_arrays = [parameter.grad for parameter in parameters]
    expected = [parameter.data - 0.5 * 2.0 for parameter in parameters]
    for parameter in parameters:
        parameter.grad[...] = 2.0

    SGD(parameters, lr=0.5).step()

    for index, parameter in enumerate(parameters):
        assert parameter.data is arrays[index]
        assert parameter.grad is grad_arrays[index]
        assert parameter.dtype == dtype
        assert parameter.data.shape == expected[index].shape
        np.testing.assert_array_equal(parameter.data, expected[index])


# Module base class


def test_base_forward_names_subclass() -> None:
    module = Unfinished()

    with pytest.raises(NotImplementedError, match=r"^Unfinished does not implement forward\(x\)"):
        module.forward(np.zeros(3))
    with pytest.raises(NotImplementedError, match=r"^Unfinished does not implement forward\(x\)"):
        module(np.zeros(3))


def test_base_backward_names_subclass() -> None:
    module = Unfinished()

    with pytest.raises(
        NotImplementedError, match=r"^Unfinished does not implement backward\(grad_output\)"
    ):
        module.backward(np.zeros(3))


def test_base_module_empty_parameters() -> None:
    module = Unfinished()

    assert list(module.named_parameters()) == []
    assert repr(module) == "Unfinished()"
    module.zero_grad()

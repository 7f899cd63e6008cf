"""Tests of the non-finite trap in minigrad.finite."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad import Linear, MSELoss, Sequential, Sigmoid, finite
from minigrad._array import Array


def snapshot(module: minigrad.Module) -> dict[str, bytes]:
    return {name: parameter.data.tobytes() for name, parameter in module.named_parameters()}


class InfiniteGradient(minigrad.Module):
    """Identity layer whose backward writes inf into its own parameter's gradient."""

    def __init__(self) -> None:
        self.scale = minigrad.Parameter(np.ones(1))

    def forward(self, x: Array) -> Array:
        return np.asarray(x)

    def backward(self, grad_output: Array) -> Array:
        self.scale.grad[0] = np.inf
        return np.asarray(grad_output)


class Doubling(minigrad.Module):
    """Parameter-free layer that is not a Sequential: y = 2 * x."""

    def forward(self, x: Array) -> Array:
        return 2 * np.asarray(x)

    def backward(self, grad_output: Array) -> Array:
        return 2 * np.asarray(grad_output)


def test_check_passes_finite() -> None:
    finite.check(np.array([1.0, -2.0]), name="x")
    finite.check(np.array([1, 2], dtype=np.int64), name="x")
    finite.check(3.5, name="the loss")


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_check_names_step(bad_value: float) -> None:
    with pytest.raises(FloatingPointError, match=r"^step 4: the loss contains 1 NaN or inf"):
        finite.check(np.array([0.0, bad_value]), name="the loss", step=4)


def test_forward_matches_plain_forward() -> None:
    model = Sequential(Linear(3, 4, rng=0), Sigmoid(), Linear(4, 2, rng=1))
    x = np.random.default_rng(2).normal(size=(5, 3))

    np.testing.assert_array_equal(finite.forward(model, x, step=0), model.forward(x))


def test_forward_names_overflowing_layer() -> None:
    model = Sequential(
        Linear.from_weights([[1.0]]), Sigmoid(), Linear.from_weights([[1e308]], [1e308])
    )
    before = snapshot(model)

    with pytest.raises(
        FloatingPointError,
        match=r"^step 7: the output of layer 2 \(Linear\(in_features=1, out_features=1, "
        r"bias=True\)\) failed with numpy's floating-point error 'overflow",
    ):
        finite.forward(model, np.array([[3.0]]), step=7)

    assert snapshot(model) == before


def test_forward_names_nested_layer() -> None:
    inner = Sequential(Linear.from_weights([[1e200]]), Sigmoid())
    model = Sequential(Linear.from_weights([[1e200]]), inner)

    with pytest.raises(FloatingPointError, match=r"the output of layer 1\.0 \(Linear"):
        finite.forward(model, np.array([[1.0]]))


def test_forward_names_plain_module() -> None:
    with pytest.raises(FloatingPointError, match=r"^the output of the model Doubling\(\) "):
        finite.forward(Doubling(), np.array([1e308]))


def test_forward_rejects_non_finite_input() -> None:
    model = Sequential(Linear(2, 1, rng=0))

    with pytest.raises(FloatingPointError, match=r"^step 1: the input x contains 2 NaN or inf"):
        finite.forward(model, np.array([[np.nan, np.inf]]), step=1)


class ReturnsNaN(minigrad.Module):
    """Layer whose output is NaN without any floating-point error, like a bad custom layer."""

    def forward(self, x: Array) -> Array:
        return np.full(np.shape(x), np.nan)


def test_forward_catches_silent_nan() -> None:
    model = Sequential(Linear(2, 2, rng=0), ReturnsNaN(), Sigmoid())

    with pytest.raises(
        FloatingPointError,
        match=r"^step 2: the output of layer 1 \(ReturnsNaN\(\)\) contains 2 NaN",
    ):
        finite.forward(model, np.array([[1.0, 2.0]]), step=2)


def test_compute_loss_rejects_inf() -> None:
    loss = MSELoss()

    with pytest.raises(FloatingPointError, match=r"^step 3: the loss MSELoss\(reduction='mean'\)"):
        finite.compute_loss(loss, np.array([1e200, 0.0]), np.zeros(2), step=3)


def test_compute_loss_rejects_target() -> None:
    with pytest.raises(FloatingPointError, match=r"the target contains 1 NaN"):
        finite.compute_loss(MSELoss(), np.zeros(2), np.array([0.0, np.nan]))


def test_compute_loss_returns_value() -> None:
    value = finite.compute_loss(MSELoss(), np.array([1.0, 3.0]), np.zeros(2))

    assert value == 5.0


def test_backward_names_layer() -> None:
    # Layer 1 passes back 1 * 1e200; layer 0 then overflows in 1e200 * 1e200.
    model = Sequential(Linear.from_weights([[1e200]]), Linear.from_weights([[1e200]]))
    model(np.array([[1e-300]]))

    with pytest.raises(FloatingPointError, match=r"^step 5: the gradient from layer 0 \(Linear"):
        finite.backward(model, np.array([[1.0]]), step=5)


def test_backward_names_parameter() -> None:
    layer = InfiniteGradient()
    model = Sequential(Linear(1, 1, rng=0), layer)
    model(np.array([[1.0]]))
    before = snapshot(model)

    with pytest.raises(
        FloatingPointError,
        match=r"the gradient of parameter 'scale' of layer 1 \(InfiniteGradient\(\)\) contains 1",
    ):
        finite.backward(model, np.array([[1.0]]))

    assert snapshot(model) == before


def test_backward_rejects_non_finite_grad_output() -> None:
    model = Sequential(Linear(1, 1, rng=0))
    model(np.array([[1.0]]))

    with pytest.raises(FloatingPointError, match=r"the gradient of the loss contains 1 NaN"):
        finite.backward(model, np.array([[np.nan]]))


def test_backward_matches_plain_backward() -> None:
    x = np.random.default_rng(0).normal(size=(4, 3))
    grad_output = np.random.default_rng(1).normal(size=(4, 2))
    checked = Sequential(Linear(3, 5, rng=2), Sigmoid(), Linear(5, 2, rng=3))
    plain = Sequential(Linear(3, 5, rng=2), Sigmoid(), Linear(5, 2, rng=3))

    finite.forward(checked, x)
    checked_grad = finite.backward(checked, grad_output)
    plain(x)
    plain_grad = plain.backward(grad_output)

    np.testing.assert_array_equal(checked_grad, plain_grad)
    for (name, a), (_, b) in zip(checked.named_parameters(), plain.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.grad, b.grad, err_msg=name)


def test_step_rejects_non_finite_grad() -> None:
    model = Sequential(Linear(2, 2, rng=0))
    optimizer = minigrad.SGD(model.parameters(), lr=0.1)
    model[0].bias.grad[1] = np.nan  # type: ignore[union-attr]
    before = snapshot(model)

    with pytest.raises(
        FloatingPointError, match=r"^step 9: the gradient of parameter '0\.bias' contains 1 NaN"
    ):
        finite.optimizer_step(optimizer, step=9, model=model)

    assert snapshot(model) == before


def test_step_overflow_restores_all() -> None:
    model = Sequential(Linear.from_weights([[1.0]], [1.0]))
    optimizer = minigrad.SGD(model.parameters(), lr=1e10)
    # The weight's update is fine; the bias's update overflows in lr * grad.
    model[0].weight.grad[...] = 1.0
    model[0].bias.grad[...] = 1e300  # type: ignore[union-attr]

    message = r"^step 2: SGD\(lr=10000000000\.0, .*\)\.step\(\)"
    with pytest.raises(FloatingPointError, match=message):
        finite.optimizer_step(optimizer, step=2)

    assert model[0].weight.data[0, 0] == 1.0
    assert model[0].bias.data[0] == 1.0  # type: ignore[union-attr]


class WritesInfinity(minigrad.Optimizer):
    """Optimizer that moves the first parameter and sets the last one to inf without a flag."""

    def step(self) -> None:
        self.params[0].data[...] += 1.0
        self.params[-1].data.flat[0] = np.inf


def test_step_silent_inf_restores() -> None:
    model = Sequential(Linear(2, 2, rng=0))
    optimizer = WritesInfinity(model.parameters())
    before = snapshot(model)

    with pytest.raises(FloatingPointError, match=r"the update of params\[1\] by .* produced NaN"):
        finite.optimizer_step(optimizer)

    assert snapshot(model) == before


class RaisesMidway(minigrad.Optimizer):
    def step(self) -> None:
        self.params[0].data[...] += 1.0
        raise RuntimeError("interrupted")


def test_step_other_error_restores() -> None:
    model = Sequential(Linear(2, 2, rng=0))
    before = snapshot(model)

    with pytest.raises(RuntimeError, match="interrupted"):
        finite.optimizer_step(RaisesMidway(model.parameters()))

    assert snapshot(model) == before


def test_step_updates_when_finite() -> None:
    model = Sequential(Linear.from_weights([[1.0]], [1.0]))
    optimizer = minigrad.SGD(model.parameters(), lr=0.5)
    model[0].weight.grad[...] = 2.0

    finite.optimizer_step(optimizer, step=0, model=model)

    assert model[0].weight.data[0, 0] == 0.0


def test_diverging_lr_ends_in_error() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3))
    target = rng.normal(size=(16, 1))
    model = Sequential(Linear(3, 8, rng=1), Sigmoid(), Linear(8, 1, rng=2))
    loss = MSELoss()
    optimizer = minigrad.SGD(model.parameters(), lr=1e3)
    previous = snapshot(model)

    with pytest.raises(FloatingPointError, match=r"^step (\d+): .*last finite values") as caught:
        for step in range(10_000):
            previous = snapshot(model)
            finite.train_step(model, loss, optimizer, x, target, step=step)

    assert snapshot(model) == previous
    for name, parameter in model.named_parameters():
        assert np.isfinite(parameter.data).all(), name
    failed_step = int(caught.value.args[0].split(":")[0].removeprefix("step "))
    assert failed_step > 0


def test_plain_training_divergence_raises() -> None:
    # The same run as above without the trap, with numpy's warnings silenced: the optimizer
    # itself refuses the update that would make a weight non-finite.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3))
    target = rng.normal(size=(16, 1))
    model = Sequential(Linear(3, 8, rng=1), Sigmoid(), Linear(8, 1, rng=2))
    loss = MSELoss()
    optimizer = minigrad.SGD(model.parameters(), lr=1e3)

    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="NaN or infinite"):
        for _ in range(200):
            optimizer.zero_grad()
            loss(model(x), target)
            model.backward(loss.backward())
            optimizer.step()

    assert all(np.isfinite(parameter.data).all() for parameter in model.parameters())


def test_train_step_returns_loss() -> None:
    model = Sequential(Linear.from_weights([[2.0]], [0.0]))
    optimizer = minigrad.SGD(model.parameters(), lr=0.25)

    loss = finite.train_step(model, MSELoss(), optimizer, np.array([[1.0]]), np.array([[0.0]]))

    # Loss (2 - 0)**2 = 4; dL/dw = 2 * 2 * 1 = 4, so w = 2 - 0.25 * 4 = 1.
    assert loss == 4.0
    assert model[0].weight.data[0, 0] == 1.0

"""Non-finite trap: run training steps that stop at the first NaN or infinity.

Each function here runs one part of a training step under ``np.errstate`` set to raise on
overflow, invalid operations and division by zero, and checks its results. The first NaN
or infinite value raises ``FloatingPointError`` naming the step, the layer (its position in
the ``Sequential`` and its repr) and whether its output or a gradient failed. Parameters
are never left non-finite: ``forward``, ``compute_loss`` and ``backward`` do not change
them, and ``optimizer_step`` restores their previous values when the update fails.

Typical use, one call per training step::

    for step in range(steps):
        loss = minigrad.finite.train_step(model, loss_function, optimizer, x, y, step=step)

A ``Sequential`` is checked layer by layer, and nested ``Sequential`` containers are
entered, so layers are named by dotted positions such as ``1.0``. Any other module is
checked as one unit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from minigrad._array import Array
from minigrad.containers import Sequential
from minigrad.losses import Loss
from minigrad.module import Module
from minigrad.optim import Optimizer
from minigrad.parameter import Parameter


def check(value: npt.ArrayLike, *, name: str, step: int | None = None) -> None:
    """Raise ``FloatingPointError`` if ``value`` contains NaN or an infinite value.

    Args:
        value: An array or a number.
        name: What ``value`` is, for the message, such as ``"the loss"``.
        step: The training step, for the message, or None.
    """
    count = _count_non_finite(value)
    if count:
        raise FloatingPointError(
            f"{_step_prefix(step)}{name} contains {count} NaN or infinite values. "
            f"Find where they come from, and replace or remove them."
        )


def forward(model: Module, x: Array, *, step: int | None = None) -> Array:
    """Run ``model.forward(x)`` and raise at the first layer whose output is not finite.

    Raises ``FloatingPointError`` naming the step and the layer, and leaves the
    parameters unchanged. A non-finite ``x`` raises before any layer runs.

    Shape:
        ``x`` and the result have the shapes of ``model.forward``.
    """
    check(x, name="the input x", step=step)
    output: Array = np.asarray(x)
    for label, layer in _layers(model):
        description = f"the output of {label}"
        output = _run_checked(layer.forward, output, description=description, step=step)
    return output


def compute_loss(
    loss_function: Loss, prediction: Array, target: Array, *, step: int | None = None
) -> float:
    """Compute ``loss_function(prediction, target)`` and raise if the loss is not finite.

    A non-finite ``target`` raises before the loss is computed.
    """
    check(target, name="the target", step=step)
    description = f"the loss {loss_function!r}"
    try:
        with _raise_on_float_errors():
            loss = loss_function(prediction, target)
    except FloatingPointError as error:
        raise _trap_error(description, step, _numpy_failure(error)) from error
    if not np.isfinite(loss):
        raise _trap_error(description, step, f"is {loss}")
    return loss


def backward(model: Module, grad_output: Array, *, step: int | None = None) -> Array:
    """Run ``model.backward(grad_output)`` and raise at the first non-finite gradient.

    Layers run in reverse order. After each layer, the gradient it returns and the
    gradients of its own parameters are checked. Raises ``FloatingPointError`` naming the
    step and the layer or parameter. Parameter values are unchanged, but gradients that
    were already accumulated may be non-finite, so call ``zero_grad`` before another step.

    Shape:
        ``grad_output`` and the result have the shapes of ``model.backward``.
    """
    check(grad_output, name="the gradient of the loss", step=step)
    grad: Array = np.asarray(grad_output)
    for label, layer in reversed(list(_layers(model))):
        description = f"the gradient from {label}"
        grad = _run_checked(layer.backward, grad, description=description, step=step)
        for name, parameter in layer.named_parameters():
            count = _count_non_finite(parameter.grad)
            if count:
                raise _trap_error(
                    f"the gradient of parameter {name!r} of {label}",
                    step,
                    f"contains {count} NaN or infinite values",
                )
    return grad


def optimizer_step(
    optimizer: Optimizer, *, step: int | None = None, model: Module | None = None
) -> None:
    """Run ``optimizer.step()`` and undo it if any parameter would become non-finite.

    Every gradient is checked first, so a non-finite gradient raises before anything
    changes. The update then runs on the parameters in place. If it raises, or leaves a
    NaN or infinite value, every parameter gets its previous values back and
    ``FloatingPointError`` names the step and the first failed parameter.

    Args:
        optimizer: The optimizer to step.
        step: The training step, for the message, or None.
        model: If given, parameters are named by their ``named_parameters`` names;
            otherwise by their index in ``optimizer.params``.
    """
    names = _parameter_names(optimizer.params, model)
    for parameter, name in zip(optimizer.params, names, strict=True):
        count = _count_non_finite(parameter.grad)
        if count:
            raise _trap_error(
                f"the gradient of {name}",
                step,
                f"contains {count} NaN or infinite values, so {optimizer!r} did not step",
            )

    previous = [parameter.data.copy() for parameter in optimizer.params]
    try:
        with _raise_on_float_errors():
            optimizer.step()
    except BaseException as error:
        _restore(optimizer.params, previous)
        if isinstance(error, FloatingPointError):
            raise _trap_error(f"{optimizer!r}.step()", step, _numpy_failure(error)) from error
        raise

    for parameter, name in zip(optimizer.params, names, strict=True):
        if not np.isfinite(parameter.data).all():
            _restore(optimizer.params, previous)
            raise _trap_error(
                f"the update of {name} by {optimizer!r}",
                step,
                "produced NaN or infinite values",
            )


def train_step(
    model: Module,
    loss_function: Loss,
    optimizer: Optimizer,
    x: Array,
    target: Array,
    *,
    step: int | None = None,
) -> float:
    """Run one checked training step and return the loss before the update.

    The step is ``optimizer.zero_grad()``, ``forward``, ``compute_loss``, ``backward``
    and ``optimizer_step`` from this module. The first NaN or infinite value raises
    ``FloatingPointError``, and the parameters keep their last finite values.
    """
    optimizer.zero_grad()
    prediction = forward(model, x, step=step)
    loss = compute_loss(loss_function, prediction, target, step=step)
    backward(model, loss_function.backward(), step=step)
    optimizer_step(optimizer, step=step, model=model)
    return loss


def _layers(model: Module, prefix: str = "") -> Iterator[tuple[str, Module]]:
    """Yield ``(label, layer)`` for each layer, entering plain ``Sequential`` containers."""
    # A subclass of Sequential may change forward or backward, so only the class itself
    # is split into its layers.
    if type(model) is not Sequential:
        yield (f"layer {prefix} ({model!r})" if prefix else f"the model {model!r}"), model
        return
    for name, child in model.named_children():
        yield from _layers(child, f"{prefix}.{name}" if prefix else name)


def _run_checked(
    function: Callable[[Array], Array], value: Array, *, description: str, step: int | None
) -> Array:
    try:
        with _raise_on_float_errors():
            result = function(value)
    except FloatingPointError as error:
        raise _trap_error(description, step, _numpy_failure(error)) from error
    count = _count_non_finite(result)
    if count:
        raise _trap_error(description, step, f"contains {count} NaN or infinite values")
    return result


def _raise_on_float_errors() -> np.errstate:
    # Underflow to zero or to a subnormal number is harmless in training, so it is ignored.
    return np.errstate(over="raise", divide="raise", invalid="raise", under="ignore")


def _restore(parameters: list[Parameter], previous: list[Array]) -> None:
    for parameter, values in zip(parameters, previous, strict=True):
        parameter.data[...] = values


def _parameter_names(parameters: list[Parameter], model: Module | None) -> list[str]:
    known = {} if model is None else {id(p): name for name, p in model.named_parameters()}
    return [
        f"parameter {known[id(p)]!r}" if id(p) in known else f"params[{index}]"
        for index, p in enumerate(parameters)
    ]


def _count_non_finite(value: npt.ArrayLike) -> int:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return 0  # the layer or loss that receives the value raises its own clear error
    if array.dtype.kind not in "fc":
        return 0  # integers and booleans are finite, and the layers reject other dtypes
    return int(np.count_nonzero(~np.isfinite(array)))


def _numpy_failure(error: FloatingPointError) -> str:
    return f"failed with numpy's floating-point error {str(error)!r}"


def _step_prefix(step: int | None) -> str:
    return "" if step is None else f"step {step}: "


def _trap_error(description: str, step: int | None, problem: str) -> FloatingPointError:
    return FloatingPointError(
        f"{_step_prefix(step)}{description} {problem}. The parameters keep their last finite "
        f"values. Lower the learning rate, or check the scale of the input data."
    )

"""A learner's view of one training step: what each layer sends forward and backward."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from minigrad import finite
from minigrad._array import Array
from minigrad._layers import iter_layers, restore_modules, snapshot_modules
from minigrad._table import format_table
from minigrad.losses import Loss
from minigrad.module import Module
from minigrad.optim import Optimizer


def trace_step(
    model: Module,
    loss_function: Loss,
    x: npt.ArrayLike,
    target: npt.ArrayLike,
    *,
    optimizer: Optimizer | None = None,
    quiet: bool = False,
) -> str:
    """Run one training step and print, layer by layer, what flows forward and backward.

    The step zeroes the gradients, runs the forward pass one layer at a time, computes the
    loss, runs the backward pass one layer at a time in reverse order and, if an optimizer
    is given, updates the parameters. The text has three tables:

    - forward: each layer's output shape, minimum and maximum.
    - backward: the gradient that the loss and then each layer returns, dL/d(its input),
      which is the delta that the layer before it receives, with its shape and L2 norm.
      Below each layer come the gradients of its parameters.
    - update (with an optimizer): the L2 norm of each parameter's change.

    The L2 norm is ``sqrt(sum(g**2))`` over all entries. For the textbook's 3-4-1 sigmoid
    network with ``MSELoss(reduction="half_sum")``, the backward table starts with
    ``delta2 = a2 - y``, the row of layer 3 is ``delta2 * sigma'(z2)``, and the weight
    gradients of layers 2 and 0 are Eq (3) and Eq (5) transposed.

    A plain ``Sequential`` is traced layer by layer, nested ones too; any other module is
    one row. The gradients stay in ``.grad`` after the call, as after a hand-written
    step. If a layer or the loss raises, every module's cache and every gradient get back
    their values from before the call. The update runs through
    ``minigrad.finite.optimizer_step``, so a non-finite update raises
    ``FloatingPointError`` and leaves the parameters unchanged.

    Args:
        model: The model to run.
        loss_function: The loss, such as ``MSELoss()``.
        x: A batch of inputs.
        target: The targets for ``x``.
        optimizer: If given, it zeroes the gradients and takes one step after the
            backward pass. If None, ``model.zero_grad()`` runs and no parameter changes.
        quiet: If True, return the text without printing it.

    Returns:
        The three tables as text, without a trailing newline.
    """
    _check_arguments(model, loss_function, optimizer)
    inputs = np.asarray(x)
    layers = list(iter_layers(model))

    snapshot = snapshot_modules(model)
    saved_grads = [parameter.grad.copy() for parameter in model.parameters()]
    try:
        if optimizer is None:
            model.zero_grad()
        else:
            optimizer.zero_grad()
        forward_rows, prediction = _run_forward(layers, inputs)
        loss = loss_function(prediction, np.asarray(target))
        backward_rows = _run_backward(layers, loss_function, loss_function.backward())
    except BaseException:
        restore_modules(snapshot)
        for parameter, grad in zip(model.parameters(), saved_grads, strict=True):
            parameter.grad[...] = grad
        raise

    layer_word = "layer" if len(layers) == 1 else "layers"
    lines = [
        f"Training step of {type(model).__name__} with {len(layers)} {layer_word} on input of "
        f"shape {inputs.shape}",
        "",
        "Forward: the output of each layer",
        *format_table(
            ["Layer", "Type", "Output shape", "Min", "Max"], forward_rows, right_aligned={3, 4}
        ),
        "",
        f"Loss {loss_function!r}: {loss:.6g}",
        "",
        "Backward: the gradient each layer returns, dL/d(its input), last layer first",
        *format_table(
            ["Layer", "Type", "Gradient", "Shape", "Norm"], backward_rows, right_aligned={4}
        ),
    ]
    if optimizer is not None:
        lines += ["", f"Update by {optimizer!r}", *_run_update(model, optimizer)]
    text = "\n".join(lines)
    if not quiet:
        print(text)
    return text


def _check_arguments(model: object, loss_function: object, optimizer: object) -> None:
    if not isinstance(model, Module):
        raise TypeError(
            f"trace_step: model must be a Module, got {type(model).__name__}. Pass a layer or "
            f"a Sequential."
        )
    if not isinstance(loss_function, Loss):
        raise TypeError(
            f"trace_step: loss_function must be a Loss, got {type(loss_function).__name__}. "
            f"Pass an instance such as MSELoss()."
        )
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"trace_step: optimizer must be an Optimizer or None, got "
            f"{type(optimizer).__name__}. Pass an instance such as SGD(model.parameters(), "
            f"lr=0.1)."
        )


def _run_forward(layers: list[tuple[str, Module]], inputs: Array) -> tuple[list[list[str]], Array]:
    rows = [["input", "x", str(inputs.shape), *_value_range(inputs)]]
    output = inputs
    for name, layer in layers:
        output = np.asarray(layer.forward(output))
        rows.append([name or "model", _describe(layer), str(output.shape), *_value_range(output)])
    return rows, output


def _run_backward(
    layers: list[tuple[str, Module]], loss_function: Loss, loss_gradient: Array
) -> list[list[str]]:
    gradient = np.asarray(loss_gradient)
    rows = [["loss", repr(loss_function), "dL/d(output)", str(gradient.shape), _norm(gradient)]]
    for name, layer in reversed(layers):
        gradient = np.asarray(layer.backward(gradient))
        rows.append(
            [name or "model", _describe(layer), "dL/d(input)", str(gradient.shape), _norm(gradient)]
        )
        for parameter_name, parameter in layer.named_parameters():
            grad = parameter.grad
            rows.append(["", "", f"{parameter_name}.grad", str(grad.shape), _norm(grad)])
    return rows


def _run_update(model: Module, optimizer: Optimizer) -> list[str]:
    names = {id(parameter): name for name, parameter in model.named_parameters()}
    before = [parameter.data.copy() for parameter in optimizer.params]
    finite.optimizer_step(optimizer, model=model)
    rows = [
        [
            names.get(id(parameter), f"params[{index}]"),
            str(parameter.shape),
            _norm(parameter.data - previous),
        ]
        for index, (parameter, previous) in enumerate(zip(optimizer.params, before, strict=True))
    ]
    return format_table(["Parameter", "Shape", "Change norm"], rows, right_aligned={2})


def _describe(layer: Module) -> str:
    return f"{type(layer).__name__}({layer.extra_repr()})"


def _value_range(array: Array) -> list[str]:
    if array.size == 0 or array.dtype.kind not in "iuf":
        return ["-", "-"]
    return [f"{float(np.min(array)):.4g}", f"{float(np.max(array)):.4g}"]


def _norm(array: Array) -> str:
    values = np.asarray(array, dtype=np.float64)
    # Scaling by the largest magnitude keeps the squares from overflowing for huge values.
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0.0 or not np.isfinite(largest):
        return f"{largest:.4g}"
    scaled = values / largest
    return f"{largest * float(np.sqrt(np.vdot(scaled, scaled))):.4g}"

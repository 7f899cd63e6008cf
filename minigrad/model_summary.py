"""A table of a model's layers, output shapes and parameter counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from minigrad._array import check_float_dtype
from minigrad._layers import iter_layers, restore_modules, snapshot_modules
from minigrad._table import format_table
from minigrad.module import Module
from minigrad.parameter import Parameter


def summary(
    model: Module,
    input_shape: int | Sequence[int],
    *,
    dtype: npt.DTypeLike = np.float64,
    quiet: bool = False,
) -> str:
    """Print and return a table of the layers, their output shapes and parameter counts.

    The output shapes come from one forward pass of an array of zeros with shape
    ``input_shape``, run in evaluation mode so that ``Dropout`` draws no random numbers.
    Afterwards every module gets back its attributes, so the caches and modes are as
    before, and the parameters are never changed.

    A plain ``Sequential`` is listed layer by layer, nested ones too, with dotted
    positions such as ``1.0``. Any other module is one row. A parameter shared by several
    layers is counted in each of their rows but once in the total.

    Example, for a 64-128-10 classifier and ``input_shape=(1, 64)``::

        Sequential with 3 layers, input shape (1, 64)

        Layer  Type                                                 Output shape  Parameters
        -----  ---------------------------------------------------  ------------  ----------
        input                                                       (1, 64)
        0      Linear(in_features=64, out_features=128, bias=True)  (1, 128)           8,320
        1      ReLU()                                               (1, 128)               0
        2      Linear(in_features=128, out_features=10, bias=True)  (1, 10)            1,290

        Total parameters: 9,610 (75.1 KiB as float64)

    Args:
        model: The model to describe.
        input_shape: Shape of the input, including the batch dimension if the model
            expects one, such as ``(1, 64)``. An integer ``n`` means ``(n,)``.
        dtype: dtype of the zeros, float64 (the default) or float32.
        quiet: If True, return the text without printing it.

    Returns:
        The table as text, without a trailing newline.
    """
    if not isinstance(model, Module):
        raise TypeError(
            f"summary: model must be a Module, got {type(model).__name__}. Pass a layer or a "
            f"Sequential."
        )
    shape = _check_input_shape(input_shape)
    check_float_dtype("summary", dtype)
    layers = list(iter_layers(model))

    rows = [["input", "", str(shape), ""]]
    snapshot = snapshot_modules(model)
    try:
        model.eval()
        output = np.zeros(shape, dtype=dtype)
        for name, layer in layers:
            output = np.asarray(layer.forward(output))
            rows.append([name or "model", _describe(layer), str(output.shape), ""])
    finally:
        restore_modules(snapshot)

    row_sum = 0
    for row, (_, layer) in zip(rows[1:], layers, strict=True):
        count = sum(parameter.size for _, parameter in layer.named_parameters())
        row[3] = f"{count:,}"
        row_sum += count

    parameters = [parameter for _, parameter in model.named_parameters()]
    total = sum(parameter.size for parameter in parameters)
    lines = [
        f"{type(model).__name__} with {_count_layers(len(layers))}, input shape {shape}",
        "",
        *format_table(["Layer", "Type", "Output shape", "Parameters"], rows, right_aligned={3}),
        "",
        f"Total parameters: {total:,} ({_format_memory(parameters)})",
    ]
    if row_sum != total:
        lines.append(
            f"The rows add up to {row_sum:,} because shared parameters appear in each layer "
            f"that uses them; the total counts each once."
        )
    text = "\n".join(lines)
    if not quiet:
        print(text)
    return text


def _check_input_shape(input_shape: object) -> tuple[int, ...]:
    dimensions = (input_shape,) if isinstance(input_shape, (int, np.integer)) else input_shape
    if not isinstance(dimensions, (tuple, list)) or any(
        isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0
        for size in dimensions
    ):
        raise ValueError(
            f"summary: input_shape must be a tuple of non-negative integers, got "
            f"{input_shape!r}. Pass the shape of one input batch, such as (1, 64)."
        )
    return tuple(int(size) for size in dimensions)


def _count_layers(count: int) -> str:
    return f"{count} layer" if count == 1 else f"{count} layers"


def _describe(layer: Module) -> str:
    """Return a one-line description, because the repr of a module with submodules spans lines."""
    return f"{type(layer).__name__}({layer.extra_repr()})"


def _format_memory(parameters: list[Parameter]) -> str:
    size = sum(parameter.data.nbytes for parameter in parameters)
    dtypes = sorted({str(parameter.dtype) for parameter in parameters})
    unit = f"{size / 1024:.1f} KiB" if size >= 1024 else f"{size} bytes"
    if len(dtypes) == 1:
        return f"{unit} as {dtypes[0]}"
    return f"{unit} in {', '.join(dtypes)}" if dtypes else unit

"""The trainable array of a layer and the gradient that backward accumulates into it."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from minigrad._array import Array, check_float_dtype


class Parameter:
    """A trainable array ``data`` with a gradient array ``grad`` of the same shape and dtype.

    Both arrays keep their identity for the life of the parameter: layers add into ``grad``
    in place, optimizers update ``data`` in place, and ``zero_grad`` fills ``grad`` with
    zeros. To set new values, write into the array: ``param.data[...] = values``. Assigning
    a new array to ``param.data`` raises, so an optimizer can never be left updating an
    array that the layer no longer uses. The one exception is ``Module.to``, which replaces
    both arrays with converted copies to change the dtype of a whole model.

    Args:
        data: Initial values. They are copied, so later changes to the caller's array do
            not reach the parameter. Integer values are converted to ``dtype``.
        dtype: float64 (the default) or float32.

    Shape:
        ``data`` and ``grad``: any shape, always identical.
    """

    __slots__ = ("_data", "_grad")

    def __init__(self, data: npt.ArrayLike, *, dtype: npt.DTypeLike = np.float64) -> None:
        check_float_dtype("Parameter", dtype)
        try:
            source = np.asarray(data)
        except (ValueError, TypeError) as error:
            raise TypeError(
                f"Parameter: initial values could not be converted to a numeric array ({error}). "
                f"Pass a numpy array of numbers with a regular shape."
            ) from error
        if source.dtype.kind not in "iuf":
            raise TypeError(
                f"Parameter: initial values must be real numbers, got dtype {source.dtype}. "
                f"Pass an array of integers or floats."
            )
        non_finite_count = int(np.count_nonzero(~np.isfinite(source)))
        if non_finite_count:
            raise ValueError(
                f"Parameter: initial values must be finite, got {non_finite_count} NaN or "
                f"infinite entries. Replace them before creating the parameter."
            )
        with np.errstate(over="ignore"):
            values = np.array(source, dtype=dtype, copy=True)
        if not np.all(np.isfinite(values)):
            raise ValueError(
                f"Parameter: initial values exceed the {values.dtype} range, whose largest "
                f"value is {float(np.finfo(values.dtype).max):.4g}. Rescale them, or use "
                f"dtype=np.float64."
            )
        self._data: Array = values
        self._grad: Array = np.zeros_like(values)

    @property
    def data(self) -> Array:
        """Current values, updated in place by optimizers."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if value is self._data:  # an augmented assignment such as param.data -= step
            return
        raise AttributeError(
            "Parameter.data cannot be replaced, because layers and optimizers hold the "
            "array itself. Write into it instead: param.data[...] = values."
        )

    @property
    def grad(self) -> Array:
        """Accumulated gradient of the loss with respect to ``data``."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is self._grad:  # an augmented assignment such as param.grad += update
            return
        raise AttributeError(
            "Parameter.grad cannot be replaced, because backward adds into the array itself. "
            "Write into it instead: param.grad[...] = values, or param.grad.fill(0)."
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data`` and ``grad``."""
        return self._data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """Dtype of ``data`` and ``grad``."""
        return self._data.dtype

    @property
    def size(self) -> int:
        """Number of elements in ``data``."""
        return int(self._data.size)

    def zero_grad(self) -> None:
        """Fill ``grad`` with zeros in place."""
        self._grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"

    def _replace_arrays(self, data: Array, grad: Array) -> None:
        """Install new ``data`` and ``grad`` arrays, for a dtype change by ``Module.to``.

        Only ``Module.to`` calls this, after it has converted and checked the arrays of
        every parameter of the model.
        """
        if data.shape != self.shape or grad.shape != self.shape or grad.dtype != data.dtype:
            raise ValueError(
                f"{self!r}: new data {data.shape} {data.dtype} and grad {grad.shape} "
                f"{grad.dtype} must both have shape {self.shape} and one dtype."
            )
        check_float_dtype("Parameter", data.dtype)
        self._data = data
        self._grad = grad

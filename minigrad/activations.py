"""Activation functions: element-wise nonlinearities, Softmax and Identity."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad._array import Array, as_float_array, freeze
from minigrad.module import Module, check_grad_output_shape, missing_forward_error


def _sigmoid(array: Array) -> Array:
    """Return ``1 / (1 + exp(-array))`` in the dtype of ``array``, without overflow."""
    # Every step writes into one new array, because a second temporary of a large batch
    # costs more than the arithmetic. exp(-x) overflows only for x below about -709
    # (float64) or -88.7 (float32), and there the overflow-free form keeps the tiny results.
    output = np.asarray(np.negative(array))  # a 0-d input would give a numpy scalar
    try:
        _exp_in_place(output)
    except FloatingPointError:
        return _sigmoid_without_overflow(array)
    output += 1.0
    np.reciprocal(output, out=output)
    return output


# As a decorator, np.errstate costs less per call than a with statement.
# under="ignore" keeps tiny results, such as exp(-720), silent under any np.seterr setting.
@np.errstate(over="raise", under="ignore")
def _exp_in_place(array: Array) -> None:
    np.exp(array, out=array)


@np.errstate(under="ignore")
def _sigmoid_without_overflow(array: Array) -> Array:
    """Return ``1 / (1 + exp(-array))`` computed from ``exp(-|array|)``, which is at most 1."""
    # With e = exp(-|x|): sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
    exp_neg_abs = np.exp(-np.abs(array))
    output = np.where(array >= 0, 1.0, exp_neg_abs).astype(array.dtype, copy=False)
    output /= 1.0 + exp_neg_abs
    return output


class Sigmoid(Module):
    r"""Logistic function ``sigmoid(x) = 1 / (1 + exp(-x))``, element-wise.

    Derivative: ``sigmoid'(x) = s * (1 - s)`` with ``s = sigmoid(x)``, so ``backward`` uses
    the cached output and never recomputes the exponential.

    The forward pass evaluates ``1 / (1 + exp(-x))``. Where ``exp(-x)`` would overflow, the
    whole batch is computed from ``exp(-|x|)`` instead, which lies in [0, 1], so the forward
    pass of finite or infinite input neither overflows nor warns, under any ``np.seterr``
    setting. Very negative inputs keep their tiny values:
    ``sigmoid(-50)`` is 1.93e-22, not 0.

    The output array is read-only, because ``backward`` reads it. Copy it before changing it.

    Shape:
        forward: ``x (*) -> y (*)``, the same shape.

        backward: ``grad_output (*) -> grad_input (*)``, the shape of ``x``.

    Integer input is computed in float64; float32 input stays float32.
    """

    def __init__(self) -> None:
        self._output: Array | None = None

    def forward(self, x: Array) -> Array:
        """Return ``sigmoid(x)`` and cache it for ``backward``."""
        array = as_float_array(x, owner=self, name="x")
        output = _sigmoid(array)

        self._output = freeze(output)
        return output

    def backward(self, grad_output: Array) -> Array:
        """Return ``grad_output * s * (1 - s)`` with the cached output ``s``."""
        if self._output is None:
            raise missing_forward_error(self)
        output = self._output
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=output.dtype)
        check_grad_output_shape(self, grad, output.shape)

        grad_input = np.asarray(1.0 - output)  # a 0-d output would give a numpy scalar
        grad_input *= output
        grad_input *= grad

        self._output = None
        return grad_input


def _where_positive(positive: Array, values: Array) -> Array:
    """Return ``np.where(positive, values, 0.0)`` for a float ``values``, as a new array."""
    # np.where costs about 20 times more than one ufunc pass here (numpy 2.4). So the
    # selection is a bitwise AND of the value bits with a mask: all ones where ``positive``
    # is True, and all zeros (the bits of +0.0) elsewhere. NaN and infinite values at masked
    # positions become +0.0, exactly as with np.where.
    unsigned = np.uint64 if values.dtype.itemsize == 8 else np.uint32
    # np.asarray and np.require keep a 0-d input 0-d, unlike np.ascontiguousarray.
    bits = np.asarray(positive).astype(unsigned)
    np.negative(bits, out=bits)
    np.bitwise_and(bits, np.require(values, requirements="C").view(unsigned), out=bits)
    return bits.view(values.dtype)


class ReLU(Module):
    r"""Rectified linear unit ``relu(x) = max(x, 0)``, element-wise.

    Derivative: ``relu'(x) = 1`` for ``x > 0`` and ``0`` for ``x <= 0``. The function has no
    derivative at exactly ``x = 0``, and the layer uses 0 there, as PyTorch does.

    Shape:
        forward: ``x (*) -> y (*)``, the same shape.

        backward: ``grad_output (*) -> grad_input (*)``, the shape of ``x``.

    Integer input is computed in float64; float32 input stays float32. The layer caches
    only the boolean mask ``x > 0`` and the dtype.
    """

    def __init__(self) -> None:
        self._positive: Array | None = None
        self._dtype: np.dtype[Any] | None = None

    def forward(self, x: Array) -> Array:
        """Return ``max(x, 0)`` and cache the mask of entries that are not ``<= 0``."""
        array = as_float_array(x, owner=self, name="x")
        # "not <= 0" rather than "> 0", so a NaN input passes its gradient, as PyTorch's does.
        positive = ~(array <= 0)
        # np.maximum keeps NaN, as PyTorch does, so a non-finite check downstream detects it.
        output = np.asarray(np.maximum(array, 0), dtype=array.dtype)

        self._positive = positive
        self._dtype = array.dtype
        return output

    def backward(self, grad_output: Array) -> Array:
        """Return ``grad_output`` where ``x > 0`` and 0 elsewhere."""
        if self._positive is None or self._dtype is None:
            raise missing_forward_error(self)
        positive = self._positive
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=self._dtype)
        check_grad_output_shape(self, grad, positive.shape)

        grad_input = _where_positive(positive, grad)

        self._positive = None
        self._dtype = None
        return grad_input


class LeakyReLU(Module):
    r"""Leaky rectified linear unit, element-wise::

        leaky_relu(x) = x                     for x > 0
                        negative_slope * x    for x <= 0

    Derivative: ``1`` for ``x > 0`` and ``negative_slope`` for ``x <= 0``. At exactly
    ``x = 0`` the layer uses ``negative_slope``, as PyTorch does.

    Args:
        negative_slope: Slope for ``x <= 0``, a finite number; 0.01 by default, as in
            PyTorch. With 0 the layer equals ``ReLU``.

    Shape:
        forward: ``x (*) -> y (*)``, the same shape.

        backward: ``grad_output (*) -> grad_input (*)``, the shape of ``x``.

    Integer input is computed in float64; float32 input stays float32. The layer caches
    only the boolean mask ``x > 0`` and the dtype.
    """

    def __init__(self, negative_slope: float = 0.01) -> None:
        if isinstance(negative_slope, bool) or not isinstance(
            negative_slope, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"LeakyReLU: negative_slope must be a real number, got {negative_slope!r} of "
                f"type {type(negative_slope).__name__}. Pass a float such as 0.01."
            )
        try:
            slope = float(negative_slope)
        except OverflowError:
            slope = math.inf
        if not math.isfinite(slope):
            raise ValueError(
                f"LeakyReLU: negative_slope must be finite, got {negative_slope!r}. "
                f"Pass a float such as 0.01."
            )
        self.negative_slope = slope
        self._positive: Array | None = None
        self._dtype: np.dtype[Any] | None = None

    def forward(self, x: Array) -> Array:
        """Return ``x`` where ``x > 0`` and ``negative_slope * x`` elsewhere."""
        array = as_float_array(x, owner=self, name="x")
        positive = array > 0
        # Only the non-positive entries are multiplied, so a large positive input cannot
        # overflow in a branch that np.where would discard.
        output: Array = array.copy()
        np.multiply(array, self.negative_slope, out=output, where=~positive)

        self._positive = positive
        self._dtype = array.dtype
        return output

    def backward(self, grad_output: Array) -> Array:
        """Return ``grad_output`` where ``x > 0`` and ``negative_slope * grad_output`` elsewhere."""
        if self._positive is None or self._dtype is None:
            raise missing_forward_error(self)
        positive = self._positive
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=self._dtype)
        check_grad_output_shape(self, grad, positive.shape)

        grad_input = np.where(positive, grad, self.negative_slope * grad).astype(
            self._dtype, copy=False
        )

        self._positive = None
        self._dtype = None
        return grad_input

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Tanh(Module):
    r"""Hyperbolic tangent ``tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x))``, element-wise.

    Derivative: ``tanh'(x) = 1 - t**2`` with ``t = tanh(x)``, so ``backward`` uses the cached
    output. ``numpy.tanh`` saturates to +-1 without overflow for inputs of any size.

    The output array is read-only, because ``backward`` reads it. Copy it before changing it.

    Shape:
        forward: ``x (*) -> y (*)``, the same shape.

        backward: ``grad_output (*) -> grad_input (*)``, the shape of ``x``.

    Integer input is computed in float64; float32 input stays float32.
    """

    def __init__(self) -> None:
        self._output: Array | None = None

    def forward(self, x: Array) -> Array:
        """Return ``tanh(x)`` and cache it for ``backward``."""
        array = as_float_array(x, owner=self, name="x")
        output = np.asarray(np.tanh(array))  # a 0-d input would give a numpy scalar

        self._output = freeze(output)
        return output

    def backward(self, grad_output: Array) -> Array:
        """Return ``grad_output * (1 - t**2)`` with the cached output ``t``."""
        if self._output is None:
            raise missing_forward_error(self)
        output = self._output
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=output.dtype)
        check_grad_output_shape(self, grad, output.shape)

        grad_input = np.asarray(output * output)  # a 0-d output would give a numpy scalar
        np.subtract(1.0, grad_input, out=grad_input)
        grad_input *= grad

        self._output = None
        return grad_input


class Softmax(Module):
    r"""Softmax along one axis: ``softmax(x)_i = exp(x_i) / sum_j exp(x_j)``.

    The outputs along ``axis`` are positive and sum to 1. The forward pass subtracts the
    maximum along ``axis`` first, which leaves the result unchanged but keeps every
    exponent <= 0, so logits such as ``[[1000, 1001, 1002]]`` give finite probabilities
    without an overflow warning.

    Derivative: the Jacobian along ``axis`` is ``ds_i/dx_j = s_i * (delta_ij - s_j)``. For
    the upstream gradient ``g``, ``backward`` returns ``s * (g - sum(g * s, axis))``
    without building the Jacobian.

    To train a classifier, pass the logits to ``CrossEntropyLoss``, which applies
    log-softmax itself and stays exact for extreme logits. Use this layer when the
    probabilities themselves are needed.

    The output array is read-only, because ``backward`` reads it. Copy it before changing it.

    Args:
        axis: The axis along which the outputs sum to 1; -1 (the last axis) by default.
            PyTorch calls this argument ``dim``.

    Shape:
        forward: ``x (*) -> y (*)``, the same shape; ``x`` needs at least one dimension.

        backward: ``grad_output (*) -> grad_input (*)``, the shape of ``x``.

    Integer input is computed in float64; float32 input stays float32.
    """

    def __init__(self, axis: int = -1) -> None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(
                f"Softmax: axis must be an integer, got {axis!r}. Pass -1 for the last axis."
            )
        self.axis = int(axis)
        self._output: Array | None = None

    def forward(self, x: Array) -> Array:
        """Return the softmax of ``x`` along ``axis`` and cache it for ``backward``."""
        array = as_float_array(x, owner=self, name="x")
        if not -array.ndim <= self.axis < array.ndim:
            raise ValueError(
                f"{self!r}: axis {self.axis} is out of range for input of shape "
                f"{array.shape} with {array.ndim} dimensions. Pass an input with at least "
                f"{self.axis + 1 if self.axis >= 0 else -self.axis} dimensions, or create "
                f"the layer with another axis."
            )

        # initial=-inf lets an empty input reduce to an empty output instead of raising.
        output: Array = array - array.max(axis=self.axis, keepdims=True, initial=-np.inf)
        np.exp(output, out=output)
        output /= output.sum(axis=self.axis, keepdims=True)

        self._output = freeze(output)
        return output

    def backward(self, grad_output: Array) -> Array:
        """Return ``s * (g - sum(g * s, axis))`` with the cached output ``s``."""
        if self._output is None:
            raise missing_forward_error(self)
        output = self._output
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=output.dtype)
        check_grad_output_shape(self, grad, output.shape)

        grad_input: Array = grad - (grad * output).sum(axis=self.axis, keepdims=True)
        grad_input *= output

        self._output = None
        return grad_input

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Identity(Module):
    r"""Identity map ``y = x``, for example a placeholder for an optional layer.

    Derivative: ``dy/dx = 1``, so ``backward`` returns the gradient unchanged.

    ``forward`` returns ``x`` itself when it is already a float32 or float64 array, as
    PyTorch's ``Identity`` returns its input tensor. Other input is converted as by every
    layer, integers to float64.

    Shape:
        forward: ``x (*) -> y (*)``, the same shape.

        backward: ``grad_output (*) -> grad_input (*)``, the shape of ``x``.
    """

    def __init__(self) -> None:
        self._input_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype[Any] | None = None

    def forward(self, x: Array) -> Array:
        """Return ``x`` and cache its shape and dtype for the checks in ``backward``."""
        array = as_float_array(x, owner=self, name="x")

        self._input_shape = array.shape
        self._dtype = array.dtype
        return array

    def backward(self, grad_output: Array) -> Array:
        """Return ``grad_output`` converted to the input's dtype."""
        if self._input_shape is None or self._dtype is None:
            raise missing_forward_error(self)
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=self._dtype)
        check_grad_output_shape(self, grad, self._input_shape)

        self._input_shape = None
        self._dtype = None
        return grad

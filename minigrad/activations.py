"""Element-wise activation functions."""

from __future__ import annotations

import numpy as np

from minigrad._array import Array, as_float_array, freeze
from minigrad.module import Module, check_grad_output_shape, missing_forward_error


class Sigmoid(Module):
    r"""Logistic function ``sigmoid(x) = 1 / (1 + exp(-x))``, element-wise.

    Derivative: ``sigmoid'(x) = s * (1 - s)`` with ``s = sigmoid(x)``, so ``backward`` uses
    the cached output and never recomputes the exponential.

    The forward pass evaluates ``exp(-|x|)``, which lies in [0, 1] for every finite input, so
    it never overflows or warns. Very negative inputs keep their tiny values:
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

        # With e = exp(-|x|): sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0.
        exp_neg_abs = np.exp(-np.abs(array))
        output = np.where(array >= 0, 1.0, exp_neg_abs).astype(array.dtype, copy=False)
        output /= 1.0 + exp_neg_abs

        self._output = freeze(output)
        return output

    def backward(self, grad_output: Array) -> Array:
        """Return ``grad_output * s * (1 - s)`` with the cached output ``s``."""
        if self._output is None:
            raise missing_forward_error(self)
        output = self._output
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=output.dtype)
        check_grad_output_shape(self, grad, output.shape)

        grad_input = 1.0 - output
        grad_input *= output
        grad_input *= grad

        self._output = None
        return grad_input

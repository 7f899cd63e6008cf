"""Dropout: random zeroing of activations during training."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad._array import Array, as_float_array
from minigrad._random import as_generator
from minigrad.module import Module, check_grad_output_shape, missing_forward_error


class Dropout(Module):
    r"""Inverted dropout: in training mode, zero each element with probability ``p``.

    In training mode (``training`` is True, the default) each element is kept with
    probability ``1 - p`` and the kept elements are scaled by ``1 / (1 - p)``::

        y = x * m / (1 - p)        m_i ~ Bernoulli(1 - p), drawn anew in every forward

    so the expected value of ``y`` equals ``x`` and evaluation needs no rescaling. In
    evaluation mode (after ``eval()``) the layer is the identity. With ``p = 1`` every
    element is dropped and the output is all zeros, as in PyTorch. With ``p = 0`` the layer
    draws no random numbers.

    Derivative: ``dy/dx = m / (1 - p)`` with the mask of the last forward, or 1 when that
    forward ran in evaluation mode. ``backward`` follows the mode of the forward it
    belongs to, even if the mode changed in between.

    The mask comes from ``rng``, not from global random state, so a seed reproduces the
    masks. Numbers are drawn as float64, so float32 and float64 inputs get the same masks.
    PyTorch uses another generator, so its masks differ for the same seed.

    Args:
        p: Probability of zeroing an element, a number in [0, 1]; 0.5 by default, as in
            PyTorch.
        rng: A ``numpy.random.Generator``, an integer seed, or None for fresh entropy.

    Shape:
        forward: ``x (*) -> y (*)``, the same shape.

        backward: ``grad_output (*) -> grad_input (*)``, the shape of ``x``.

    Integer input is computed in float64; float32 input stays float32. The layer caches
    the scaled mask ``m / (1 - p)`` in training mode, and only the shape and dtype in
    evaluation mode.
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(
                f"Dropout: p must be a real number, got {p!r} of type {type(p).__name__}. "
                f"Pass the fraction of elements to zero, such as 0.5."
            )
        if not math.isfinite(p) or not 0 <= p <= 1:
            raise ValueError(
                f"Dropout: p must be a probability in [0, 1], got {p!r}. Pass the fraction "
                f"of elements to zero, such as 0.5."
            )
        self.p = float(p)
        self._generator = as_generator(rng, "Dropout")
        self._scaled_mask: Array | None = None
        self._input_shape: tuple[int, ...] | None = None
        self._dtype: np.dtype[Any] | None = None

    def forward(self, x: Array) -> Array:
        """Return ``x * m / (1 - p)`` in training mode and ``x`` in evaluation mode."""
        array = as_float_array(x, owner=self, name="x")

        scaled_mask: Array | None = None
        output: Array = array
        if self.training and self.p > 0:
            keep = self._generator.random(array.shape) >= self.p
            scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
            scaled_mask = np.where(keep, scale, 0.0).astype(array.dtype)
            output = np.asarray(array * scaled_mask)  # a numpy scalar for 0-d input

        self._scaled_mask = scaled_mask
        self._input_shape = array.shape
        self._dtype = array.dtype
        return output

    def backward(self, grad_output: Array) -> Array:
        """Return ``grad_output * m / (1 - p)``, or ``grad_output`` after an evaluation forward."""
        if self._input_shape is None or self._dtype is None:
            raise missing_forward_error(self)
        grad = as_float_array(grad_output, owner=self, name="grad_output", dtype=self._dtype)
        check_grad_output_shape(self, grad, self._input_shape)

        grad_input = grad
        if self._scaled_mask is not None:
            grad_input = np.asarray(grad * self._scaled_mask)  # a numpy scalar for 0-d input

        self._scaled_mask = None
        self._input_shape = None
        self._dtype = None
        return grad_input

    def extra_repr(self) -> str:
        return f"p={self.p}"

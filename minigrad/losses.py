"""Loss functions: a scalar from a prediction and a target, and its gradient."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from minigrad._array import Array, as_float_array

MSEReduction = Literal["mean", "sum", "half_sum"]


class Loss:
    """Base class of losses.

    ``forward(prediction, target)`` returns the loss as a Python float and caches what
    ``backward`` needs. ``backward()`` takes no argument, because the loss is the end of
    the chain, and returns dL/d(prediction) with the prediction's shape. Each forward
    allows one backward.
    """

    def forward(self, prediction: Array, target: Array) -> float:
        """Return the loss and cache what ``backward`` needs."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement forward(prediction, target)."
        )

    def backward(self) -> Array:
        """Return the gradient of the last loss with respect to the prediction."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward().")

    def __call__(self, prediction: Array, target: Array) -> float:
        return self.forward(prediction, target)

    def extra_repr(self) -> str:
        """Return the configuration shown inside the parentheses of ``repr``."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class MSELoss(Loss):
    r"""Squared error between prediction ``a`` and target ``y``, over all ``n`` elements.

    ================  ==============================  ===========================
    reduction         loss                            dL/da
    ================  ==============================  ===========================
    ``"mean"``        ``sum((a - y)**2) / n``         ``2 * (a - y) / n``
    ``"sum"``         ``sum((a - y)**2)``             ``2 * (a - y)``
    ``"half_sum"``    ``sum((a - y)**2) / 2``         ``a - y``
    ================  ==============================  ===========================

    ``"mean"`` is the default, as in PyTorch's ``MSELoss``. ``"half_sum"`` is the textbook
    cost ``C = 1/2 * ||y - a||**2`` over the batch, whose gradient is exactly ``a - y``.

    Prediction and target must have identical shapes. Broadcasting is rejected, because a
    (4,) target against a (4, 1) prediction would compare every pair of samples and still
    return a plausible number.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"half_sum"``.

    Shape:
        forward: ``prediction (*)`` and ``target (*)``, the same shape with at least one
        element, ``-> float``.

        backward: ``() -> grad_input (*)``, the shape of the prediction.
    """

    def __init__(self, reduction: MSEReduction = "mean") -> None:
        if not isinstance(reduction, str) or reduction not in get_args(MSEReduction):
            raise ValueError(
                f"MSELoss: reduction must be one of {list(get_args(MSEReduction))}, got "
                f"{reduction!r}. Use 'half_sum' for the textbook cost 1/2 * sum((a - y)**2)."
            )
        self.reduction: MSEReduction = reduction
        self._difference: Array | None = None
        self._gradient_scale = 0.0

    def forward(self, prediction: Array, target: Array) -> float:
        """Return the reduced squared error and cache ``prediction - target``."""
        predicted = as_float_array(prediction, owner=self, name="prediction")
        expected = as_float_array(target, owner=self, name="target", dtype=predicted.dtype)
        if predicted.shape != expected.shape:
            raise ValueError(
                f"{self!r}: prediction has shape {predicted.shape} but target has shape "
                f"{expected.shape}; they must be identical. Reshape the target, for "
                f"example target.reshape({', '.join(map(str, predicted.shape)) or '()'})."
            )
        if predicted.size == 0:
            raise ValueError(
                f"{self!r}: the batch is empty (prediction shape {predicted.shape}), so the "
                f"loss is undefined. Skip empty batches before computing the loss."
            )

        difference = predicted - expected
        squared_sum = float(np.vdot(difference, difference))
        if self.reduction == "mean":
            loss = squared_sum / difference.size
            scale = 2.0 / difference.size
        elif self.reduction == "sum":
            loss = squared_sum
            scale = 2.0
        else:
            loss = 0.5 * squared_sum
            scale = 1.0

        self._difference = difference
        self._gradient_scale = scale
        return loss

    def backward(self) -> Array:
        """Return ``scale * (prediction - target)`` for the last ``forward``."""
        if self._difference is None:
            raise RuntimeError(
                f"{self!r}: backward was called without a preceding forward. Call "
                f"loss(prediction, target) first; each forward allows one backward."
            )
        grad_input = self._difference
        if self._gradient_scale != 1.0:
            grad_input *= self._gradient_scale
        self._difference = None
        return grad_input

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"

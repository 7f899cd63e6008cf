"""Loss functions: a scalar from a prediction and a target, and its gradient."""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from minigrad._array import Array, as_float_array, is_private
from minigrad.activations import _sigmoid

Reduction = Literal["mean", "sum"]
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
        _check_reduction(
            self,
            reduction,
            get_args(MSEReduction),
            "Use 'half_sum' for the textbook cost 1/2 * sum((a - y)**2).",
        )
        self.reduction: MSEReduction = reduction
        self._difference: Array | None = None
        self._gradient_scale = 0.0

    def forward(self, prediction: Array, target: Array) -> float:
        """Return the reduced squared error and cache ``prediction - target``."""
        predicted, expected = _as_matching_arrays(self, prediction, target)

        # np.asarray, because arithmetic on 0-d arrays returns numpy scalars.
        difference = np.asarray(predicted - expected)
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
            raise _missing_forward_error(self)
        grad_input = self._difference
        if self._gradient_scale != 1.0:
            grad_input *= self._gradient_scale
        self._difference = None
        return grad_input

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class L1Loss(Loss):
    r"""Absolute error between prediction ``a`` and target ``y``, over all ``n`` elements.

    ================  ==========================  ===========================
    reduction         loss                        dL/da
    ================  ==========================  ===========================
    ``"mean"``        ``sum(|a - y|) / n``        ``sign(a - y) / n``
    ``"sum"``         ``sum(|a - y|)``            ``sign(a - y)``
    ================  ==========================  ===========================

    The absolute value has no derivative where ``a == y``; the gradient uses
    ``sign(0) = 0`` there, as PyTorch does.

    Prediction and target must have identical shapes; broadcasting is rejected, as in
    ``MSELoss``.

    Args:
        reduction: ``"mean"`` (the default, as in PyTorch) or ``"sum"``.

    Shape:
        forward: ``prediction (*)`` and ``target (*)``, the same shape with at least one
        element, ``-> float``.

        backward: ``() -> grad_input (*)``, the shape of the prediction.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        _check_reduction(self, reduction, get_args(Reduction))
        self.reduction: Reduction = reduction
        self._sign: Array | None = None
        self._gradient_scale = 0.0

    def forward(self, prediction: Array, target: Array) -> float:
        """Return the reduced absolute error and cache ``sign(prediction - target)``."""
        predicted, expected = _as_matching_arrays(self, prediction, target)

        # np.asarray, because arithmetic on 0-d arrays returns numpy scalars.
        difference = np.asarray(predicted - expected)
        absolute_sum = float(np.abs(difference).sum())
        scale = 1.0 / difference.size if self.reduction == "mean" else 1.0

        self._sign = np.sign(difference, out=difference)
        self._gradient_scale = scale
        return absolute_sum * scale

    def backward(self) -> Array:
        """Return ``scale * sign(prediction - target)`` for the last ``forward``."""
        if self._sign is None:
            raise _missing_forward_error(self)
        grad_input = self._sign
        if self._gradient_scale != 1.0:
            grad_input *= self._gradient_scale
        self._sign = None
        return grad_input

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class BCELoss(Loss):
    r"""Binary cross-entropy between probabilities ``p`` and targets ``y`` in [0, 1].

    With ``q = clip(p, eps, 1 - eps)`` and ``eps = 1e-7``, each element contributes::

        l = -(y * log(q) + (1 - y) * log(1 - q))

    and the loss is ``sum(l) / n`` for ``"mean"`` (``n`` elements) or ``sum(l)`` for
    ``"sum"``. The derivative is::

        dL/dp = (q - y) / (q * (1 - q))      divided by n for "mean"

    The clip keeps a confident wrong prediction finite: ``p = 1`` with ``y = 0`` gives
    ``-log(1 - (1 - 1e-7)) = 16.118...`` and a gradient of about 1e7, never inf or NaN.
    The gradient is the formula's derivative at ``q``; where the clip is active, the
    clipped function itself would have a zero derivative.

    PyTorch's ``BCELoss`` has no clip but limits each log to >= -100, so the two agree
    only for probabilities inside [1e-7, 1 - 1e-7]. For probabilities from a sigmoid,
    ``BCEWithLogitsLoss`` on the logits is exact and needs no clip.

    Args:
        reduction: ``"mean"`` (the default, as in PyTorch) or ``"sum"``.

    Shape:
        forward: ``prediction (*)`` and ``target (*)``, the same shape with at least one
        element, ``-> float``.

        backward: ``() -> grad_input (*)``, the shape of the prediction.
    """

    eps: float = 1e-7
    """Probabilities are clipped to ``[eps, 1 - eps]`` before the logarithms."""

    def __init__(self, reduction: Reduction = "mean") -> None:
        _check_reduction(self, reduction, get_args(Reduction))
        self.reduction: Reduction = reduction
        self._clipped: Array | None = None
        self._target: Array | None = None
        self._gradient_scale = 0.0

    def forward(self, prediction: Array, target: Array) -> float:
        """Return the reduced binary cross-entropy and cache the clipped probabilities."""
        predicted, expected = _as_matching_arrays(self, prediction, target)
        _check_unit_interval(
            self,
            "prediction",
            predicted,
            "Apply Sigmoid first, or pass the logits to BCEWithLogitsLoss instead.",
        )
        _check_unit_interval(self, "target", expected, "Use 0 and 1 for the two classes.")

        clipped = np.clip(predicted, self.eps, 1.0 - self.eps)
        log_likelihood = expected * np.log(clipped) + (1.0 - expected) * np.log(1.0 - clipped)
        scale = 1.0 / predicted.size if self.reduction == "mean" else 1.0

        self._clipped = clipped
        self._target = expected if is_private(expected, target) else expected.copy()
        self._gradient_scale = scale
        return -float(log_likelihood.sum()) * scale

    def backward(self) -> Array:
        """Return ``scale * (q - y) / (q * (1 - q))`` for the last ``forward``."""
        if self._clipped is None or self._target is None:
            raise _missing_forward_error(self)
        clipped = self._clipped
        grad_input = np.asarray(clipped - self._target)
        grad_input /= clipped * (1.0 - clipped)
        if self._gradient_scale != 1.0:
            grad_input *= self._gradient_scale
        self._clipped = None
        self._target = None
        return grad_input

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class BCEWithLogitsLoss(Loss):
    r"""Binary cross-entropy on logits ``x``: ``BCELoss`` applied to ``sigmoid(x)``, exactly.

    Each element contributes ``l = -(y * log(s) + (1 - y) * log(1 - s))`` with
    ``s = sigmoid(x)``, evaluated in the overflow-free form::

        l = max(x, 0) - x * y + log(1 + exp(-|x|))

    so extreme logits give exact finite values: ``x = 1000`` with ``y = 0`` gives 1000.0.
    The loss is ``sum(l) / n`` for ``"mean"`` (``n`` elements) or ``sum(l)`` for ``"sum"``.

    Derivative: ``dL/dx = sigmoid(x) - y``, divided by ``n`` for ``"mean"``.

    Targets may be any values in [0, 1] (soft labels), as in PyTorch. PyTorch's ``weight``
    and ``pos_weight`` arguments are not supported.

    Args:
        reduction: ``"mean"`` (the default, as in PyTorch) or ``"sum"``.

    Shape:
        forward: ``prediction (*)`` (logits) and ``target (*)``, the same shape with at
        least one element, ``-> float``.

        backward: ``() -> grad_input (*)``, the shape of the prediction.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        _check_reduction(self, reduction, get_args(Reduction))
        self.reduction: Reduction = reduction
        self._residual: Array | None = None
        self._gradient_scale = 0.0

    def forward(self, prediction: Array, target: Array) -> float:
        """Return the reduced binary cross-entropy and cache ``sigmoid(x) - y``."""
        logits, expected = _as_matching_arrays(self, prediction, target)
        _check_unit_interval(self, "target", expected, "Use 0 and 1 for the two classes.")

        losses = np.maximum(logits, 0) - logits * expected + np.log1p(np.exp(-np.abs(logits)))
        scale = 1.0 / logits.size if self.reduction == "mean" else 1.0

        residual = _sigmoid(logits)
        residual -= expected
        self._residual = residual
        self._gradient_scale = scale
        return float(losses.sum()) * scale

    def backward(self) -> Array:
        """Return ``scale * (sigmoid(x) - y)`` for the last ``forward``."""
        if self._residual is None:
            raise _missing_forward_error(self)
        grad_input = self._residual
        if self._gradient_scale != 1.0:
            grad_input *= self._gradient_scale
        self._residual = None
        return grad_input

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(Loss):
    r"""Softmax cross-entropy between logits ``x`` (N, C) and integer class targets ``t`` (N,).

    For sample ``i``, with ``log_softmax(x_i)_c = x_ic - logsumexp(x_i)``::

        l_i = logsumexp(x_i) - x_i[t_i]

    where ``logsumexp(x_i) = m + log(sum_c exp(x_ic - m))`` and ``m = max_c x_ic``. For finite
    logits every exponent is <= 0 and the largest is exactly 0, so the sum lies in [1, C]
    and cannot overflow. Extreme logits therefore give finite values, and often exact ones:
    ``[[10, 920, 30, -500, 40]]`` with target 3 gives exactly 1420.0.

    With ``label_smoothing = e``, the target distribution is ``(1 - e) * onehot(t) + e / C``
    and ``l_i = (1 - e) * (logsumexp(x_i) - x_i[t_i]) + e * mean_c(logsumexp(x_i) - x_ic)``.

    Derivative, with ``s_i = softmax(x_i)``::

        dl_i/dx_i = s_i - ((1 - e) * onehot(t_i) + e / C)

    Samples whose target equals ``ignore_index`` contribute neither loss nor gradient.
    ``"mean"`` divides the sum by the number of other samples, as PyTorch does. When every
    target is ignored, that mean is undefined: ``"mean"`` raises ``ValueError`` (PyTorch
    returns NaN), and ``"sum"`` returns 0.

    Class probabilities as targets (PyTorch's float targets) and the ``weight`` argument
    are not supported.

    Args:
        reduction: ``"mean"`` (the default, as in PyTorch) or ``"sum"``.
        ignore_index: Target value that marks a sample to skip; -100 by default, as in
            PyTorch, so no valid class is ignored.
        label_smoothing: ``e`` above, a number in [0, 1]; 0 by default.

    Shape:
        forward: ``prediction (N, C)`` (logits) and ``target (N,)`` of an integer dtype,
        with ``N >= 1`` and each target in ``0 .. C - 1`` or equal to ``ignore_index``,
        ``-> float``.

        backward: ``() -> grad_input (N, C)``.
    """

    def __init__(
        self,
        reduction: Reduction = "mean",
        *,
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> None:
        _check_reduction(self, reduction, get_args(Reduction))
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
            raise TypeError(
                f"CrossEntropyLoss: ignore_index must be an integer, got {ignore_index!r}. "
                f"Pass the target value that marks samples to skip, such as -100."
            )
        if isinstance(label_smoothing, bool) or not isinstance(
            label_smoothing, (int, float, np.integer, np.floating)
        ):
            raise TypeError(
                f"CrossEntropyLoss: label_smoothing must be a real number, got "
                f"{label_smoothing!r} of type {type(label_smoothing).__name__}. Use 0 for plain "
                f"cross-entropy or a small value such as 0.1."
            )
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be a number in [0, 1], got "
                f"{label_smoothing!r}. Use 0 for plain cross-entropy or a small value "
                f"such as 0.1."
            )
        self.reduction: Reduction = reduction
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)
        self._probabilities: Array | None = None
        self._target: Array | None = None
        self._included: Array | None = None
        self._gradient_scale = 0.0

    def forward(self, prediction: Array, target: Array) -> float:
        """Return the reduced cross-entropy and cache the softmax probabilities."""
        logits = as_float_array(prediction, owner=self, name="prediction")
        if logits.ndim != 2 or 0 in logits.shape:
            raise ValueError(
                f"{self!r}: prediction must be logits of shape (batch_size, num_classes) "
                f"with at least one sample and one class, got shape {logits.shape}. For a "
                f"single sample of shape (C,), pass prediction[None] and target[None]."
            )
        batch_size, class_count = logits.shape
        classes = self._as_class_indices(target, batch_size, class_count)

        included = classes != self.ignore_index
        included_count = int(np.count_nonzero(included))
        if included_count == 0 and self.reduction == "mean":
            raise ValueError(
                f"{self!r}: every target equals ignore_index={self.ignore_index}, so the "
                f"mean over the remaining samples is undefined (PyTorch returns NaN). Skip "
                f"this batch, or use reduction='sum', which gives 0."
            )
        safe_classes = np.where(included, classes, 0)

        shifted = logits - logits.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        sum_exponentials = exponentials.sum(axis=1, keepdims=True)
        log_probabilities = shifted - np.log(sum_exponentials)

        rows = np.arange(batch_size)
        sample_losses = -log_probabilities[rows, safe_classes]
        if self.label_smoothing:
            smooth_losses = -log_probabilities.mean(axis=1)
            sample_losses = (
                1.0 - self.label_smoothing
            ) * sample_losses + self.label_smoothing * smooth_losses
        total = float(np.where(included, sample_losses, 0).sum())
        scale = 1.0 / included_count if self.reduction == "mean" else 1.0

        exponentials /= sum_exponentials
        self._probabilities = exponentials
        self._target = safe_classes
        self._included = included
        self._gradient_scale = scale
        return total * scale

    def backward(self) -> Array:
        """Return ``scale * (softmax(x) - smoothed one-hot targets)`` for the last ``forward``."""
        if self._probabilities is None or self._target is None or self._included is None:
            raise _missing_forward_error(self)
        grad_input = self._probabilities
        batch_size, class_count = grad_input.shape

        if self.label_smoothing:
            grad_input -= self.label_smoothing / class_count
        grad_input[np.arange(batch_size), self._target] -= 1.0 - self.label_smoothing
        grad_input[~self._included] = 0.0
        if self._gradient_scale != 1.0:
            grad_input *= self._gradient_scale

        self._probabilities = None
        self._target = None
        self._included = None
        return grad_input

    def _as_class_indices(self, target: Any, batch_size: int, class_count: int) -> Array:
        """Validate the targets and return them as an int64 array of shape (batch_size,)."""
        classes = np.asarray(target)
        if classes.dtype.kind not in "iu":
            hint = (
                "Convert them with target.astype(np.int64); class probabilities as targets "
                "are not supported."
                if classes.dtype.kind == "f"
                else "Pass an array of integer class indices."
            )
            raise TypeError(
                f"{self!r}: target must contain integer class indices, got dtype "
                f"{classes.dtype}. {hint}"
            )
        if classes.shape != (batch_size,):
            hint = (
                " One-hot targets become class indices with target.argmax(axis=1)."
                if classes.shape == (batch_size, class_count)
                else ""
            )
            raise ValueError(
                f"{self!r}: target must have shape ({batch_size},), one class index per "
                f"row of the prediction, got shape {classes.shape}.{hint}"
            )

        invalid = ((classes < 0) | (classes >= class_count)) & (classes != self.ignore_index)
        invalid_count = int(np.count_nonzero(invalid))
        if invalid_count:
            listed_values = ", ".join(str(value) for value in np.unique(classes[invalid])[:5])
            raise ValueError(
                f"{self!r}: target must contain class indices in 0 .. {class_count - 1} "
                f"for {class_count} classes (or ignore_index={self.ignore_index}), got "
                f"{invalid_count} invalid entries with values {listed_values}, the first at "
                f"position {int(np.flatnonzero(invalid)[0])}. Check that the last layer "
                f"has one output per class and that the labels start at 0."
            )
        return classes.astype(np.int64)

    def extra_repr(self) -> str:
        text = f"reduction={self.reduction!r}"
        if self.ignore_index != -100:
            text += f", ignore_index={self.ignore_index}"
        if self.label_smoothing:
            text += f", label_smoothing={self.label_smoothing}"
        return text


def _check_reduction(
    loss: Loss, reduction: object, allowed: tuple[str, ...], hint: str = ""
) -> None:
    """Raise ``ValueError`` unless ``reduction`` is one of ``allowed``."""
    if isinstance(reduction, str) and reduction in allowed:
        return
    name = type(loss).__name__
    if isinstance(reduction, str) and reduction == "none":
        raise ValueError(
            f"{name}: reduction='none' is not supported, because forward returns a single "
            f"float rather than PyTorch's per-element losses. Use one of {list(allowed)}."
        )
    message = f"{name}: reduction must be one of {list(allowed)}, got {reduction!r}."
    raise ValueError(f"{message} {hint}" if hint else message)


def _as_matching_arrays(loss: Loss, prediction: Any, target: Any) -> tuple[Array, Array]:
    """Convert prediction and target to float arrays of one dtype and identical shapes."""
    predicted = as_float_array(prediction, owner=loss, name="prediction")
    expected = as_float_array(target, owner=loss, name="target", dtype=predicted.dtype)
    if predicted.shape != expected.shape:
        raise ValueError(
            f"{loss!r}: prediction has shape {predicted.shape} but target has shape "
            f"{expected.shape}; they must be identical. Reshape the target, for "
            f"example target.reshape({', '.join(map(str, predicted.shape)) or '()'})."
        )
    if predicted.size == 0:
        raise ValueError(
            f"{loss!r}: the batch is empty (prediction shape {predicted.shape}), so the "
            f"loss is undefined. Skip empty batches before computing the loss."
        )
    return predicted, expected


def _check_unit_interval(loss: Loss, name: str, values: Array, hint: str) -> None:
    """Raise ``ValueError`` unless every entry of ``values`` lies in [0, 1]."""
    outside = ~((values >= 0) & (values <= 1))
    outside_count = int(np.count_nonzero(outside))
    if outside_count:
        first = values[np.unravel_index(int(np.flatnonzero(outside)[0]), values.shape)]
        raise ValueError(
            f"{loss!r}: {name} must lie in [0, 1], got {outside_count} of {values.size} "
            f"entries outside (or NaN), such as {float(first)!r}. {hint}"
        )


def _missing_forward_error(loss: Loss) -> RuntimeError:
    return RuntimeError(
        f"{loss!r}: backward was called without a preceding forward. Call "
        f"loss(prediction, target) first; each forward allows one backward."
    )


"""Classification metrics computed from predictions and targets."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from minigrad._array import Array

Metric = Callable[[Array, Array], float]
"""A function ``metric(prediction, target) -> float``, such as ``accuracy``."""


def accuracy(prediction: npt.ArrayLike, target: npt.ArrayLike) -> float:
    """Return the fraction of samples whose largest score is at the target class.

    ``accuracy = mean(argmax(prediction, axis=1) == target)``. The scores may be logits or
    probabilities, because softmax keeps the order of each row. A tie counts for the first
    of the tied classes, as in ``np.argmax``.

    Shape:
        ``prediction (N, C)`` scores and ``target (N,)`` integer class indices, with
        ``N >= 1`` -> a float in [0, 1].
    """
    scores = np.asarray(prediction)
    classes = np.asarray(target)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(
            f"accuracy: prediction must have shape (samples, classes) with at least one of "
            f"each, got shape {scores.shape}. For one output per sample, use "
            f"binary_accuracy."
        )
    if classes.dtype.kind not in "iu":
        raise TypeError(
            f"accuracy: target must contain integer class indices, got dtype {classes.dtype}. "
            f"Convert one-hot targets with target.argmax(axis=1)."
        )
    if classes.shape != (scores.shape[0],):
        raise ValueError(
            f"accuracy: target must have shape ({scores.shape[0]},), one class index per "
            f"row of the prediction, got shape {classes.shape}."
        )
    out_of_range = (classes < 0) | (classes >= scores.shape[1])
    if np.any(out_of_range):
        index = int(np.argmax(out_of_range))
        raise ValueError(
            f"accuracy: target[{index}] is {int(classes[index])}, but the prediction has "
            f"{scores.shape[1]} classes, so targets must be in 0 .. {scores.shape[1] - 1}."
        )
    return float(np.mean(np.argmax(scores, axis=1) == classes))


def binary_accuracy(
    prediction: npt.ArrayLike, target: npt.ArrayLike, *, threshold: float = 0.5
) -> float:
    """Return the fraction of elements where ``prediction > threshold`` matches the target.

    ``binary_accuracy = mean((prediction > threshold) == (target > 0.5))``. Use the default
    threshold 0.5 for probabilities, such as the output of ``Sigmoid``, and 0 for logits,
    such as the input of ``BCEWithLogitsLoss``, because ``sigmoid(z) > 0.5`` exactly when
    ``z > 0``. Targets are 0 and 1; soft targets count as 1 above 0.5.

    Shape:
        ``prediction (*)`` and ``target (*)``, the same shape with at least one element,
        -> a float in [0, 1].
    """
    if isinstance(threshold, (bool, np.bool_)) or not isinstance(
        threshold, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"binary_accuracy: threshold must be a real number, got {threshold!r}. Pass 0.5 "
            f"for probabilities or 0 for logits."
        )
    if not np.isfinite(threshold):
        raise ValueError(
            f"binary_accuracy: threshold must be finite, got {threshold!r}. Pass 0.5 for "
            f"probabilities or 0 for logits."
        )
    scores = np.asarray(prediction)
    labels = np.asarray(target)
    if scores.shape != labels.shape:
        raise ValueError(
            f"binary_accuracy: prediction has shape {scores.shape} but target has shape "
            f"{labels.shape}. Pass arrays of the same shape, for example (samples, 1) for "
            f"both."
        )
    if scores.size == 0:
        raise ValueError("binary_accuracy: prediction is empty. Pass at least one sample.")
    for name, array in (("prediction", scores), ("target", labels)):
        if array.dtype.kind not in "iuf":
            raise TypeError(
                f"binary_accuracy: {name} must contain real numbers, got dtype {array.dtype}. "
                f"Convert it with np.asarray({name}, dtype=np.float64)."
            )
    return float(np.mean((scores > threshold) == (labels > 0.5)))

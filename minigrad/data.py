"""Mini-batches over in-memory arrays."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from minigrad._array import Array
from minigrad._random import as_generator


class DataLoader:
    """Iterate over mini-batches ``(x_batch, y_batch)`` of two arrays with the same length.

    Each pass over the loader is one epoch: every sample appears in exactly one batch, the
    batches have ``batch_size`` samples, and the last one has the remaining
    ``len(x) % batch_size`` samples unless ``drop_last`` is True. With ``shuffle=True``
    every epoch draws a new permutation of the samples from ``rng``; otherwise the batches
    follow the order of the arrays.

    Unlike PyTorch's ``DataLoader``, which takes a dataset object, this one takes the
    arrays themselves, and it does not convert their dtypes: the model and the loss do.

    Args:
        x: Inputs, an array whose first dimension counts the samples.
        y: Targets, an array with the same length as ``x``.
        batch_size: Samples per batch, a positive integer. A batch size larger than the
            number of samples gives one batch with every sample.
        shuffle: If True, draw a new order of the samples for every epoch.
        rng: A ``numpy.random.Generator`` or an integer seed for the shuffling, or None
            for fresh entropy, which makes the order differ from run to run. Ignored
            when ``shuffle`` is False.
        drop_last: If True, skip the last batch when it has fewer than ``batch_size``
            samples.

    Shape:
        ``x (N, *)`` and ``y (N, *)`` give batches ``x_batch (B, *)`` and ``y_batch (B, *)``
        with ``B <= batch_size``.

    Without shuffling, the batches are views of ``x`` and ``y``; with shuffling they are
    copies. Layers never write into their input, so either is safe to train on.

    Raises:
        ValueError: ``x`` and ``y`` differ in length, either is empty or 0-dimensional,
            ``batch_size`` is below 1, or ``drop_last`` leaves no batch.
        TypeError: ``batch_size`` is not an integer, or ``rng`` is not a Generator, an
            integer or None.
    """

    def __init__(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        batch_size: int = 32,
        *,
        shuffle: bool = False,
        rng: np.random.Generator | int | None = None,
        drop_last: bool = False,
    ) -> None:
        inputs = np.asarray(x)
        targets = np.asarray(y)
        check_batch_size("DataLoader", batch_size)
        check_same_length("DataLoader", inputs, targets)
        for name, value in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"DataLoader: {name} must be True or False, got {value!r}.")
        if drop_last and len(inputs) < batch_size:
            raise ValueError(
                f"DataLoader: drop_last=True with batch_size={batch_size} and only "
                f"{len(inputs)} samples leaves no batch. Use a batch size of at most "
                f"{len(inputs)}, or drop_last=False."
            )

        self.x = inputs
        self.y = targets
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._generator = as_generator(rng, "DataLoader")

    def __len__(self) -> int:
        """Return the number of batches per epoch."""
        full_batches, remainder = divmod(len(self.x), self.batch_size)
        return full_batches + (1 if remainder and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[Array, Array]]:
        sample_count = len(self.x)
        order = self._generator.permutation(sample_count) if self.shuffle else None
        for batch_index in range(len(self)):
            start = batch_index * self.batch_size
            stop = min(start + self.batch_size, sample_count)
            if order is None:
                yield self.x[start:stop], self.y[start:stop]
            else:
                indices = order[start:stop]
                yield self.x[indices], self.y[indices]

    def __repr__(self) -> str:
        return (
            f"DataLoader(samples={len(self.x)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )


def check_batch_size(owner: str, batch_size: object) -> None:
    """Raise unless ``batch_size`` is a positive integer."""
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(
            f"{owner}: batch_size must be a positive integer, got {batch_size!r} of type "
            f"{type(batch_size).__name__}. Pass a whole number such as 32."
        )
    if batch_size < 1:
        raise ValueError(
            f"{owner}: batch_size must be a positive integer, got {batch_size}. Pass a "
            f"whole number such as 32."
        )


def check_same_length(owner: str, x: Array, y: Array, names: tuple[str, str] = ("x", "y")) -> None:
    """Raise ``ValueError`` unless ``x`` and ``y`` are non-empty with the same length."""
    for name, array in zip(names, (x, y), strict=True):
        if array.ndim == 0:
            raise ValueError(
                f"{owner}: {name} must have a first dimension that counts the samples, got a "
                f"0-dimensional array. Pass an array of shape (samples, ...)."
            )
        if len(array) == 0:
            raise ValueError(
                f"{owner}: {name} is empty, so there is no sample to train or evaluate on. "
                f"Pass at least one sample."
            )
    if len(x) != len(y):
        raise ValueError(
            f"{owner}: {names[0]} has {len(x)} samples but {names[1]} has {len(y)}. Pass "
            f"one target per sample: both arrays must have the same length along axis 0."
        )

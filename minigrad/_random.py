"""Conversion of the ``rng`` arguments that layers, initializers and checks accept."""

from __future__ import annotations

import numpy as np


def as_generator(rng: object, owner: str, *, allow_none: bool = True) -> np.random.Generator:
    """Return ``rng`` if it is a Generator, or a new Generator seeded with it.

    An integer seed must be >= 0. None, where ``allow_none`` is True, gives a Generator
    seeded from fresh operating-system entropy. ``owner`` starts every error message.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(
                f"{owner}: the seed rng must be >= 0, got {rng}. Pass a non-negative integer."
            )
        return np.random.default_rng(int(rng))
    if rng is None and allow_none:
        return np.random.default_rng()
    accepted = "a numpy.random.Generator, an integer seed or None"
    if not allow_none:
        accepted = "a numpy.random.Generator or an integer seed"
    raise TypeError(
        f"{owner}: rng must be {accepted}, got {type(rng).__name__}. Create one with "
        f"np.random.default_rng(seed)."
    )

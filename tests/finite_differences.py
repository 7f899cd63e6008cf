"""Central finite differences for checking hand-written gradients in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

STEP = 1e-6
"""Step for float64: the truncation error is O(STEP**2) and the rounding error
O(eps / STEP), with eps = 2.2e-16, so both stay near 1e-10 relative."""


def central_difference(
    function: Callable[[], float], array: npt.NDArray[Any], step: float = STEP
) -> npt.NDArray[np.float64]:
    """Return d(function())/d(array) by central differences, perturbing ``array`` in place.

    ``function`` must read ``array`` each time it is called. Every element is restored
    exactly after its two evaluations.
    """
    gradient = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        upper = function()
        array[index] = original - step
        lower = function()
        array[index] = original
        gradient[index] = (upper - lower) / (2 * step)
    return gradient


def assert_gradient_close(
    analytic: npt.NDArray[Any],
    numeric: npt.NDArray[Any],
    name: str,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> None:
    """Assert that two gradients agree, naming the tensor in the failure message."""
    assert analytic.shape == numeric.shape, (
        f"{name}: analytic shape {analytic.shape} != numeric shape {numeric.shape}"
    )
    np.testing.assert_allclose(
        analytic, numeric, rtol=rtol, atol=atol, err_msg=f"gradient of {name}"
    )

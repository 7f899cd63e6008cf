"""Every built-in layer and loss passes check_layer or check_loss on random shapes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from minigrad import Loss, Module

LAYER_FACTORIES: dict[str, Callable[[int], Module]] = {
    "ReLU": lambda features: minigrad.ReLU(),
    "LeakyReLU": lambda features: minigrad.LeakyReLU(negative_slope=0.2),
    "Tanh": lambda features: minigrad.Tanh(),
    "Softmax-last-axis": lambda features: minigrad.Softmax(axis=-1),
    "Softmax-first-axis": lambda features: minigrad.Softmax(axis=0),
    "Identity": lambda features: minigrad.Identity(),
    "Dropout-eval": lambda features: minigrad.Dropout(0.5, rng=0).eval(),
    "Linear-ReLU-Linear": lambda features: minigrad.Sequential(
        minigrad.Linear(features, 5, rng=1),
        minigrad.ReLU(),
        minigrad.Linear(5, 2, rng=2),
        minigrad.Tanh(),
    ),
}


def input_away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Draw values whose magnitude is at least 0.1, so ReLU's kink at 0 is never crossed."""
    magnitude = rng.uniform(0.1, 2.0, size=shape)
    return np.where(rng.random(shape) < 0.5, -magnitude, magnitude)


@pytest.mark.parametrize("name", sorted(LAYER_FACTORIES))
@given(
    batch=st.integers(1, 4),
    features=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    use_float32=st.booleans(),
)
def test_builtin_layer_passes_kit(
    name: str, batch: int, features: int, seed: int, use_float32: bool
) -> None:
    rng = np.random.default_rng(seed)
    x = input_away_from_kinks(rng, (batch, features))
    if use_float32:
        x = x.astype(np.float32)

    layer = LAYER_FACTORIES[name](features)
    report = minigrad.check_layer(layer, x, rng=seed)

    expected_names = ["input", *(name for name, _ in layer.named_parameters())]
    assert [check.name for check in report.tensors] == expected_names
    assert all(check.passed for check in report.tensors)


LOSS_CASES: dict[str, Callable[[np.random.Generator, int, int], tuple[Loss, object, object]]] = {
    "L1Loss-mean": lambda rng, n, c: (
        minigrad.L1Loss(),
        input_away_from_kinks(rng, (n, c)),
        np.zeros((n, c)),
    ),
    "L1Loss-sum": lambda rng, n, c: (
        minigrad.L1Loss(reduction="sum"),
        input_away_from_kinks(rng, (n, c)),
        np.zeros((n, c)),
    ),
    "BCELoss": lambda rng, n, c: (
        minigrad.BCELoss(),
        rng.uniform(0.05, 0.95, size=(n, c)),
        rng.integers(0, 2, size=(n, c)).astype(np.float64),
    ),
    "BCEWithLogitsLoss": lambda rng, n, c: (
        minigrad.BCEWithLogitsLoss(reduction="sum"),
        rng.normal(scale=3.0, size=(n, c)),
        rng.uniform(0.0, 1.0, size=(n, c)),
    ),
    "CrossEntropyLoss": lambda rng, n, c: (
        minigrad.CrossEntropyLoss(),
        rng.normal(scale=3.0, size=(n, c + 1)),
        rng.integers(0, c + 1, size=n),
    ),
    "CrossEntropyLoss-label-smoothing": lambda rng, n, c: (
        minigrad.CrossEntropyLoss(reduction="sum", label_smoothing=0.1),
        rng.normal(size=(n, c + 1)),
        rng.integers(0, c + 1, size=n),
    ),
    "MSELoss-half-sum": lambda rng, n, c: (
        minigrad.MSELoss(reduction="half_sum"),
        rng.normal(size=(n, c)),
        rng.normal(size=(n, c)),
    ),
}


@pytest.mark.parametrize("name", sorted(LOSS_CASES))
@given(batch=st.integers(1, 4), classes=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_builtin_loss_passes_kit(name: str, batch: int, classes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    loss, prediction, target = LOSS_CASES[name](rng, batch, classes)

    report = minigrad.check_loss(loss, prediction, target, rng=seed)  # type: ignore[arg-type]

    assert [check.name for check in report.tensors] == ["prediction"]
    assert all(check.passed for check in report.tensors)

"""Tests of the accuracy metrics on hand-computed cases and their input checks."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad import accuracy, binary_accuracy


def test_accuracy_counts_argmax_matches() -> None:
    scores = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 0.5], [0.2, 0.3, 0.1], [1.0, 1.0, 5.0]])
    target = np.array([1, 2, 1, 2])

    # Rows 0, 2 and 3 pick the target class; row 1 picks class 0 instead of 2.
    assert accuracy(scores, target) == 0.75


def test_accuracy_tie_picks_first_class() -> None:
    scores = np.array([[1.0, 1.0], [2.0, 2.0]])

    assert accuracy(scores, np.array([0, 1])) == 0.5


def test_accuracy_of_probabilities_equals_logits() -> None:
    logits = np.random.default_rng(0).normal(size=(50, 4))
    target = np.random.default_rng(1).integers(0, 4, size=50)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    assert accuracy(probabilities, target) == accuracy(logits, target)


def test_accuracy_returns_python_float() -> None:
    result = accuracy(np.array([[0.0, 1.0]]), np.array([1], dtype=np.uint8))

    assert type(result) is float
    assert result == 1.0


def test_accuracy_rejects_float_targets() -> None:
    with pytest.raises(TypeError, match=r"target must contain integer class indices, got dtype"):
        accuracy(np.zeros((2, 3)), np.array([0.0, 1.0]))


@pytest.mark.parametrize("shape", [(4,), (4, 0), (0, 3), (2, 2, 2)])
def test_accuracy_rejects_prediction_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"prediction must have shape \(samples, classes\)"):
        accuracy(np.zeros(shape), np.zeros(shape[0] if shape else 0, dtype=np.int64))


def test_accuracy_rejects_target_shape() -> None:
    with pytest.raises(ValueError, match=r"target must have shape \(3,\).*got shape \(3, 1\)"):
        accuracy(np.zeros((3, 2)), np.zeros((3, 1), dtype=np.int64))


def test_binary_accuracy_probabilities() -> None:
    prediction = np.array([[0.9], [0.4], [0.6], [0.1], [0.5]])
    target = np.array([[1.0], [1.0], [0.0], [0.0], [0.0]])

    # Matches: 0.9 -> 1, 0.1 -> 0, and 0.5 is not above 0.5, so it predicts 0.
    assert binary_accuracy(prediction, target) == 0.6


def test_binary_accuracy_logit_threshold() -> None:
    logits = np.array([2.0, -0.5, 0.3, -3.0])
    target = np.array([1, 1, 0, 0])

    # Threshold 0: 2.0 and 0.3 predict 1, so samples 0 and 3 match.
    assert binary_accuracy(logits, target, threshold=0.0) == 0.5
    # Threshold 0.5: only 2.0 predicts 1, so samples 0, 2 and 3 match.
    assert binary_accuracy(logits, target) == 0.75


def test_binary_accuracy_soft_targets() -> None:
    prediction = np.array([0.8, 0.2, 0.7])
    target = np.array([0.9, 0.1, 0.4])

    assert binary_accuracy(prediction, target) == pytest.approx(2 / 3)


def test_binary_accuracy_rejects_shape_mismatch() -> None:
    with pytest.raises(ValueError, match=r"prediction has shape \(4, 1\) but target has shape"):
        binary_accuracy(np.zeros((4, 1)), np.zeros(4))


def test_binary_accuracy_rejects_empty() -> None:
    with pytest.raises(ValueError, match=r"prediction is empty"):
        binary_accuracy(np.zeros((0, 1)), np.zeros((0, 1)))


def test_binary_accuracy_rejects_booleans() -> None:
    with pytest.raises(TypeError, match=r"target must contain real numbers, got dtype bool"):
        binary_accuracy(np.zeros(2), np.array([True, False]))

"""A classifier built only from minigrad layers, loss, init and Adam learns a fixed problem."""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad
from minigrad import init

Array = np.ndarray[Any, Any]

RING_RADII = np.array([0.5, 1.5, 2.5])
"""Class k lies on a circle of radius RING_RADII[k] around the origin."""

RADIAL_NOISE = 0.15
"""Standard deviation of each point's radius, so neighboring rings are 6.7 std apart."""


def make_rings(samples_per_class: int, seed: int) -> tuple[Array, Array]:
    """Draw three noisy concentric rings; return inputs (n, 2) and int64 labels (n,).

    No straight line separates the rings, so a linear model stays near chance level and the
    hidden layer has to do the work.
    """
    generator = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(RING_RADII)), samples_per_class)
    angles = generator.uniform(0.0, 2 * np.pi, size=len(labels))
    radii = RING_RADII[labels] + RADIAL_NOISE * generator.normal(size=len(labels))
    inputs = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    order = generator.permutation(len(labels))
    return inputs[order], labels[order]


def build_classifier(seed: int) -> minigrad.Sequential:
    """Build Linear(2, 32) - ReLU - Linear(32, 3) with a Kaiming-initialized hidden layer."""
    generator = np.random.default_rng(seed)
    hidden = minigrad.Linear(2, 32, rng=generator)
    init.kaiming_uniform_(hidden.weight, nonlinearity="relu", rng=generator)
    if hidden.bias is not None:
        init.zeros_(hidden.bias)
    output = minigrad.Linear(32, 3, rng=generator)
    return minigrad.Sequential(hidden, minigrad.ReLU(), output)


def train(model: minigrad.Module, inputs: Array, labels: Array, steps: int) -> float:
    """Run full-batch Adam steps on the cross-entropy and return the final training loss."""
    loss_function = minigrad.CrossEntropyLoss()
    optimizer = minigrad.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_function(model(inputs), labels)
        model.backward(loss_function.backward())
        optimizer.step()
    return loss_function(model(inputs), labels)


def accuracy(model: minigrad.Module, inputs: Array, labels: Array) -> float:
    return float(np.mean(model(inputs).argmax(axis=1) == labels))


def test_rings_classifier_accuracy() -> None:
    train_inputs, train_labels = make_rings(samples_per_class=100, seed=0)
    test_inputs, test_labels = make_rings(samples_per_class=100, seed=1)
    model = build_classifier(seed=2)

    final_loss = train(model, train_inputs, train_labels, steps=200)

    assert final_loss < 0.05
    assert accuracy(model.eval(), test_inputs, test_labels) >= 0.95


def test_rings_need_hidden_layer() -> None:
    # The same training on a single Linear layer: evidence that the problem is not linear.
    train_inputs, train_labels = make_rings(samples_per_class=100, seed=0)
    test_inputs, test_labels = make_rings(samples_per_class=100, seed=1)
    model = minigrad.Linear(2, 3, rng=2)

    train(model, train_inputs, train_labels, steps=200)

    assert accuracy(model, test_inputs, test_labels) < 0.6

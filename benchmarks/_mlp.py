"""The 784-256-10 MLP of the benchmarks, as minigrad, hand-written numpy and PyTorch loops.

Two models: ``"sigmoid-mse"`` (Linear, Sigmoid, Linear, Sigmoid with the mean squared error
against random targets in [0, 1)) and ``"relu-ce"`` (Linear, ReLU, Linear with the
softmax cross-entropy against random class labels). Inputs are standard normal. Every
variant starts from the same weights, drawn by minigrad's default initialization from a
fixed seed, and trains with plain SGD (learning rate 0.01). One iteration is a training
step: forward pass, the loss as a Python float, backward pass and update.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import _harness
import numpy as np

_harness.add_repository_to_path()
import minigrad  # noqa: E402

IN_FEATURES, HIDDEN_FEATURES, CLASSES = 784, 256, 10
LEARNING_RATE = 0.01
MODELS = ("sigmoid-mse", "relu-ce")


@dataclass
class Problem:
    """The data and initial weights that every variant of one configuration shares."""

    model: str
    x: np.ndarray
    targets: np.ndarray
    labels: np.ndarray
    weights: list[np.ndarray]

    @property
    def dtype(self) -> np.dtype[np.floating]:
        return self.x.dtype


@dataclass
class Variant:
    """A training loop to time, and a function returning its parameters w1, b1, w2, b2."""

    run: _harness.Runner
    parameters: Callable[[], list[np.ndarray]]


def make_problem(model: str, batch_size: int, dtype: type[np.floating]) -> Problem:
    """Draw the data and the initial weights for one configuration, from fixed seeds."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch_size, IN_FEATURES)).astype(dtype)
    targets = rng.random((batch_size, CLASSES)).astype(dtype)
    labels = rng.integers(0, CLASSES, size=batch_size)
    layers = (
        minigrad.Linear(IN_FEATURES, HIDDEN_FEATURES, rng=1, dtype=dtype),
        minigrad.Linear(HIDDEN_FEATURES, CLASSES, rng=2, dtype=dtype),
    )
    weights = [parameter.data.copy() for layer in layers for parameter in layer.parameters()]
    return Problem(model, x, targets, labels, weights)


def minigrad_model(problem: Problem) -> tuple[minigrad.Sequential, minigrad.Loss]:
    """Build the minigrad network and loss of ``problem`` with its initial weights."""
    w1, b1, w2, b2 = problem.weights
    dtype = problem.dtype
    first = minigrad.Linear.from_weights(w1, b1, dtype=dtype)
    second = minigrad.Linear.from_weights(w2, b2, dtype=dtype)
    if problem.model == "sigmoid-mse":
        model = minigrad.Sequential(first, minigrad.Sigmoid(), second, minigrad.Sigmoid())
        return model, minigrad.MSELoss()
    return minigrad.Sequential(first, minigrad.ReLU(), second), minigrad.CrossEntropyLoss()


def minigrad_loop(problem: Problem, *, input_grad: bool) -> Variant:
    model, loss_function = minigrad_model(problem)
    optimizer = minigrad.SGD(model.parameters(), lr=LEARNING_RATE)
    x = problem.x
    target = problem.targets if problem.model == "sigmoid-mse" else problem.labels

    if input_grad:

        def run(iterations: int) -> None:
            for _ in range(iterations):
                optimizer.zero_grad()
                loss = loss_function(model(x), target)  # noqa: F841
                model.backward(loss_function.backward())
                optimizer.step()

    else:

        def run(iterations: int) -> None:
            for _ in range(iterations):
                optimizer.zero_grad()
                loss = loss_function(model(x), target)  # noqa: F841
                model.backward(loss_function.backward(), input_grad=False)
                optimizer.step()

    return Variant(run, lambda: [p.data for p in model.parameters()])


def hand_loop(problem: Problem) -> Variant:
    """Write the training step in numpy as a careful engineer would, without a framework.

    Activations are cached rather than recomputed, the gradient with respect to the data
    is not computed, and each update is ``w -= lr * gradient``.
    """
    w1, b1, w2, b2 = (array.copy() for array in problem.weights)
    x, lr = problem.x, LEARNING_RATE

    if problem.model == "sigmoid-mse":
        y = problem.targets

        def run(iterations: int) -> None:
            nonlocal w1, b1, w2, b2
            for _ in range(iterations):
                hidden = x @ w1.T
                hidden += b1
                hidden = 1.0 / (1.0 + np.exp(-hidden))
                output = hidden @ w2.T
                output += b2
                output = 1.0 / (1.0 + np.exp(-output))
                error = output - y
                loss = float(np.vdot(error, error)) / error.size  # noqa: F841
                delta_output = error * (2.0 / error.size)
                delta_output *= output * (1.0 - output)
                delta_hidden = (delta_output @ w2) * hidden * (1.0 - hidden)
                w2 -= lr * (delta_output.T @ hidden)
                b2 -= lr * delta_output.sum(axis=0)
                w1 -= lr * (delta_hidden.T @ x)
                b1 -= lr * delta_hidden.sum(axis=0)

    else:
        labels = problem.labels
        rows = np.arange(len(labels))

        def run(iterations: int) -> None:
            nonlocal w1, b1, w2, b2
            for _ in range(iterations):
                pre_activation = x @ w1.T
                pre_activation += b1
                hidden = np.maximum(pre_activation, 0)
                logits = hidden @ w2.T
                logits += b2
                shifted = logits - logits.max(axis=1, keepdims=True)
                exponentials = np.exp(shifted)
                sums = exponentials.sum(axis=1, keepdims=True)
                loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))  # noqa: F841
                delta_output = exponentials / sums
                delta_output[rows, labels] -= 1.0
                delta_output /= len(labels)
                delta_hidden = delta_output @ w2
                delta_hidden[pre_activation <= 0] = 0
                w2 -= lr * (delta_output.T @ hidden)
                b2 -= lr * delta_output.sum(axis=0)
                w1 -= lr * (delta_hidden.T @ x)
                b1 -= lr * delta_hidden.sum(axis=0)

    return Variant(run, lambda: [w1, b1, w2, b2])


def torch_loop(problem: Problem, torch: ModuleType, threads: int | None) -> Variant:
    """Write the training step with ``torch.nn`` and ``torch.optim.SGD``."""
    dtype = torch.float32 if problem.dtype == np.float32 else torch.float64
    first = torch.nn.Linear(IN_FEATURES, HIDDEN_FEATURES, dtype=dtype)
    second = torch.nn.Linear(HIDDEN_FEATURES, CLASSES, dtype=dtype)
    with torch.no_grad():
        for parameter, values in zip(
            [*first.parameters(), *second.parameters()], problem.weights, strict=True
        ):
            parameter.copy_(torch.from_numpy(values.copy()))
    if problem.model == "sigmoid-mse":
        model = torch.nn.Sequential(first, torch.nn.Sigmoid(), second, torch.nn.Sigmoid())
        loss_function = torch.nn.MSELoss()
        target = torch.from_numpy(problem.targets)
    else:
        model = torch.nn.Sequential(first, torch.nn.ReLU(), second)
        loss_function = torch.nn.CrossEntropyLoss()
        target = torch.from_numpy(problem.labels)
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    x = torch.from_numpy(problem.x)
    default_threads = torch.get_num_threads()

    def run(iterations: int) -> None:
        torch.set_num_threads(threads or default_threads)
        try:
            for _ in range(iterations):
                optimizer.zero_grad()
                loss = loss_function(model(x), target)
                loss.backward()
                optimizer.step()
                loss.item()
        finally:
            torch.set_num_threads(default_threads)

    def parameters() -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in model.parameters()]

    return Variant(run, parameters)


def build_variants(problem: Problem, torch: ModuleType | None) -> dict[str, Variant]:
    """Return the variants to compare, the careful hand loop first."""
    variants = {
        "hand, careful": hand_loop(problem),
        "minigrad": minigrad_loop(problem, input_grad=True),
        "minigrad, input_grad=False": minigrad_loop(problem, input_grad=False),
    }
    if torch is not None:
        variants["torch, default threads"] = torch_loop(problem, torch, None)
        variants["torch, 1 thread"] = torch_loop(problem, torch, 1)
    return variants


def check_agreement(problem: Problem, torch: ModuleType | None, iterations: int = 3) -> None:
    """Train fresh copies of every variant and raise unless their parameters agree."""
    rtol = 1e-3 if problem.dtype == np.float32 else 1e-9
    variants = build_variants(problem, torch)
    reference = variants["hand, careful"]
    reference.run(iterations)
    for name, variant in variants.items():
        if variant is reference:
            continue
        variant.run(iterations)
        for actual, expected in zip(variant.parameters(), reference.parameters(), strict=True):
            if not np.allclose(actual, expected, rtol=rtol, atol=rtol * 1e-3):
                raise SystemExit(
                    f"{name} computes other parameters than the careful hand loop for "
                    f"{problem.model}, {problem.dtype}, batch {len(problem.x)}."
                )

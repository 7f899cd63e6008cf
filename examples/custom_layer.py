"""Write a layer with a parameter of its own, verify it with check_layer, then train it.

The layer is Swish with a learnable slope per feature, ``y = x * sigmoid(beta * x)``. The
script checks the layer alone and inside a network, and prints both reports. It then fits
``y = sin(2 x)`` on 64 points in [-2, 2] with a 1-16-1 network whose hidden activation is
the new layer, trained by full-batch gradient descent on the mean squared error.

Run it with ``python examples/custom_layer.py``; ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad import Array
from minigrad.module import check_grad_output_shape, missing_forward_error


class Swish(minigrad.Module):
    r"""Swish activation with a learnable slope per feature: ``y = x * sigmoid(beta * x)``.

    With ``s = sigmoid(beta * x)`` and the upstream gradient ``G = dL/dy``, the derivatives
    are::

        dy/dx    = s + beta * x * s * (1 - s)
        dy/dbeta = x**2 * s * (1 - s)

    so ``backward`` returns ``G * dy/dx`` and adds ``G * dy/dbeta``, summed over every
    dimension but the last, into ``beta.grad``.

    Args:
        num_features: Size of the last dimension of the input, a positive integer.
        beta: Initial slope of every feature. With beta = 1 the layer starts as SiLU.

    Shape:
        forward: ``x (*, num_features) -> y (*, num_features)``.

        backward: ``grad_output (*, num_features) -> grad_input (*, num_features)``;
        ``beta.grad (num_features,)``.
    """

    def __init__(self, num_features: int, beta: float = 1.0) -> None:
        if isinstance(num_features, bool) or not isinstance(num_features, int) or num_features < 1:
            raise ValueError(
                f"Swish: num_features must be a positive integer, got {num_features!r}."
            )
        self.num_features = num_features
        self.beta = minigrad.Parameter(np.full(num_features, beta))
        self._input: Array | None = None
        self._sigmoid: Array | None = None

    def forward(self, x: Array) -> Array:
        """Return ``x * sigmoid(beta * x)`` and cache ``x`` and the sigmoid for backward."""
        # The copy is private, because the caller may change x before backward runs.
        array = np.array(x, dtype=np.float64)
        if array.ndim == 0 or array.shape[-1] != self.num_features:
            raise ValueError(
                f"{self!r}: expected input with {self.num_features} features in its last "
                f"dimension, got shape {array.shape}. Pass x with shape "
                f"(batch_size, {self.num_features})."
            )
        sigmoid = _sigmoid(self.beta.data * array)

        self._input = array
        self._sigmoid = sigmoid
        output: Array = array * sigmoid
        return output

    def backward(self, grad_output: Array) -> Array:
        """Add ``G * dy/dbeta`` into ``beta.grad`` and return ``G * dy/dx``."""
        if self._input is None or self._sigmoid is None:
            raise missing_forward_error(self)
        x, s = self._input, self._sigmoid
        grad = np.asarray(grad_output, dtype=np.float64)
        check_grad_output_shape(self, grad, x.shape)

        slope = s * (1.0 - s)
        grad_input: Array = grad * (s + self.beta.data * x * slope)
        grad_beta = (grad * x * x * slope).reshape(-1, self.num_features).sum(axis=0)

        self.beta.grad += grad_beta
        self._input = None
        self._sigmoid = None
        return grad_input

    def extra_repr(self) -> str:
        return f"num_features={self.num_features}"


def _sigmoid(z: Array) -> Array:
    """Return ``1 / (1 + exp(-z))`` without overflow, using ``exp(-|z|)`` <= 1."""
    exp_neg_abs = np.exp(-np.abs(z))
    result: Array = np.where(z >= 0, 1.0, exp_neg_abs) / (1.0 + exp_neg_abs)
    return result


@dataclass(frozen=True)
class ExampleResult:
    """The reports of the two checks and the outcome of training."""

    layer_report: minigrad.GradientCheckReport
    network_report: minigrad.GradientCheckReport
    losses: list[float]
    """Training loss before each step, then the loss after the last step."""
    target_variance: float
    """Mean squared error of the best constant prediction, the baseline for the loss."""
    beta: Array
    """Slopes of the Swish layer after training."""


def build_network(seed: int) -> minigrad.Sequential:
    """Build the 1-16-1 network with a Swish hidden layer, initialized from ``seed``."""
    generator = np.random.default_rng(seed)
    return minigrad.Sequential(
        minigrad.Linear(1, 16, rng=generator),
        Swish(16),
        minigrad.Linear(16, 1, rng=generator),
    )


def make_data() -> tuple[Array, Array]:
    """Return 64 inputs evenly spaced in [-2, 2], shape (64, 1), and ``sin(2 x)``."""
    inputs = np.linspace(-2.0, 2.0, 64).reshape(-1, 1)
    return inputs, np.sin(2.0 * inputs)


def train(network: minigrad.Sequential, steps: int, lr: float) -> list[float]:
    """Train ``network`` on the full batch and return the loss before each step and after
    the last one."""
    inputs, targets = make_data()
    loss_function = minigrad.MSELoss()
    optimizer = minigrad.SGD(network.parameters(), lr=lr)

    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        losses.append(loss_function(network(inputs), targets))
        network.backward(loss_function.backward())
        optimizer.step()
    losses.append(loss_function(network(inputs), targets))
    return losses


def run(seed: int, steps: int, lr: float) -> ExampleResult:
    """Check the layer and the network with check_layer, then train the network."""
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(4, 3))
    layer_report = minigrad.check_layer(Swish(3, beta=0.7), x)

    network = build_network(seed)
    network_report = minigrad.check_layer(network, generator.normal(size=(5, 1)))

    losses = train(network, steps, lr)
    swish = network[1]
    if not isinstance(swish, Swish):
        raise TypeError(f"expected a Swish layer at position 1, got {swish!r}")
    _, targets = make_data()
    return ExampleResult(
        layer_report=layer_report,
        network_report=network_report,
        losses=losses,
        target_variance=float(np.var(targets)),
        beta=swish.beta.data.copy(),
    )


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the weights and check inputs (default: 0)"
    )
    parser.add_argument(
        "--steps", type=int, default=3000, help="gradient descent steps (default: 3000)"
    )
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    arguments = parser.parse_args(argv)
    if arguments.steps < 0:
        parser.error(f"--steps must be >= 0, got {arguments.steps}")
    if arguments.seed < 0:
        parser.error(f"--seed must be >= 0, got {arguments.seed}")
    if not np.isfinite(arguments.lr) or arguments.lr < 0:
        parser.error(f"--lr must be a finite number >= 0, got {arguments.lr}")
    return arguments


def main(argv: Sequence[str] | None = None) -> ExampleResult:
    """Run the example, print the reports and the training result, and return them."""
    arguments = parse_arguments(argv)
    result = run(arguments.seed, arguments.steps, arguments.lr)

    print(result.layer_report)
    print()
    print(result.network_report)
    print()
    print(f"Mean squared error of the best constant: {result.target_variance:.4f}")
    print(f"Loss before training: {result.losses[0]:.4f}")
    print(f"Loss after {arguments.steps} steps: {result.losses[-1]:.4f}")
    with np.printoptions(precision=3, suppress=True):
        print("Learned slopes beta:", result.beta)
    return result


if __name__ == "__main__":
    main()

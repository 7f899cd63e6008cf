"""Train the textbook's two-layer sigmoid network on its XOR-like data set.

The network is 3-4-1: three inputs (two bits and a constant 1, which acts as the bias),
four sigmoid hidden units, one sigmoid output, and no bias parameters. Weights are drawn
uniformly from [0, 1) by numpy's legacy generator, seeded with 1, first the (3, 4) hidden
matrix and then the (4, 1) output matrix. Training runs 1000 full-batch steps of gradient
descent with learning rate 1 on the cost C = 1/2 * sum((y - a)**2).

With the defaults the script prints the textbook's numbers::

    Initial output
     [[ 0.758]
     [ 0.771]
     [ 0.791]
     [ 0.801]]
    Trained output
     [[ 0.028]
     [ 0.925]
     [ 0.925]
     [ 0.090]]
    Output for [1, 0, 1] after training
     [[ 0.925]]

With ``--output DIR`` the script also writes ``xor_loss.png`` into ``DIR``: the cost of
each iteration. The plot needs matplotlib: ``pip install -e ".[plot]"``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import numpy as np

import minigrad
from minigrad import Array

INPUTS = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
TARGETS = np.array([[0], [1], [1], [0]], dtype=np.float64)
TEST_INPUT = np.array([[1, 0, 1]], dtype=np.float64)


def build_network(seed: int) -> minigrad.Sequential:
    """Build the 3-4-1 sigmoid network with the textbook's initial weights for ``seed``.

    ``RandomState(seed).random_sample`` draws the same numbers as the textbook's
    ``np.random.seed(seed)`` followed by ``np.random.random``, without touching numpy's
    global generator.
    """
    legacy_generator = np.random.RandomState(seed)
    hidden_weight = legacy_generator.random_sample((3, 4))
    output_weight = legacy_generator.random_sample((4, 1))

    # The textbook computes a @ w; Linear stores w as (out_features, in_features).
    return minigrad.Sequential(
        minigrad.Linear.from_weights(hidden_weight.T),
        minigrad.Sigmoid(),
        minigrad.Linear.from_weights(output_weight.T),
        minigrad.Sigmoid(),
    )


def train(
    network: minigrad.Sequential, iterations: int, lr: float
) -> tuple[Array, Array, list[float]]:
    """Train ``network`` on the full batch and return the initial output, the output
    after training and the loss of each iteration."""
    loss_function = minigrad.MSELoss(reduction="half_sum")
    optimizer = minigrad.SGD(network.parameters(), lr=lr)

    # A forward without backward changes nothing but the cache, which the next forward replaces.
    initial_output = network(INPUTS)

    losses = []
    for _ in range(iterations):
        optimizer.zero_grad()
        output = network(INPUTS)
        losses.append(loss_function(output, TARGETS))
        network.backward(loss_function.backward())
        optimizer.step()
    return initial_output, network(INPUTS), losses


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--seed", type=int, default=1, help="seed of the initial weights (default: 1)"
    )
    parser.add_argument(
        "--iterations", type=int, default=1000, help="training iterations (default: 1000)"
    )
    parser.add_argument("--lr", type=float, default=1.0, help="learning rate (default: 1.0)")
    parser.add_argument(
        "--output",
        default=None,
        help="folder for xor_loss.png, created if missing (default: no plot)",
    )
    arguments = parser.parse_args(argv)
    if arguments.iterations < 0:
        parser.error(f"--iterations must be >= 0, got {arguments.iterations}")
    if not 0 <= arguments.seed < 2**32:
        parser.error(f"--seed must be between 0 and 2**32 - 1, got {arguments.seed}")
    if not np.isfinite(arguments.lr) or arguments.lr < 0:
        parser.error(f"--lr must be a finite number >= 0, got {arguments.lr}")
    return arguments


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    if arguments.output is not None and arguments.iterations > 0:
        try:
            import matplotlib  # noqa: F401, checked before the training starts
        except ImportError as error:
            raise SystemExit(
                'The --output plot needs matplotlib. Install it with pip install -e ".[plot]".'
            ) from error
    network = build_network(arguments.seed)
    initial_output, trained_output, losses = train(network, arguments.iterations, arguments.lr)
    test_output = network(TEST_INPUT)

    with np.printoptions(formatter={"float": "{: 0.3f}".format}):
        print("Initial output\n", initial_output)
        print("Trained output\n", trained_output)
        print("Output for [1, 0, 1] after training\n", test_output)

    if arguments.output is not None:
        if not losses:
            print("no loss curve written: --iterations 0 runs no iteration")
            return
        os.makedirs(arguments.output, exist_ok=True)
        path = os.path.join(arguments.output, "xor_loss.png")
        minigrad.plot_history(
            {"cost": losses}, path, title="XOR: 3-4-1 sigmoid network", xlabel="iteration"
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

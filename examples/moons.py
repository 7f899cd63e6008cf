"""Separate two interleaved half circles ("two moons") and draw the decision boundary.

The data are generated here with numpy. Half of the points lie on the upper half circle
of radius 1 around (0, 0) and have label 0. The other half lie on the lower half circle
around (1, 0.5) and have label 1. Every coordinate gets Gaussian noise. A quarter of
the points are kept as the test set. A 2-16-16-1 network with Tanh activations is trained
on the logits with ``BCEWithLogitsLoss`` and Adam through ``minigrad.fit``.

With ``--output DIR`` the script writes ``moons_boundary.png`` into ``DIR``: the
network's probability of label 1 over the plane, the 0.5 boundary, and the points.

Run it with ``python examples/moons.py --output plots``; ``--help`` lists the options.
The plot needs matplotlib: ``pip install -e ".[examples]"``.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import minigrad
from minigrad import Array
from minigrad.training import Progress

GRID_POINTS = 200


@dataclass
class Result:
    """Results of a run: the data, the trained model and its test accuracy."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array
    model: minigrad.Sequential
    test_accuracy: float


def make_moons(sample_count: int, noise: float, rng: np.random.Generator) -> tuple[Array, Array]:
    """Return ``sample_count`` points of shape (N, 2) and labels of shape (N, 1) in {0, 1}.

    Label 0 lies on ``(cos t, sin t)`` and label 1 on ``(1 - cos t, 0.5 - sin t)`` for
    angles ``t`` drawn uniformly from [0, pi]. ``noise`` is the standard deviation of the
    Gaussian noise added to each coordinate.
    """
    upper_count = sample_count // 2
    lower_count = sample_count - upper_count
    upper_angles = rng.uniform(0.0, math.pi, upper_count)
    lower_angles = rng.uniform(0.0, math.pi, lower_count)
    upper = np.column_stack([np.cos(upper_angles), np.sin(upper_angles)])
    lower = np.column_stack([1.0 - np.cos(lower_angles), 0.5 - np.sin(lower_angles)])

    points = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (sample_count, 2))
    labels = np.concatenate([np.zeros(upper_count), np.ones(lower_count)])[:, None]
    return points, labels


def build_model(rng: np.random.Generator) -> minigrad.Sequential:
    """Build the 2-16-16-1 network, which outputs one logit per point."""
    return minigrad.Sequential(
        minigrad.Linear(2, 16, rng=rng),
        minigrad.Tanh(),
        minigrad.Linear(16, 16, rng=rng),
        minigrad.Tanh(),
        minigrad.Linear(16, 1, rng=rng),
    )


def run(
    *,
    samples: int = 300,
    noise: float = 0.15,
    epochs: int = 150,
    lr: float = 0.01,
    seed: int = 0,
    progress: Progress = "auto",
) -> Result:
    """Generate the data, train the network and return it with its test accuracy.

    ``seed`` selects the points, the test split, the initial weights and the batch order.
    """
    rng = np.random.default_rng(seed)
    points, labels = make_moons(samples, noise, rng)
    order = rng.permutation(samples)
    test_count = samples // 4
    test, train = order[:test_count], order[test_count:]

    model = build_model(rng)
    loss_function = minigrad.BCEWithLogitsLoss()
    minigrad.fit(
        model,
        loss_function,
        minigrad.Adam(model.parameters(), lr=lr),
        points[train],
        labels[train],
        epochs=epochs,
        batch_size=32,
        rng=rng,
        metrics=["accuracy"],
        progress=progress,
    )
    test_accuracy = minigrad.evaluate(
        model, loss_function, points[test], labels[test], metrics=["accuracy"]
    )["accuracy"]
    return Result(points[train], labels[train], points[test], labels[test], model, test_accuracy)


def plot_decision_boundary(result: Result, path: str | os.PathLike[str]) -> None:
    """Save the probability of label 1 over the plane, the 0.5 boundary and the points."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    every_point = np.concatenate([result.x_train, result.x_test])
    low = every_point.min(axis=0) - 0.5
    high = every_point.max(axis=0) + 0.5
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], GRID_POINTS), np.linspace(low[1], high[1], GRID_POINTS)
    )
    logits = minigrad.predict(result.model, np.column_stack([grid_x.ravel(), grid_y.ravel()]))
    probability = (1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))).reshape(grid_x.shape)

    figure = Figure(figsize=(6, 4.8), layout="constrained")
    axes = figure.subplots()
    filled = axes.contourf(grid_x, grid_y, probability, levels=20, cmap="RdBu_r", alpha=0.75)
    axes.contour(grid_x, grid_y, probability, levels=[0.5], colors="black", linewidths=1.5)
    figure.colorbar(filled, ax=axes, label="probability of label 1")
    for points, labels, marker in (
        (result.x_train, result.y_train, "o"),
        (result.x_test, result.y_test, "^"),
    ):
        axes.scatter(
            points[:, 0],
            points[:, 1],
            c=labels.ravel(),
            cmap="RdBu_r",
            vmin=0,
            vmax=1,
            marker=marker,
            edgecolors="black",
            linewidths=0.5,
            s=24,
        )
    # Gray legend markers, because the colour of a point shows its label, not its set.
    marker_keys = [
        Line2D([], [], marker=marker, linestyle="", color="lightgray", markeredgecolor="black")
        for marker in ("o", "^")
    ]
    axes.legend(marker_keys, ["training", "test"], loc="lower left")
    axes.set_title(f"Two moons: test accuracy {result.test_accuracy:.3f}")
    axes.set_xlabel("x1")
    axes.set_ylabel("x2")
    figure.savefig(path, dpi=100)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="number of points (>= 8)")
    parser.add_argument("--noise", type=float, default=0.15, help="standard deviation of the noise")
    parser.add_argument("--epochs", type=int, default=150, help="passes over the training set")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate of Adam")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the points, the weights and the batch order"
    )
    parser.add_argument(
        "--output",
        default=None,
        help="folder for the PNG plot, created if missing (default: no plot)",
    )
    parser.add_argument(
        "--progress",
        choices=["auto", "bar", "log", "off"],
        default="auto",
        help="progress report: a tqdm bar, log lines, or nothing (default: auto)",
    )
    arguments = parser.parse_args(argv)
    if arguments.samples < 8:
        parser.error(f"--samples must be >= 8, got {arguments.samples}")
    if arguments.epochs < 1:
        parser.error(f"--epochs must be >= 1, got {arguments.epochs}")
    if not 0 <= arguments.seed < 2**32:
        parser.error(f"--seed must be between 0 and 2**32 - 1, got {arguments.seed}")
    if not math.isfinite(arguments.noise) or arguments.noise < 0:
        parser.error(f"--noise must be a finite number >= 0, got {arguments.noise}")
    if not math.isfinite(arguments.lr) or arguments.lr <= 0:
        parser.error(f"--lr must be a finite number > 0, got {arguments.lr}")
    return arguments


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if arguments.output is not None:
        try:
            import matplotlib  # noqa: F401, checked before the training starts
        except ImportError as error:
            raise SystemExit(
                'The --output plot needs matplotlib. Install it with pip install -e ".[examples]".'
            ) from error

    result = run(
        samples=arguments.samples,
        noise=arguments.noise,
        epochs=arguments.epochs,
        lr=arguments.lr,
        seed=arguments.seed,
        progress=arguments.progress,
    )
    print(f"test accuracy: {result.test_accuracy:.4f}")

    if arguments.output is not None:
        os.makedirs(arguments.output, exist_ok=True)
        path = os.path.join(arguments.output, "moons_boundary.png")
        plot_decision_boundary(result, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

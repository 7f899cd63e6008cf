"""Classify scikit-learn's 8x8 handwritten digits with a Linear-ReLU-Linear network.

The data set has 1797 grayscale images of 8x8 pixels with values 0 to 16, and ships inside
scikit-learn, so nothing is downloaded. The script scales the pixels to [0, 1] and keeps a
stratified quarter of the images as the test set. It trains a 64-256-10 network with
cross-entropy and Adam (learning rate 1e-3, weight decay 1e-4) through ``minigrad.fit``,
for 60 epochs of batches of 32. The test set is passed as ``validation_data`` only to
record its loss and accuracy after each epoch; no setting is chosen from it.

With ``--output DIR`` the script writes two PNG files into ``DIR``:
``digits_loss.png`` with the loss and accuracy curves, and ``digits_misclassified.png``
with up to 10 test images that the network gets wrong.

Run it with ``python examples/digits.py --output plots``; ``--help`` lists the options.
It needs the ``examples`` extra: ``pip install -e ".[examples]"``.
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

IMAGE_SIDE = 8
PIXEL_MAXIMUM = 16.0
MISCLASSIFIED_SHOWN = 10


@dataclass
class DigitsData:
    """The scaled images as rows of 64 pixels in [0, 1], and their labels 0 to 9."""

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array


@dataclass
class Result:
    """Results of a run: the data, the trained model, its history and the test results."""

    data: DigitsData
    model: minigrad.Sequential
    history: minigrad.History
    test_accuracy: float
    test_prediction: Array


def load_data(seed: int, test_fraction: float = 0.25) -> DigitsData:
    """Load the digits, scale the pixels to [0, 1] and split off a stratified test set."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise SystemExit(
            'examples/digits.py needs scikit-learn. Install it with pip install -e ".[examples]".'
        ) from error

    digits = load_digits()
    x = np.asarray(digits.data, dtype=np.float64) / PIXEL_MAXIMUM
    y = np.asarray(digits.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return DigitsData(x_train, y_train, x_test, y_test)


def build_model(hidden_units: int, rng: np.random.Generator) -> minigrad.Sequential:
    """Build the 64-hidden_units-10 network with initial weights drawn from ``rng``."""
    return minigrad.Sequential(
        minigrad.Linear(IMAGE_SIDE * IMAGE_SIDE, hidden_units, rng=rng),
        minigrad.ReLU(),
        minigrad.Linear(hidden_units, 10, rng=rng),
    )


def run(
    *,
    epochs: int = 60,
    batch_size: int = 32,
    lr: float = 1e-3,
    hidden_units: int = 256,
    seed: int = 0,
    progress: Progress = "auto",
) -> Result:
    """Train the network with the given settings and return it with its test accuracy.

    ``seed`` selects the test split, the initial weights and the order of the batches.
    """
    data = load_data(seed)
    rng = np.random.default_rng(seed)
    model = build_model(hidden_units, rng)
    loss_function = minigrad.CrossEntropyLoss()
    optimizer = minigrad.Adam(model.parameters(), lr=lr, weight_decay=1e-4)

    history = minigrad.fit(
        model,
        loss_function,
        optimizer,
        data.x_train,
        data.y_train,
        epochs=epochs,
        batch_size=batch_size,
        rng=rng,
        validation_data=(data.x_test, data.y_test),
        metrics=["accuracy"],
        progress=progress,
    )
    test_prediction = minigrad.predict(model, data.x_test).argmax(axis=1)
    test_accuracy = float(np.mean(test_prediction == data.y_test))
    return Result(data, model, history, test_accuracy, test_prediction)


def plot_misclassified(
    images: Array, labels: Array, predictions: Array, path: str | os.PathLike[str]
) -> int:
    """Save a grid of up to 10 misclassified images to ``path`` and return the number wrong."""
    from matplotlib.figure import Figure

    wrong = np.flatnonzero(predictions != labels)
    shown = wrong[:MISCLASSIFIED_SHOWN]
    columns = 5
    rows = max(1, math.ceil(len(shown) / columns))
    figure = Figure(figsize=(1.6 * columns, 1.9 * rows), layout="constrained")
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    for position, axes in enumerate(axes_grid.ravel()):
        axes.set_axis_off()
        if position < len(shown):
            index = shown[position]
            axes.imshow(images[index].reshape(IMAGE_SIDE, IMAGE_SIDE), cmap="gray_r")
            axes.set_title(f"true {labels[index]}, got {predictions[index]}", fontsize=9)
    if len(shown) == 0:
        figure.suptitle("No misclassified test images")
    else:
        figure.suptitle(f"{len(shown)} of {len(wrong)} misclassified test images")
    figure.savefig(path, dpi=100)
    return len(wrong)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60, help="passes over the training set")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per batch")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning rate of Adam")
    parser.add_argument("--hidden-units", type=int, default=256, help="width of the hidden layer")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split, the weights and the batch order"
    )
    parser.add_argument(
        "--output",
        default=None,
        help="folder for the PNG plots, created if missing (default: no plots)",
    )
    parser.add_argument(
        "--progress",
        choices=["auto", "bar", "log", "off"],
        default="auto",
        help="progress report: a tqdm bar, log lines, or nothing (default: auto)",
    )
    arguments = parser.parse_args(argv)
    for option in ("epochs", "batch_size", "hidden_units"):
        if getattr(arguments, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1")
    if not 0 <= arguments.seed < 2**32:
        parser.error(f"--seed must be between 0 and 2**32 - 1, got {arguments.seed}")
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
                'The --output plots need matplotlib. Install it with pip install -e ".[examples]".'
            ) from error

    result = run(
        epochs=arguments.epochs,
        batch_size=arguments.batch_size,
        lr=arguments.lr,
        hidden_units=arguments.hidden_units,
        seed=arguments.seed,
        progress=arguments.progress,
    )
    minigrad.summary(result.model, (1, IMAGE_SIDE * IMAGE_SIDE))
    print(f"test accuracy: {result.test_accuracy:.4f}")

    if arguments.output is not None:
        os.makedirs(arguments.output, exist_ok=True)
        loss_path = os.path.join(arguments.output, "digits_loss.png")
        title = f"Digits: 64-{arguments.hidden_units}-10 network"
        minigrad.plot_history(result.history, loss_path, title=title, validation_label="test")
        grid_path = os.path.join(arguments.output, "digits_misclassified.png")
        wrong = plot_misclassified(
            result.data.x_test, result.data.y_test, result.test_prediction, grid_path
        )
        print(f"wrote {loss_path} and {grid_path} ({wrong} misclassified test images)")


if __name__ == "__main__":
    main()

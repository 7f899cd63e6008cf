"""Plots of a training history, drawn with matplotlib (the ``plot`` extra)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from minigrad.serialization import StrPath
from minigrad.training import History

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_history(
    history: History | Mapping[str, Sequence[float]],
    path: StrPath | None = None,
    *,
    title: str | None = None,
    xlabel: str = "epoch",
    validation_label: str = "validation",
) -> Figure:
    """Draw one panel per quantity, such as loss and accuracy, with its validation curve.

    Each name without the ``val_`` prefix gets a panel, in the order of the history. The
    values under ``val_<name>``, if present, are drawn in the same panel. The x values are
    ``history.epoch`` for a ``History`` and 1, 2, ... for a mapping.

    The figure is created without ``matplotlib.pyplot``, so it works without a display
    and leaves pyplot's current figure alone. To show it in a notebook, display the
    returned figure.

    Args:
        history: A ``History`` from ``fit``, or a mapping from names to values, such as
            ``{"loss": losses}``.
        path: File to save the figure to, such as ``"loss.png"``; the format follows the
            suffix. None saves nothing.
        title: Title above the panels, or None.
        xlabel: Label of the x axes, ``"epoch"`` by default.
        validation_label: Legend entry for the ``val_`` curves, such as ``"test"`` when
            the validation data is the test set.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: The history is empty or its lists differ in length.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plot_history needs matplotlib, which is not installed. Install it with pip "
            'install matplotlib (or pip install -e ".[plot]" in a minigrad checkout).'
        ) from error

    values = history.history if isinstance(history, History) else dict(history)
    names = [name for name in values if not name.startswith("val_")]
    lengths = {len(series) for series in values.values()}
    if not names or lengths == {0}:
        raise ValueError(
            "plot_history: the history is empty, so there is nothing to draw. Pass the "
            "History that fit returned after at least one epoch."
        )
    if len(lengths) != 1:
        raise ValueError(
            f"plot_history: the lists have different lengths {sorted(lengths)}, but every "
            f"name needs one value per epoch."
        )
    length = lengths.pop()
    steps: Sequence[int] = history.epoch if isinstance(history, History) else range(1, length + 1)

    figure = Figure(figsize=(5 * len(names), 3.6), layout="constrained")
    axes_list: list[Any] = list(figure.subplots(1, len(names), squeeze=False)[0])
    for axes, name in zip(axes_list, names, strict=True):
        axes.plot(steps, values[name], marker="." if length <= 50 else None, label="training")
        if f"val_{name}" in values:
            axes.plot(
                steps,
                values[f"val_{name}"],
                marker="." if length <= 50 else None,
                label=validation_label,
            )
            axes.legend()
        axes.set_xlabel(xlabel)
        axes.set_ylabel(name)
        axes.grid(alpha=0.3)
    if title is not None:
        figure.suptitle(title)
    if path is not None:
        figure.savefig(path, dpi=100)
    return figure

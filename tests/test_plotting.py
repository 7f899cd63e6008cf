"""Tests of plot_history: written PNG files, panels and errors, with matplotlib optional."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from minigrad import History, plot_history

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_history() -> History:
    history = History()
    for epoch, (loss, accuracy) in enumerate([(2.0, 0.5), (1.0, 0.7), (0.5, 0.9)], start=1):
        logs = {"loss": loss, "accuracy": accuracy, "val_loss": loss + 0.1}
        history.append(epoch, {**logs, "val_accuracy": accuracy - 0.05})
    return history


def test_plot_history_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    path = tmp_path / "history.png"

    figure = plot_history(make_history(), path, title="run")

    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = imread(path)
    assert image.shape[0] > 0
    assert image.shape[1] > image.shape[0]
    assert len(figure.axes) == 2


def test_plot_history_panels_and_curves() -> None:
    pytest.importorskip("matplotlib")

    figure = plot_history(make_history(), validation_label="test")

    loss_axes, accuracy_axes = figure.axes
    assert loss_axes.get_ylabel() == "loss"
    assert accuracy_axes.get_ylabel() == "accuracy"
    assert [line.get_label() for line in loss_axes.get_lines()] == ["training", "test"]
    assert list(loss_axes.get_lines()[0].get_xdata()) == [1, 2, 3]
    assert list(loss_axes.get_lines()[1].get_ydata()) == pytest.approx([2.1, 1.1, 0.6])
    assert list(accuracy_axes.get_lines()[0].get_ydata()) == [0.5, 0.7, 0.9]


def test_plot_history_from_mapping() -> None:
    pytest.importorskip("matplotlib")

    figure = plot_history({"cost": [3.0, 2.0, 1.5, 1.0]}, xlabel="iteration")

    (axes,) = figure.axes
    assert axes.get_xlabel() == "iteration"
    assert list(axes.get_lines()[0].get_xdata()) == [1, 2, 3, 4]
    assert axes.get_legend() is None


def test_plot_history_rejects_empty() -> None:
    pytest.importorskip("matplotlib")

    with pytest.raises(ValueError, match=r"the history is empty"):
        plot_history(History())


def test_plot_history_rejects_uneven_lists() -> None:
    pytest.importorskip("matplotlib")

    with pytest.raises(ValueError, match=r"the lists have different lengths \[2, 3\]"):
        plot_history({"loss": [1.0, 2.0, 3.0], "val_loss": [1.0, 2.0]})


def test_plot_history_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)

    with pytest.raises(ImportError, match=r'pip install matplotlib'):
        plot_history(make_history())


def test_import_does_not_load_extras() -> None:
    code = (
        "import sys, minigrad; "
        "print([name for name in ('matplotlib', 'tqdm', 'sklearn') if name in sys.modules])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == "[]\n"

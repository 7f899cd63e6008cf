"""Smoke tests of the digits, moons and XOR examples: accuracy, PNG files and options."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py by path, because the examples folder is not a package."""
    spec = importlib.util.spec_from_file_location(f"{name}_example", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class is created.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


digits = load_example("digits")
moons = load_example("moons")
xor = load_example("xor")


def run_script(name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *arguments],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def assert_valid_png(path: Path) -> None:
    """Check the PNG signature and that matplotlib decodes a non-empty image."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == PNG_SIGNATURE, path
    image = imread(path)
    assert image.ndim == 3, path
    assert image.shape[0] > 0, path
    assert image.shape[1] > 0, path


def test_digits_defaults_reach_97_percent() -> None:
    pytest.importorskip("sklearn")

    result = digits.run(progress="off")

    assert result.test_accuracy >= 0.97
    assert len(result.history) == 60
    assert result.history.history["val_accuracy"][-1] == result.test_accuracy
    assert len(result.data.y_test) == 450
    assert len(result.data.y_train) == 1347


def test_digits_script_writes_pngs(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    output = tmp_path / "plots"

    completed = run_script("digits", "--epochs", "2", "--output", str(output), "--progress", "off")

    assert completed.returncode == 0, completed.stderr
    assert "test accuracy: " in completed.stdout
    assert "Total parameters: 19,210 (" in completed.stdout
    assert sorted(path.name for path in output.iterdir()) == [
        "digits_loss.png",
        "digits_misclassified.png",
    ]
    for path in output.iterdir():
        assert_valid_png(path)


def test_digits_misclassified_without_errors(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    import numpy as np

    images = np.zeros((3, 64))
    labels = np.array([1, 2, 3])
    path = tmp_path / "none.png"

    wrong = digits.plot_misclassified(images, labels, labels.copy(), path)

    assert wrong == 0
    assert_valid_png(path)


def test_moons_defaults_reach_95_percent() -> None:
    result = moons.run(progress="off")

    assert result.test_accuracy >= 0.95
    assert len(result.x_test) == 75
    assert len(result.x_train) == 225


def test_moons_data_shapes_and_labels() -> None:
    import numpy as np

    points, labels = moons.make_moons(11, 0.0, np.random.default_rng(0))

    assert points.shape == (11, 2)
    assert labels.shape == (11, 1)
    assert labels.sum() == 6
    upper = points[labels[:, 0] == 0]
    lower = points[labels[:, 0] == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert (upper[:, 1] >= 0).all()
    assert (lower[:, 1] <= 0.5).all()


def test_moons_script_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")

    completed = run_script("moons", "--epochs", "3", "--output", str(tmp_path), "--progress", "off")

    assert completed.returncode == 0, completed.stderr
    assert "test accuracy: " in completed.stdout
    assert [path.name for path in tmp_path.iterdir()] == ["moons_boundary.png"]
    assert_valid_png(tmp_path / "moons_boundary.png")


def test_xor_script_writes_loss_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")

    completed = run_script("xor", "--iterations", "50", "--output", str(tmp_path))

    assert completed.returncode == 0, completed.stderr
    assert f"wrote {tmp_path / 'xor_loss.png'}" in completed.stdout
    assert_valid_png(tmp_path / "xor_loss.png")


def test_xor_zero_iterations_skips_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xor.main(["--iterations", "0", "--output", str(tmp_path)])

    assert "no loss curve written" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("example", "arguments", "option"),
    [
        (digits, ["--epochs", "0"], "--epochs"),
        (digits, ["--batch-size", "0"], "--batch-size"),
        (digits, ["--hidden-units", "0"], "--hidden-units"),
        (digits, ["--lr", "nan"], "--lr"),
        (digits, ["--seed", "-1"], "--seed"),
        (digits, ["--progress", "loud"], "--progress"),
        (moons, ["--samples", "4"], "--samples"),
        (moons, ["--noise", "-1"], "--noise"),
        (moons, ["--epochs", "0"], "--epochs"),
        (moons, ["--lr", "0"], "--lr"),
        (moons, ["--seed", str(2**32)], "--seed"),
    ],
)
def test_cli_rejects_invalid_option(
    example: ModuleType, arguments: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        example.main(arguments)

    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert option in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("example", [digits, moons])
def test_output_without_matplotlib_exits(
    example: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)

    with pytest.raises(SystemExit, match=r'pip install -e "\.\[examples\]"'):
        example.main(["--output", str(tmp_path), "--progress", "off"])

    assert list(tmp_path.iterdir()) == []


def test_digits_without_sklearn_exits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)

    with pytest.raises(SystemExit, match=r"needs scikit-learn\. Install it with pip install"):
        digits.load_data(seed=0)

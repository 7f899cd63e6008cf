"""The XOR example against a plain numpy transcription of the textbook's training loop."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from minigrad import Array, Linear

EXAMPLE_PATH = Path(__file__).resolve().parent.parent / "examples" / "xor.py"

TEXTBOOK_INITIAL = "[[ 0.758]\n [ 0.771]\n [ 0.791]\n [ 0.801]]"
TEXTBOOK_TRAINED = "[[ 0.028]\n [ 0.925]\n [ 0.925]\n [ 0.090]]"
TEXTBOOK_TEST = "[[ 0.925]]"


def load_example() -> ModuleType:
    """Import examples/xor.py by path, because the examples folder is not a package."""
    spec = importlib.util.spec_from_file_location("xor_example", EXAMPLE_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


xor = load_example()


def sigmoid(x: Array) -> Array:
    return 1 / (1 + np.exp(-x))


def derv_sigmoid(x: Array) -> Array:
    return sigmoid(x) * (1 - sigmoid(x))


def textbook_training(seed: int, iterations: int, lr: float) -> dict[str, Any]:
    """Run the textbook's loop in plain numpy and return its weights, outputs and costs.

    The weights are drawn from numpy's global generator exactly as the textbook does, and
    the global state is restored afterwards so other tests see no change.
    """
    a0 = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    y = np.array([[0, 1, 1, 0]]).T

    saved_state = np.random.get_state()
    try:
        np.random.seed(seed)
        weight1 = np.random.random((3, 4))
        weight2 = np.random.random((4, 1))
    finally:
        np.random.set_state(saved_state)

    initial_output = sigmoid(sigmoid(a0 @ weight1) @ weight2)
    costs = []
    for _ in range(iterations):
        z1 = a0 @ weight1
        a1 = sigmoid(z1)
        z2 = a1 @ weight2
        a2 = sigmoid(z2)
        costs.append(0.5 * float(np.sum((y - a2) ** 2)))

        delta2 = a2 - y
        d2 = np.multiply(delta2, derv_sigmoid(z2))
        dw2 = a1.T @ d2
        # (4, 1) * (1, 4) broadcasts to (4, 4), which equals d2 @ weight2.T for one output.
        d1 = np.multiply(d2, weight2.T) * derv_sigmoid(z1)
        dw1 = a0.T @ d1

        weight2 = weight2 - lr * dw2
        weight1 = weight1 - lr * dw1

    trained_output = sigmoid(sigmoid(a0 @ weight1) @ weight2)
    return {
        "weight1": weight1,
        "weight2": weight2,
        "initial_output": initial_output,
        "trained_output": trained_output,
        "costs": costs,
    }


def linear_layers(network: Any) -> tuple[Linear, Linear]:
    hidden, output = network[0], network[2]
    assert isinstance(hidden, Linear)
    assert isinstance(output, Linear)
    return hidden, output


@pytest.mark.parametrize("seed", [1, 2, 3, 7, 42])
def test_initial_weights_match_textbook(seed: int) -> None:
    reference = textbook_training(seed, iterations=0, lr=1.0)

    hidden, output = linear_layers(xor.build_network(seed))

    # Linear stores the textbook's (in, out) matrix transposed.
    np.testing.assert_array_equal(hidden.weight.data, reference["weight1"].T)
    np.testing.assert_array_equal(output.weight.data, reference["weight2"].T)
    assert hidden.bias is None
    assert output.bias is None


@pytest.mark.parametrize(("iterations", "lr"), [(1000, 1.0), (300, 0.5)])
@pytest.mark.parametrize("seed", [1, 2, 3, 7, 42])
def test_training_matches_textbook(seed: int, iterations: int, lr: float) -> None:
    reference = textbook_training(seed, iterations, lr)
    network = xor.build_network(seed)

    initial_output, trained_output, losses = xor.train(network, iterations, lr)

    hidden, output = linear_layers(network)
    np.testing.assert_allclose(hidden.weight.data, reference["weight1"].T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(output.weight.data, reference["weight2"].T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(initial_output, reference["initial_output"], rtol=1e-12)
    np.testing.assert_allclose(trained_output, reference["trained_output"], rtol=1e-12)
    np.testing.assert_allclose(losses, reference["costs"], rtol=1e-12)


def test_training_leaves_global_random_state() -> None:
    np.random.seed(123)
    expected = np.random.random(3)
    np.random.seed(123)

    xor.train(xor.build_network(5), iterations=2, lr=1.0)

    np.testing.assert_array_equal(np.random.random(3), expected)


def test_main_prints_textbook_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    xor.main([])

    printed = capsys.readouterr().out
    assert f"Initial output\n {TEXTBOOK_INITIAL}\n" in printed
    assert f"Trained output\n {TEXTBOOK_TRAINED}\n" in printed
    assert f"Output for [1, 0, 1] after training\n {TEXTBOOK_TEST}\n" in printed


def test_script_prints_textbook_numbers() -> None:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLE_PATH)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert TEXTBOOK_INITIAL in completed.stdout
    assert TEXTBOOK_TRAINED in completed.stdout
    assert TEXTBOOK_TEST in completed.stdout


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["--iterations", "-1"], "--iterations"),
        (["--lr", "-1"], "--lr"),
        (["--lr", "nan"], "--lr"),
        (["--lr", "inf"], "--lr"),
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**32)], "--seed"),
    ],
)
def test_cli_rejects_invalid_option(
    arguments: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        xor.main(arguments)

    assert raised.value.code == 2
    captured = capsys.readouterr()
    assert option in captured.err
    assert "error" in captured.err
    assert captured.out == ""


def test_default_losses_decrease() -> None:
    network = xor.build_network(1)

    initial_output, _, losses = xor.train(network, 1000, 1.0)

    assert len(losses) == 1000
    assert all(isinstance(loss, float) for loss in losses)
    assert losses[-1] < losses[0]
    # The first loss is the textbook cost 1/2 * sum((y - a)**2) of the untrained network.
    initial_cost = 0.5 * float(np.sum((xor.TARGETS - initial_output) ** 2))
    assert losses[0] == pytest.approx(initial_cost, rel=1e-12)


@pytest.mark.parametrize("iterations", [0, 1, 5])
def test_loss_count_equals_iterations(iterations: int) -> None:
    network = xor.build_network(1)

    initial_output, trained_output, losses = xor.train(network, iterations, 1.0)

    assert len(losses) == iterations
    if iterations == 0:
        np.testing.assert_array_equal(trained_output, initial_output)


def test_plot_option_without_matplotlib(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail

    with pytest.raises(SystemExit, match=r"The --output plot needs matplotlib"):
        xor.main(["--output", str(tmp_path)])

    assert capsys.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []

"""Tests of trace_step on the textbook's 3-4-1 network against its equations in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad import (
    SGD,
    CrossEntropyLoss,
    Dropout,
    Linear,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    trace_step,
)
from minigrad._array import Array

X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def textbook_weights() -> tuple[Array, Array]:
    legacy_generator = np.random.RandomState(1)
    return legacy_generator.random_sample((3, 4)), legacy_generator.random_sample((4, 1))


def textbook_network() -> Sequential:
    w1, w2 = textbook_weights()
    return Sequential(Linear.from_weights(w1.T), Sigmoid(), Linear.from_weights(w2.T), Sigmoid())


def sigmoid(z: Array) -> Array:
    return 1 / (1 + np.exp(-z))


def section_rows(text: str, heading: str) -> list[list[str]]:
    """Return the cells of the table under ``heading``, split on runs of 2+ spaces."""
    lines = text.splitlines()
    start = lines.index(heading) + 3  # the heading, the column names and the dashes
    rows = []
    for line in lines[start:]:
        if not line:
            break
        rows.append([cell.strip() for cell in line.split("  ") if cell.strip()])
    return rows


def norm(array: Array) -> str:
    return f"{float(np.linalg.norm(array)):.4g}"


def value_range(array: Array) -> list[str]:
    return [f"{array.min():.4g}", f"{array.max():.4g}"]


FORWARD = "Forward: the output of each layer"
BACKWARD = "Backward: the gradient each layer returns, dL/d(its input), last layer first"


def test_trace_forward_rows_match_textbook() -> None:
    w1, w2 = textbook_weights()
    z1 = X @ w1
    a1 = sigmoid(z1)
    z2 = a1 @ w2
    a2 = sigmoid(z2)

    text = trace_step(textbook_network(), MSELoss(reduction="half_sum"), X, Y, quiet=True)

    linear_0 = "Linear(in_features=3, out_features=4, bias=False)"
    linear_2 = "Linear(in_features=4, out_features=1, bias=False)"
    assert section_rows(text, FORWARD) == [
        ["input", "x", "(4, 3)", "0", "1"],
        ["0", linear_0, "(4, 4)", *value_range(z1)],
        ["1", "Sigmoid()", "(4, 4)", *value_range(a1)],
        ["2", linear_2, "(4, 1)", *value_range(z2)],
        ["3", "Sigmoid()", "(4, 1)", *value_range(a2)],
    ]
    cost = 0.5 * float(np.sum((Y - a2) ** 2))
    assert f"Loss MSELoss(reduction='half_sum'): {cost:.6g}" in text.splitlines()
    assert text.splitlines()[0] == (
        "Training step of Sequential with 4 layers on input of shape (4, 3)"
    )


def test_trace_backward_rows_match_equations() -> None:
    w1, w2 = textbook_weights()
    a1 = sigmoid(X @ w1)
    a2 = sigmoid(a1 @ w2)
    delta2 = a2 - Y
    g2 = delta2 * a2 * (1 - a2)
    g1 = (g2 @ w2.T) * a1 * (1 - a1)
    eq3 = a1.T @ g2  # dC/dw2
    eq5 = X.T @ g1  # dC/dw1

    text = trace_step(textbook_network(), MSELoss(reduction="half_sum"), X, Y, quiet=True)

    linear_0 = "Linear(in_features=3, out_features=4, bias=False)"
    linear_2 = "Linear(in_features=4, out_features=1, bias=False)"
    assert section_rows(text, BACKWARD) == [
        ["loss", "MSELoss(reduction='half_sum')", "dL/d(output)", "(4, 1)", norm(delta2)],
        ["3", "Sigmoid()", "dL/d(input)", "(4, 1)", norm(g2)],
        ["2", linear_2, "dL/d(input)", "(4, 4)", norm(g2 @ w2.T)],
        ["weight.grad", "(1, 4)", norm(eq3)],
        ["1", "Sigmoid()", "dL/d(input)", "(4, 4)", norm(g1)],
        ["0", linear_0, "dL/d(input)", "(4, 3)", norm(g1 @ w1.T)],
        ["weight.grad", "(4, 3)", norm(eq5)],
    ]


def test_trace_leaves_gradients() -> None:
    w1, w2 = textbook_weights()
    a1 = sigmoid(X @ w1)
    a2 = sigmoid(a1 @ w2)
    g2 = (a2 - Y) * a2 * (1 - a2)
    g1 = (g2 @ w2.T) * a1 * (1 - a1)
    network = textbook_network()
    network[0].weight.grad[...] = 5.0  # stale gradient that the step must clear

    trace_step(network, MSELoss(reduction="half_sum"), X, Y, quiet=True)

    np.testing.assert_allclose(network[2].weight.grad, (a1.T @ g2).T, rtol=1e-12)
    np.testing.assert_allclose(network[0].weight.grad, (X.T @ g1).T, rtol=1e-12)
    np.testing.assert_array_equal(network[0].weight.data, w1.T)


def test_trace_update_with_optimizer() -> None:
    w1, w2 = textbook_weights()
    network = textbook_network()
    optimizer = SGD(network.parameters(), lr=0.5)

    text = trace_step(network, MSELoss(reduction="half_sum"), X, Y, optimizer=optimizer, quiet=True)

    grad_0 = network[0].weight.grad.copy()
    grad_2 = network[2].weight.grad.copy()
    np.testing.assert_allclose(network[0].weight.data, w1.T - 0.5 * grad_0, rtol=1e-14)
    np.testing.assert_allclose(network[2].weight.data, w2.T - 0.5 * grad_2, rtol=1e-14)
    assert f"Update by {optimizer!r}" in text.splitlines()
    update_lines = text.splitlines()[-2:]
    assert update_lines[0].split() == ["0.weight", "(4,", "3)", norm(0.5 * grad_0)]
    assert update_lines[1].split() == ["2.weight", "(1,", "4)", norm(0.5 * grad_2)]


def test_trace_without_optimizer_has_no_update() -> None:
    text = trace_step(textbook_network(), MSELoss(reduction="half_sum"), X, Y, quiet=True)

    assert "Update by" not in text
    assert text.splitlines()[-1].split()[:3] == ["weight.grad", "(4,", "3)"]


def test_trace_prints_returned_text(capsys: pytest.CaptureFixture[str]) -> None:
    text = trace_step(textbook_network(), MSELoss(reduction="half_sum"), X, Y)

    assert capsys.readouterr().out == text + "\n"


def test_trace_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    trace_step(textbook_network(), MSELoss(reduction="half_sum"), X, Y, quiet=True)

    assert capsys.readouterr().out == ""


def test_trace_shows_bias_gradients() -> None:
    model = Sequential(Linear(2, 3, rng=0), ReLU(), Linear(3, 2, rng=1))
    x = np.array([[0.5, -1.0], [2.0, 0.3]])
    target = np.array([1, 0])

    text = trace_step(model, CrossEntropyLoss(), x, target, quiet=True)

    gradients = [row[-3] for row in section_rows(text, BACKWARD)]
    assert gradients == [
        "dL/d(output)",
        "dL/d(input)",
        "weight.grad",
        "bias.grad",
        "dL/d(input)",
        "dL/d(input)",
        "weight.grad",
        "bias.grad",
    ]
    bias_row = section_rows(text, BACKWARD)[3]
    assert bias_row[-1] == norm(model[2].bias.grad)


def test_trace_failure_restores_state() -> None:
    network = textbook_network()
    network[0].weight.grad[...] = 2.0
    pending_output = network(X)

    with pytest.raises(ValueError, match=r"prediction has shape \(4, 1\)"):
        trace_step(network, MSELoss(), X, np.zeros((4, 2)), quiet=True)

    np.testing.assert_array_equal(network[0].weight.grad, np.full((4, 3), 2.0))
    reference = textbook_network()
    reference(X)
    np.testing.assert_array_equal(
        network.backward(np.ones_like(pending_output)), reference.backward(np.ones((4, 1)))
    )


def test_trace_uses_current_mode() -> None:
    dropout = Dropout(0.5, rng=0)
    model = Sequential(Linear(3, 4, rng=0), dropout, Linear(4, 1, rng=1)).eval()

    text = trace_step(model, MSELoss(), X, Y, quiet=True)

    forward = section_rows(text, FORWARD)
    assert forward[2][-2:] == forward[1][-2:]
    assert model.training is False


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((["model"], MSELoss()), r"trace_step: model must be a Module, got list"),
        ((Linear(3, 1), "mse"), r"trace_step: loss_function must be a Loss, got str"),
    ],
)
def test_trace_rejects_wrong_types(arguments: tuple[object, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        trace_step(arguments[0], arguments[1], X, Y, quiet=True)  # type: ignore[arg-type]


def test_trace_rejects_wrong_optimizer() -> None:
    with pytest.raises(TypeError, match=r"optimizer must be an Optimizer or None, got str"):
        trace_step(Linear(3, 1), MSELoss(), X, Y, optimizer="sgd", quiet=True)  # type: ignore[arg-type]


def test_norm_of_huge_values_is_finite() -> None:
    from minigrad.trace import _norm

    assert _norm(np.array([3e306, 4e306])) == f"{5e306:.4g}"
    assert _norm(np.zeros(3)) == "0"

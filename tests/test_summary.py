"""Tests of summary: parameter counts, output shapes, and a model left as it was."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad import Dropout, Linear, ReLU, Sequential, Sigmoid, summary
from minigrad._array import Array


def table_rows(text: str) -> list[list[str]]:
    """Return the cells of the table rows below the dashed rule, split on 2+ spaces."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("-----")) + 1
    rows = []
    for line in lines[start:]:
        if not line:
            break
        rows.append([cell for cell in line.split("  ") if cell.strip()])
    return [[cell.strip() for cell in row] for row in rows]


def test_summary_counts_classifier_parameters() -> None:
    model = Sequential(Linear(64, 128, rng=0), ReLU(), Linear(128, 10, rng=1))

    text = summary(model, (1, 64), quiet=True)

    first, second = 64 * 128 + 128, 128 * 10 + 10
    assert table_rows(text) == [
        ["input", "(1, 64)"],
        ["0", "Linear(in_features=64, out_features=128, bias=True)", "(1, 128)", f"{first:,}"],
        ["1", "ReLU()", "(1, 128)", "0"],
        ["2", "Linear(in_features=128, out_features=10, bias=True)", "(1, 10)", f"{second:,}"],
    ]
    total = first + second
    assert f"Total parameters: {total:,} ({total * 8 / 1024:.1f} KiB as float64)" in text
    assert text.splitlines()[0] == "Sequential with 3 layers, input shape (1, 64)"


def test_summary_without_bias_and_float32() -> None:
    model = Sequential(Linear(3, 4, bias=False, rng=0), Sigmoid(), Linear(4, 1, rng=1))
    model.to(np.float32)

    text = summary(model, (5, 3), quiet=True)

    assert [row[-1] for row in table_rows(text)[1:]] == ["12", "0", "5"]
    assert [row[-2] for row in table_rows(text)[1:]] == ["(5, 4)", "(5, 4)", "(5, 1)"]
    assert text.endswith("Total parameters: 17 (68 bytes as float32)")


def test_summary_names_nested_layers() -> None:
    model = Sequential(Linear(3, 4, rng=0), Sequential(ReLU(), Dropout(0.5, rng=0)), Linear(4, 2))

    text = summary(model, 3, quiet=True)

    assert [row[0] for row in table_rows(text)] == ["input", "0", "1.0", "1.1", "2"]
    assert table_rows(text)[0] == ["input", "(3,)"]
    assert table_rows(text)[-1][-2:] == ["(2,)", "10"]


def test_summary_counts_shared_parameters_once() -> None:
    first = Linear(4, 4, rng=0)
    second = Linear(4, 4, rng=1)
    second.weight = first.weight
    model = Sequential(first, ReLU(), second)

    text = summary(model, (2, 4), quiet=True)

    assert [row[-1] for row in table_rows(text)[1:]] == ["20", "0", "20"]
    assert "Total parameters: 24 (" in text
    assert "The rows add up to 40 because shared parameters appear in each layer" in text


def test_summary_of_single_layer() -> None:
    text = summary(Linear(2, 3, rng=0), (4, 2), quiet=True)

    assert text.splitlines()[0] == "Linear with 1 layer, input shape (4, 2)"
    assert table_rows(text)[1] == [
        "model",
        "Linear(in_features=2, out_features=3, bias=True)",
        "(4, 3)",
        "9",
    ]


def test_summary_prints_returned_text(capsys: pytest.CaptureFixture[str]) -> None:
    model = Sequential(Linear(2, 2, rng=0))

    text = summary(model, (1, 2))

    assert capsys.readouterr().out == text + "\n"


def test_summary_quiet_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    summary(Sequential(Linear(2, 2, rng=0)), (1, 2), quiet=True)

    assert capsys.readouterr().out == ""


def test_summary_keeps_pending_backward() -> None:
    model = Sequential(Linear(3, 4, rng=0), Sigmoid(), Linear(4, 2, rng=1))
    reference = Sequential(Linear(3, 4, rng=0), Sigmoid(), Linear(4, 2, rng=1))
    x = np.random.default_rng(0).normal(size=(5, 3))
    grad_output = np.ones((5, 2))
    model(x)
    reference(x)

    summary(model, (7, 3), quiet=True)

    np.testing.assert_array_equal(model.backward(grad_output), reference.backward(grad_output))
    for (name, parameter), (_, expected) in zip(
        model.named_parameters(), reference.named_parameters(), strict=True
    ):
        np.testing.assert_array_equal(parameter.grad, expected.grad, err_msg=name)


def test_summary_keeps_modes_and_dropout_draws() -> None:
    dropout = Dropout(0.5, rng=3)
    model = Sequential(Linear(3, 4, rng=0), dropout)
    x = np.ones((2, 4))

    summary(model, (2, 3), quiet=True)

    assert model.training is True
    assert dropout.training is True
    np.testing.assert_array_equal(dropout(x), Dropout(0.5, rng=3)(x))


def test_summary_restores_after_error() -> None:
    model = Sequential(Linear(3, 4, rng=0), Linear(5, 2, rng=1))
    x = np.ones((1, 3))
    first_output = model[0](x)

    with pytest.raises(ValueError, match=r"expected input with 5 features"):
        summary(model, (1, 3), quiet=True)

    np.testing.assert_array_equal(
        model[0].backward(np.ones_like(first_output)), np.ones((1, 4)) @ model[0].weight.data
    )


@pytest.mark.parametrize("input_shape", [(1.5, 3), (-1, 3), "13", (True, 3), None])
def test_summary_rejects_input_shape(input_shape: object) -> None:
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of non-negative integers"):
        summary(Linear(3, 1), input_shape, quiet=True)  # type: ignore[arg-type]


def test_summary_rejects_non_module() -> None:
    with pytest.raises(TypeError, match=r"summary: model must be a Module, got list"):
        summary([Linear(3, 1)], (1, 3))  # type: ignore[arg-type]


def test_summary_rejects_dtype() -> None:
    with pytest.raises(TypeError, match=r"summary: dtype must be float32 or float64"):
        summary(Linear(3, 1), (1, 3), dtype=np.int64)


class Residual(minigrad.Module):
    """y = x + layer(x), a module with a child that is not a Sequential."""

    def __init__(self) -> None:
        self.inner = Linear(3, 3, rng=0)

    def forward(self, x: Array) -> Array:
        return np.asarray(x) + self.inner(x)

    def backward(self, grad_output: Array) -> Array:
        return np.asarray(grad_output) + self.inner.backward(grad_output)


def test_summary_custom_module_is_one_row() -> None:
    text = summary(Sequential(Residual(), ReLU()), (2, 3), quiet=True)

    assert table_rows(text)[1] == ["0", "Residual()", "(2, 3)", "12"]

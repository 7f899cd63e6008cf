"""Tests that every memory layout of an input gives the contiguous result and stays unwritten."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from minigrad import Linear, MSELoss, Sequential, Sigmoid
from minigrad._array import Array


def read_only(array: Array) -> Array:
    array.flags.writeable = False
    return array


def as_read_only_copy(values: Array) -> Array:
    return read_only(values.copy())


def as_fortran(values: Array) -> Array:
    return read_only(np.asfortranarray(values))


def as_transpose(values: Array) -> Array:
    # The transpose of a C-ordered (columns, rows) array: a Fortran-ordered view.
    return read_only(np.ascontiguousarray(values.T)).T


def as_strided_slice(values: Array) -> Array:
    wide = np.zeros((values.shape[0], 2 * values.shape[1]), dtype=values.dtype)
    wide[:, ::2] = values
    return read_only(wide)[:, ::2]


def as_reversed(values: Array) -> Array:
    return read_only(values[::-1].copy())[::-1]


LAYOUTS: dict[str, Callable[[Array], Array]] = {
    "read-only": as_read_only_copy,
    "fortran": as_fortran,
    "transpose": as_transpose,
    "strided-slice": as_strided_slice,
    "negative-strides": as_reversed,
}


def broadcast_rows(rows: int, columns: int, seed: int, dtype: type) -> tuple[Array, Array]:
    """Return a zero-stride view that repeats one row, and a contiguous copy of it."""
    row = (np.random.default_rng(seed).normal(size=(1, columns)) * 10).astype(dtype)
    view = np.broadcast_to(row, (rows, columns))
    return view, np.array(view)


def layout_cases(
    rows: int, columns: int, seed: int, dtype: type = np.float64
) -> list[tuple[str, Array, Array]]:
    """Return (layout name, view, contiguous copy) for every layout, broadcasting included."""
    values = (np.random.default_rng(seed).normal(size=(rows, columns)) * 10).astype(dtype)
    cases = [(name, make(values), values.copy()) for name, make in LAYOUTS.items()]
    view, copy = broadcast_rows(rows, columns, seed, dtype)
    cases.append(("broadcast", view, copy))
    return cases


def test_layouts_are_what_they_claim() -> None:
    cases = {name: view for name, view, _ in layout_cases(4, 3, 0)}

    assert cases["fortran"].flags.f_contiguous and not cases["fortran"].flags.c_contiguous
    assert not cases["transpose"].flags.owndata
    assert not cases["strided-slice"].flags.c_contiguous
    assert not cases["strided-slice"].flags.f_contiguous
    assert cases["negative-strides"].strides[0] < 0
    assert cases["broadcast"].strides[0] == 0
    assert all(not view.flags.writeable for view in cases.values())


@pytest.mark.parametrize("input_dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize(("dtype", "out_features"), [(np.float32, 4), (np.float64, 1)])
@pytest.mark.parametrize("case", range(6))
def test_linear_any_layout(case: int, dtype: type, out_features: int, input_dtype: type) -> None:
    # A single output runs a matrix-vector product, whose rounding depends on the layout
    # unless the layer makes its input contiguous.
    name, view, copy = layout_cases(5, 3, case, input_dtype)[case]
    view_before = np.array(view)
    grad_output = np.random.default_rng(10).normal(size=(5, out_features))
    on_view = Linear(3, out_features, rng=1, dtype=dtype)
    on_copy = Linear(3, out_features, rng=1, dtype=dtype)

    output = on_view(view)
    grad_input = on_view.backward(grad_output)
    expected_output = on_copy(copy)
    expected_grad_input = on_copy.backward(grad_output)

    np.testing.assert_array_equal(output, expected_output, err_msg=name)
    np.testing.assert_array_equal(grad_input, expected_grad_input, err_msg=name)
    np.testing.assert_array_equal(on_view.weight.grad, on_copy.weight.grad, err_msg=name)
    np.testing.assert_array_equal(view, view_before, err_msg=name)


@pytest.mark.parametrize("case", range(6))
def test_linear_grad_output_layout(case: int) -> None:
    name, view, copy = layout_cases(5, 4, case)[case]
    x = np.random.default_rng(11).normal(size=(5, 3))
    on_view = Linear(3, 4, rng=1)
    on_copy = Linear(3, 4, rng=1)
    on_view(x)
    on_copy(x)

    np.testing.assert_array_equal(on_view.backward(view), on_copy.backward(copy), err_msg=name)
    np.testing.assert_array_equal(on_view.weight.grad, on_copy.weight.grad, err_msg=name)
    assert on_view.bias is not None and on_copy.bias is not None
    np.testing.assert_array_equal(on_view.bias.grad, on_copy.bias.grad, err_msg=name)


@pytest.mark.parametrize("case", range(6))
def test_sigmoid_any_layout(case: int) -> None:
    name, view, copy = layout_cases(4, 6, case)[case]
    grad_name, grad_view, grad_copy = layout_cases(4, 6, 20 + case)[case]
    view_before = np.array(view)
    on_view = Sigmoid()
    on_copy = Sigmoid()

    np.testing.assert_array_equal(on_view(view), on_copy(copy), err_msg=name)
    np.testing.assert_array_equal(
        on_view.backward(grad_view), on_copy.backward(grad_copy), err_msg=grad_name
    )
    np.testing.assert_array_equal(view, view_before, err_msg=name)


@pytest.mark.parametrize("reduction", ["mean", "sum", "half_sum"])
@pytest.mark.parametrize("case", range(6))
def test_mse_any_layout(case: int, reduction: str) -> None:
    name, prediction, prediction_copy = layout_cases(4, 3, case)[case]
    _, target, target_copy = layout_cases(4, 3, 30 + case)[case]
    on_view = MSELoss(reduction)  # type: ignore[arg-type]
    on_copy = MSELoss(reduction)  # type: ignore[arg-type]

    assert on_view(prediction, target) == on_copy(prediction_copy, target_copy), name
    np.testing.assert_array_equal(on_view.backward(), on_copy.backward(), err_msg=name)
    np.testing.assert_array_equal(prediction, prediction_copy, err_msg=name)
    np.testing.assert_array_equal(target, target_copy, err_msg=name)


@pytest.mark.parametrize("case", range(6))
def test_sequential_any_layout(case: int) -> None:
    name, view, copy = layout_cases(6, 3, case)[case]
    target = np.random.default_rng(12).normal(size=(6, 2))
    results = []
    for x in (view, copy):
        model = Sequential(Linear(3, 5, rng=2), Sigmoid(), Linear(5, 2, rng=3))
        loss = MSELoss()
        value = loss(model(x), target)
        grad_input = model.backward(loss.backward())
        results.append((value, grad_input, [p.grad.copy() for p in model.parameters()]))

    (value, grad_input, grads), (expected_value, expected_grad_input, expected_grads) = results
    assert value == expected_value, name
    np.testing.assert_array_equal(grad_input, expected_grad_input, err_msg=name)
    for grad, expected in zip(grads, expected_grads, strict=True):
        np.testing.assert_array_equal(grad, expected, err_msg=name)


def test_linear_caches_writable_view() -> None:
    # A writable strided view that the caller changes after forward must not change the
    # weight gradient, because the layer cached a private copy.
    wide = np.random.default_rng(0).normal(size=(4, 6))
    view = wide[:, ::2]
    expected_x = view.copy()
    layer = Linear(3, 2, rng=1)
    reference = Linear(3, 2, rng=1)
    grad_output = np.ones((4, 2))

    layer(view)
    wide[...] = 100.0
    layer.backward(grad_output)
    reference(expected_x)
    reference.backward(grad_output)

    np.testing.assert_array_equal(layer.weight.grad, reference.weight.grad)


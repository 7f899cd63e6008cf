"""Property tests: random shapes, dtypes and layouts through forward, backward, step, save, load.

Each example builds a two-layer network and an input of a drawn dtype and memory layout.
The tests check that nothing is lost: a save and a load restore every bit. They also check
that nothing changes where it should not: the input, the parameters' identity, dtype and
shape, and the parameters after a rejected load.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import minigrad
from minigrad import Linear, MSELoss, Sequential, Sigmoid
from minigrad._array import Array

INPUT_DTYPES = [np.float32, np.float64, np.int64, np.uint8]
PARAMETER_DTYPES = [np.float32, np.float64]
LAYOUTS = ["contiguous", "read-only", "fortran", "transpose", "strided", "broadcast"]


@dataclass
class Case:
    in_features: int
    hidden: int
    out_features: int
    batch: int
    input_dtype: type
    parameter_dtype: type
    layout: str
    seed: int


cases = st.builds(
    Case,
    in_features=st.integers(1, 5),
    hidden=st.integers(1, 5),
    out_features=st.integers(1, 3),
    batch=st.integers(1, 6),
    input_dtype=st.sampled_from(INPUT_DTYPES),
    parameter_dtype=st.sampled_from(PARAMETER_DTYPES),
    layout=st.sampled_from(LAYOUTS),
    seed=st.integers(0, 2**32 - 1),
)


def make_input(case: Case, rng: np.random.Generator) -> Array:
    """Return a (batch, in_features) input of the case's dtype in the case's layout."""
    shape = (case.batch, case.in_features)
    if np.issubdtype(case.input_dtype, np.integer):
        values = rng.integers(0, 10, size=shape).astype(case.input_dtype)
    else:
        values = rng.normal(size=shape).astype(case.input_dtype)

    if case.layout == "contiguous":
        return values
    if case.layout == "broadcast":
        return np.broadcast_to(values[:1], shape)
    if case.layout == "fortran":
        view = np.asfortranarray(values)
    elif case.layout == "transpose":
        view = np.ascontiguousarray(values.T).T
    elif case.layout == "strided":
        wide = np.zeros((shape[0], 2 * shape[1]), dtype=values.dtype)
        wide[:, ::2] = values
        view = wide[:, ::2]
    else:
        view = values.copy()
    view.flags.writeable = False
    return view


def make_model(case: Case, seed: int) -> Sequential:
    return Sequential(
        Linear(case.in_features, case.hidden, rng=seed, dtype=case.parameter_dtype),
        Sigmoid(),
        Linear(case.hidden, case.out_features, rng=seed + 1, dtype=case.parameter_dtype),
    )


def raw_state(module: minigrad.Module) -> dict[str, tuple[bytes, Any, tuple[int, ...]]]:
    return {
        name: (parameter.data.tobytes(), parameter.dtype, parameter.shape)
        for name, parameter in module.named_parameters()
    }


def train_one_step(model: Sequential, x: Array, target: Array) -> Array:
    loss = MSELoss()
    optimizer = minigrad.SGD(model.parameters(), lr=0.1)
    output = model(x)
    loss(output, target)
    model.backward(loss.backward())
    optimizer.step()
    return output


@given(cases)
def test_layout_matches_contiguous(case: Case) -> None:
    rng = np.random.default_rng(case.seed)
    x = make_input(case, rng)
    x_before = np.array(x)
    target = rng.normal(size=(case.batch, case.out_features))
    on_view = make_model(case, 1)
    on_copy = make_model(case, 1)

    output = train_one_step(on_view, x, target)
    expected_output = train_one_step(on_copy, np.ascontiguousarray(x), target)

    np.testing.assert_array_equal(output, expected_output)
    assert raw_state(on_view) == raw_state(on_copy)
    np.testing.assert_array_equal(x, x_before)
    assert x.dtype == case.input_dtype


@given(cases)
def test_step_keeps_parameter_identity(case: Case) -> None:
    rng = np.random.default_rng(case.seed)
    model = make_model(case, 2)
    parameters = list(model.parameters())
    arrays = [(p.data, p.grad, p.dtype, p.shape) for p in parameters]
    target = rng.normal(size=(case.batch, case.out_features))

    output = train_one_step(model, make_input(case, rng), target)

    assert output.dtype == case.parameter_dtype
    assert list(model.parameters()) == parameters
    for parameter, (data, grad, dtype, shape) in zip(parameters, arrays, strict=True):
        assert parameter.data is data
        assert parameter.grad is grad
        assert parameter.dtype == dtype == case.parameter_dtype
        assert parameter.grad.dtype == case.parameter_dtype
        assert parameter.shape == shape


@given(cases)
def test_save_load_restores_every_bit(case: Case) -> None:
    rng = np.random.default_rng(case.seed)
    model = make_model(case, 3)
    train_one_step(model, make_input(case, rng), rng.normal(size=(case.batch, case.out_features)))
    restored = make_model(case, 4)

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.npz")
        minigrad.save(model, path)
        minigrad.save(model, path)  # a second save replaces the first
        minigrad.load(restored, path)
        with np.load(path, allow_pickle=False) as archive:
            plain = {name: archive[name] for name in archive.files}
        assert os.listdir(folder) == ["model.npz"]

    assert raw_state(restored) == raw_state(model)
    assert int(plain.pop("__format_version__")) == minigrad.FORMAT_VERSION
    saved = {name: (values.tobytes(), values.dtype, values.shape) for name, values in plain.items()}
    assert saved == raw_state(model)


@given(cases, st.data())
def test_rejected_load_changes_nothing(case: Case, data: st.DataObject) -> None:
    rng = np.random.default_rng(case.seed)
    model = make_model(case, 5)
    state = make_model(case, 6).state_dict()
    name = data.draw(st.sampled_from(sorted(state)))
    shape = state[name].shape
    # A wrong shape that numpy would broadcast: one dimension of the parameter set to 1, or
    # one dimension fewer. Parameters with only size-1 dimensions get an extra dimension.
    candidates = [(*shape[:i], 1, *shape[i + 1 :]) for i in range(len(shape)) if shape[i] != 1]
    candidates += [shape[1:], (*shape, 1)]
    bad_shape = data.draw(st.sampled_from([c for c in candidates if c != shape]))
    state[name] = rng.normal(size=bad_shape)
    before = raw_state(model)

    try:
        model.load_state_dict(state)
    except ValueError as error:
        assert repr(name) in str(error)
        assert str(bad_shape) in str(error)
        assert str(shape) in str(error)
    else:
        raise AssertionError(f"a {bad_shape} entry for {name} {shape} was loaded")

    assert raw_state(model) == before

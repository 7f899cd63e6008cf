"""Tests of the dtype policy: parameter dtypes, Module.to, input casting and rejected dtypes."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad import Linear, MSELoss, Sequential, Sigmoid


def make_model(dtype: type = np.float64) -> Sequential:
    return Sequential(Linear(3, 4, rng=0, dtype=dtype), Sigmoid(), Linear(4, 2, rng=1, dtype=dtype))


def test_warnings_raise_as_errors() -> None:
    # The suite turns every warning into an error, so a silent overflow cannot pass a test.
    with pytest.raises(RuntimeWarning, match="overflow"):
        _ = np.float64(1e308) * np.float64(10.0)


def test_parameters_default_float64() -> None:
    model = make_model()

    assert [parameter.dtype for parameter in model.parameters()] == [np.float64] * 4
    assert [parameter.grad.dtype for parameter in model.parameters()] == [np.float64] * 4


def test_to_float32_converts_all() -> None:
    model = make_model()
    parameters = list(model.parameters())
    expected = [parameter.data.astype(np.float32) for parameter in parameters]
    parameters[0].grad[...] = 0.5

    result = model.to(np.float32)

    assert result is model
    assert list(model.parameters()) == parameters
    for parameter, values in zip(parameters, expected, strict=True):
        assert parameter.dtype == np.float32
        assert parameter.grad.dtype == np.float32
        np.testing.assert_array_equal(parameter.data, values)
    np.testing.assert_array_equal(parameters[0].grad, np.full((4, 3), 0.5, dtype=np.float32))


def test_to_float32_forward_dtype() -> None:
    model = make_model().to(np.float32)

    output = model(np.ones((5, 3)))

    assert output.dtype == np.float32


def test_to_same_dtype_keeps_arrays() -> None:
    model = make_model()
    arrays = [parameter.data for parameter in model.parameters()]

    model.to(np.float64)

    assert all(p.data is a for p, a in zip(model.parameters(), arrays, strict=True))


def test_to_float64_round_trip() -> None:
    model = make_model(np.float32)
    before = [parameter.data.copy() for parameter in model.parameters()]

    model.to("float64")

    for parameter, values in zip(model.parameters(), before, strict=True):
        assert parameter.dtype == np.float64
        np.testing.assert_array_equal(parameter.data, values.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.complex128, bool, np.longdouble])
def test_to_rejects_other_dtypes(dtype: type) -> None:
    model = make_model()

    with pytest.raises(TypeError, match=r"Sequential\.to: dtype must be float32 or float64"):
        model.to(dtype)

    assert [parameter.dtype for parameter in model.parameters()] == [np.float64] * 4


def test_to_float32_overflow_changes_nothing() -> None:
    model = make_model()
    model[2].bias.data[0] = 1e39  # type: ignore[union-attr]
    before = {name: p.data.tobytes() for name, p in model.named_parameters()}

    with pytest.raises(ValueError, match=r"parameter '2\.bias' has 1 values beyond the float32"):
        model.to(np.float32)

    assert [parameter.dtype for parameter in model.parameters()] == [np.float64] * 4
    assert {name: p.data.tobytes() for name, p in model.named_parameters()} == before


def test_optimizer_after_to() -> None:
    model = make_model().to(np.float32)
    optimizer = minigrad.SGD(model.parameters(), lr=0.1)
    loss = MSELoss()

    loss(model(np.ones((2, 3))), np.zeros((2, 2)))
    model.backward(loss.backward())
    optimizer.step()

    assert [parameter.dtype for parameter in model.parameters()] == [np.float32] * 4


@pytest.mark.parametrize(
    "input_dtype", [np.float16, np.float32, np.float64, np.longdouble, np.int64, np.uint8]
)
@pytest.mark.parametrize("parameter_dtype", [np.float32, np.float64])
def test_linear_casts_input(input_dtype: type, parameter_dtype: type) -> None:
    layer = Linear.from_weights([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [0.5, 0.25, 0.125])
    layer.to(parameter_dtype)
    x = np.array([[1, 2], [3, 4]], dtype=input_dtype)

    output = layer(x)

    assert output.dtype == parameter_dtype
    expected = np.array([[5.5, 11.25, 17.125], [11.5, 25.25, 39.125]], dtype=parameter_dtype)
    np.testing.assert_array_equal(output, expected)


def test_uint8_input_no_wraparound() -> None:
    layer = Linear.from_weights([[2.0]])

    output = layer(np.array([[200]], dtype=np.uint8))

    assert output[0, 0] == 400.0


@pytest.mark.parametrize(
    ("input_dtype", "output_dtype"),
    [
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.longdouble, np.float64),
        (np.int8, np.float64),
        (np.uint16, np.float64),
    ],
)
def test_sigmoid_output_dtype(input_dtype: type, output_dtype: type) -> None:
    output = Sigmoid()(np.array([0.0, 2.0], dtype=input_dtype))

    assert output.dtype == output_dtype
    assert output[0] == 0.5


def test_mse_float16_no_overflow() -> None:
    # 300**2 = 90000 is beyond float16's maximum of 65504, but the loss is computed in float32.
    loss = MSELoss(reduction="sum")
    prediction = np.array([300.0, 0.0], dtype=np.float16)

    value = loss(prediction, np.zeros(2, dtype=np.float16))

    assert value == 90000.0
    assert loss.backward().dtype == np.float32


def test_mse_target_follows_prediction() -> None:
    loss = MSELoss()

    loss(np.zeros(3, dtype=np.float32), np.ones(3, dtype=np.float64))

    assert loss.backward().dtype == np.float32


def test_grads_have_parameter_dtype() -> None:
    model = make_model(np.float32)

    model(np.ones((2, 3), dtype=np.float64))
    model.backward(np.ones((2, 2), dtype=np.float64))

    assert [parameter.grad.dtype for parameter in model.parameters()] == [np.float32] * 4


def test_sgd_step_keeps_parameters() -> None:
    model = make_model(np.float32)
    parameters = list(model.parameters())
    arrays = [(parameter.data, parameter.grad) for parameter in parameters]
    optimizer = minigrad.SGD(model.parameters(), lr=0.5)

    model(np.ones((2, 3)))
    model.backward(np.ones((2, 2)))
    optimizer.step()

    assert list(model.parameters()) == parameters
    for parameter, (data, grad) in zip(parameters, arrays, strict=True):
        assert parameter.data is data
        assert parameter.grad is grad
        assert parameter.dtype == np.float32
    assert [parameter.shape for parameter in parameters] == [(4, 3), (4,), (2, 4), (2,)]


REJECTED_INPUTS = [
    np.ones((2, 3), dtype=bool),
    np.ones((2, 3), dtype=np.complex128),
    np.full((2, 3), "1"),
    np.ones((2, 3), dtype=object),
]
REJECTED_IDS = ["bool", "complex", "str", "object"]


@pytest.mark.parametrize("x", REJECTED_INPUTS, ids=REJECTED_IDS)
def test_linear_rejects_non_real(x: np.ndarray) -> None:
    layer = Linear(3, 2, rng=0)

    with pytest.raises(TypeError, match=r"Linear\(.*\): x must contain real numbers, got dtype"):
        layer(x)


@pytest.mark.parametrize("x", REJECTED_INPUTS, ids=REJECTED_IDS)
def test_sigmoid_rejects_non_real(x: np.ndarray) -> None:
    with pytest.raises(TypeError, match=r"Sigmoid\(\): x must contain real numbers, got dtype"):
        Sigmoid()(x)


@pytest.mark.parametrize("target", REJECTED_INPUTS, ids=REJECTED_IDS)
def test_mse_rejects_non_real_target(target: np.ndarray) -> None:
    with pytest.raises(TypeError, match=r"MSELoss\(.*\): target must contain real numbers"):
        MSELoss()(np.ones((2, 3)), target)


def test_ragged_input_rejected() -> None:
    with pytest.raises(TypeError, match=r"x could not be converted to a numeric array"):
        Sigmoid()([[1.0], [1.0, 2.0]])  # type: ignore[arg-type]


def test_replace_arrays_checks_shape() -> None:
    parameter = minigrad.Parameter(np.zeros((2, 3)))
    data, grad = parameter.data, parameter.grad

    with pytest.raises(ValueError, match=r"must both have shape \(2, 3\) and one dtype"):
        parameter._replace_arrays(np.zeros((3, 2)), np.zeros((3, 2)))

    assert parameter.data is data
    assert parameter.grad is grad

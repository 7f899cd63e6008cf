"""Tests of SGD, Adam and AdamW without PyTorch: hand-computed steps, validation, state dicts.

The PyTorch cross-checks are in test_optim_torch.py, so these tests run without torch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from minigrad.linear import Linear
from minigrad.optim import SGD, Adam, AdamW, Optimizer
from minigrad.parameter import Parameter

OptimizerFactory = Callable[[list[Parameter]], Optimizer]


def run_steps(optimizer: Optimizer, parameter: Parameter, gradients: list[float]) -> list[float]:
    """Apply one step per gradient to a scalar parameter and return the value after each."""
    values = []
    for gradient in gradients:
        parameter.grad[...] = gradient
        optimizer.step()
        values.append(float(parameter.data))
    return values


# Hand-computed steps on a scalar parameter.


def test_sgd_plain_two_steps() -> None:
    weight = Parameter(1.0)
    values = run_steps(SGD([weight], lr=0.1), weight, [0.5, 0.25])
    # 1 - 0.1 * 0.5 = 0.95, then 0.95 - 0.1 * 0.25 = 0.925.
    assert values == pytest.approx([0.95, 0.925], rel=1e-15)


def test_sgd_momentum_two_steps() -> None:
    weight = Parameter(1.0)
    values = run_steps(SGD([weight], lr=0.1, momentum=0.9), weight, [0.5, 0.25])
    # Step 1: b = 0.5 (the first gradient), w = 1 - 0.05 = 0.95.
    # Step 2: b = 0.9 * 0.5 + 0.25 = 0.7, w = 0.95 - 0.07 = 0.88.
    assert values == pytest.approx([0.95, 0.88], rel=1e-15)


def test_sgd_dampening_skips_first_step() -> None:
    weight = Parameter(1.0)
    optimizer = SGD([weight], lr=0.1, momentum=0.9, dampening=0.5)
    values = run_steps(optimizer, weight, [0.5, 0.25])
    # Step 1: b = 0.5 without dampening, w = 0.95.
    # Step 2: b = 0.9 * 0.5 + (1 - 0.5) * 0.25 = 0.575, w = 0.95 - 0.0575 = 0.8925.
    assert values == pytest.approx([0.95, 0.8925], rel=1e-15)


def test_sgd_nesterov_two_steps() -> None:
    weight = Parameter(1.0)
    optimizer = SGD([weight], lr=0.1, momentum=0.9, nesterov=True)
    values = run_steps(optimizer, weight, [0.5, 0.25])
    # Step 1: b = 0.5, d = 0.5 + 0.9 * 0.5 = 0.95, w = 1 - 0.095 = 0.905.
    # Step 2: b = 0.45 + 0.25 = 0.7, d = 0.25 + 0.63 = 0.88, w = 0.905 - 0.088 = 0.817.
    assert values == pytest.approx([0.905, 0.817], rel=1e-15)


def test_sgd_weight_decay_one_step() -> None:
    weight = Parameter(2.0)
    values = run_steps(SGD([weight], lr=0.1, weight_decay=0.1), weight, [0.5])
    # g = 0.5 + 0.1 * 2 = 0.7, w = 2 - 0.07 = 1.93.
    assert values == pytest.approx([1.93], rel=1e-15)


def test_sgd_momentum_with_weight_decay() -> None:
    weight = Parameter(2.0)
    optimizer = SGD([weight], lr=0.1, momentum=0.5, weight_decay=0.1)
    values = run_steps(optimizer, weight, [0.5, 0.5])
    # Step 1: g = 0.5 + 0.2 = 0.7, b = 0.7, w = 2 - 0.07 = 1.93.
    # Step 2: g = 0.5 + 0.193 = 0.693, b = 0.35 + 0.693 = 1.043, w = 1.93 - 0.1043 = 1.8257.
    assert values == pytest.approx([1.93, 1.8257], rel=1e-14)


def test_adam_two_steps() -> None:
    weight = Parameter(1.0)
    values = run_steps(Adam([weight], lr=0.1), weight, [0.5, -1.0])
    # Step 1: m = 0.05, v = 0.00025. Corrected: m / 0.1 = 0.5, v / 0.001 = 0.25.
    #         w = 1 - 0.1 * 0.5 / (0.5 + 1e-8).
    step_1 = 1 - 0.1 * 0.5 / (0.5 + 1e-8)
    # Step 2: m = 0.9 * 0.05 - 0.1 = -0.055, v = 0.999 * 0.00025 + 0.001 = 0.00124975.
    #         Corrections 1 - 0.9**2 = 0.19 and 1 - 0.999**2 = 0.001999.
    step_2 = step_1 + 0.1 / 0.19 * 0.055 / (math.sqrt(0.00124975) / math.sqrt(0.001999) + 1e-8)
    assert values[0] == pytest.approx(0.900000002, rel=1e-9)
    assert values == pytest.approx([step_1, step_2], rel=1e-14)
    assert step_2 == pytest.approx(0.93661035, rel=1e-8)


def test_adam_weight_decay_enters_gradient() -> None:
    weight = Parameter(1.0)
    values = run_steps(Adam([weight], lr=0.1, weight_decay=0.1), weight, [0.5])
    # g = 0.5 + 0.1 * 1 = 0.6. The first Adam step is lr * g / (|g| + eps).
    assert values == pytest.approx([1 - 0.1 * 0.6 / (0.6 + 1e-8)], rel=1e-15)


def test_adamw_decay_shrinks_weight() -> None:
    weight = Parameter(1.0)
    values = run_steps(AdamW([weight], lr=0.1, weight_decay=0.1), weight, [0.5])
    # w = 1 * (1 - 0.1 * 0.1) = 0.99, then the Adam step 0.1 * 0.5 / (0.5 + 1e-8).
    assert values == pytest.approx([0.99 - 0.1 * 0.5 / (0.5 + 1e-8)], rel=1e-15)


@pytest.mark.parametrize(
    ("amsgrad", "expected"),
    [
        # Step 2 divides by sqrt(0.5 / 0.75), the kept maximum: 0.1 * (0.25 / 0.75) / sqrt(2/3).
        (True, 0.9 - 0.1 / math.sqrt(6)),
        # Step 2 divides by sqrt(0.25 / 0.75), the current average: 0.1 / 3 / sqrt(1/3).
        (False, 0.9 - 0.1 / math.sqrt(3)),
    ],
)
def test_adam_amsgrad_keeps_maximum(amsgrad: bool, expected: float) -> None:
    weight = Parameter(1.0)
    optimizer = Adam([weight], lr=0.1, betas=(0.5, 0.5), eps=0.0, amsgrad=amsgrad)
    # Step 1: m = v = 0.5, both corrections are 0.5, so w = 1 - 0.1 * 1 / 1 = 0.9.
    # Step 2 with g = 0: m = 0.25, v = 0.25, corrections 0.75, while v_max stays 0.5.
    values = run_steps(optimizer, weight, [1.0, 0.0])
    assert values == pytest.approx([0.9, expected], rel=1e-15)


def test_adam_state_after_one_step() -> None:
    weight = Parameter([1.0, -2.0])
    optimizer = Adam([weight], lr=0.1, amsgrad=True)
    weight.grad[...] = [0.5, -4.0]
    optimizer.step()
    state = optimizer.state_dict()["state"][0]
    assert state["step"] == 1
    np.testing.assert_allclose(state["exp_avg"], [0.05, -0.4], rtol=1e-15)
    np.testing.assert_allclose(state["exp_avg_sq"], [0.00025, 0.016], rtol=1e-15)
    np.testing.assert_allclose(state["max_exp_avg_sq"], [0.00025, 0.016], rtol=1e-15)


def test_sgd_zero_lr_keeps_weights() -> None:
    weight = Parameter([1.0, 2.0])
    optimizer = SGD([weight], lr=0.0, momentum=0.9)
    weight.grad[...] = [3.0, 4.0]
    optimizer.step()
    np.testing.assert_array_equal(weight.data, [1.0, 2.0])
    np.testing.assert_array_equal(optimizer.state_dict()["state"][0]["momentum_buffer"], [3, 4])


# Arguments and hyperparameters.


def test_sgd_keyword_and_positional_arguments() -> None:
    keyword = SGD([Parameter(1.0)], lr=0.1, nesterov=True, weight_decay=0.01, momentum=0.9)
    positional = SGD([Parameter(1.0)], 0.1, 0.9, 0.0, 0.01, True)
    assert repr(keyword) == repr(positional)
    assert positional.momentum == 0.9
    assert positional.dampening == 0.0
    assert positional.weight_decay == 0.01
    assert positional.nesterov is True


def test_optimizer_repr() -> None:
    params = [Parameter(1.0)]
    assert repr(SGD(params, lr=0.1, momentum=0.9)) == (
        "SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)"
    )
    assert repr(Adam(params)) == (
        "Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)"
    )
    assert repr(AdamW(params, lr=0.01, amsgrad=True)) == (
        "AdamW(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=True)"
    )


def test_hyperparameters_become_python_floats() -> None:
    betas: Any = [0, np.float64(0.5)]
    optimizer = Adam([Parameter(1.0)], lr=np.float32(0.5), betas=betas, eps=0)
    assert type(optimizer.lr) is float
    assert optimizer.betas == (0.0, 0.5)
    assert type(optimizer.betas[0]) is float
    assert type(optimizer.eps) is float


def test_sgd_negative_dampening_allowed() -> None:
    weight = Parameter(1.0)
    values = run_steps(SGD([weight], lr=0.1, momentum=0.5, dampening=-1.0), weight, [1.0, 1.0])
    # Step 2: b = 0.5 * 1 + (1 - (-1)) * 1 = 2.5, w = 0.9 - 0.25 = 0.65.
    assert values == pytest.approx([0.9, 0.65], rel=1e-15)


SGD_INVALID = [
    ({"lr": -0.1}, ValueError, r"lr must be >= 0, got -0\.1"),
    ({"lr": math.nan}, ValueError, r"lr must be finite, got nan"),
    ({"lr": math.inf}, ValueError, r"lr must be finite, got inf"),
    ({"lr": 10**400}, ValueError, r"lr must be finite"),
    ({"lr": True}, TypeError, r"lr must be a real number, got True of type bool"),
    ({"lr": "0.1"}, TypeError, r"lr must be a real number, got '0\.1' of type str"),
    ({"lr": None}, TypeError, r"lr must be a real number, got None"),
    ({"momentum": -0.9}, ValueError, r"momentum must be >= 0, got -0\.9"),
    ({"momentum": math.nan}, ValueError, r"momentum must be finite"),
    ({"dampening": math.inf}, ValueError, r"dampening must be finite, got inf"),
    ({"dampening": "0"}, TypeError, r"dampening must be a real number"),
    ({"weight_decay": -1e-4}, ValueError, r"weight_decay must be >= 0, got -0\.0001"),
    ({"weight_decay": np.bool_(True)}, TypeError, r"weight_decay must be a real number"),
    ({"nesterov": 1}, TypeError, r"nesterov must be True or False, got 1 of type int"),
    (
        {"nesterov": True},
        ValueError,
        r"nesterov=True requires momentum > 0 and dampening == 0, got momentum=0\.0",
    ),
    (
        {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
        ValueError,
        r"nesterov=True requires .* got momentum=0\.9 and dampening=0\.1",
    ),
]


@pytest.mark.parametrize(("arguments", "error", "message"), SGD_INVALID)
def test_sgd_rejects_invalid_argument(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments = {"lr": 0.1, **arguments}
    with pytest.raises(error, match=r"^SGD: " + message):
        SGD([Parameter(1.0)], **arguments)


ADAM_INVALID = [
    ({"lr": -1e-3}, ValueError, r"lr must be >= 0, got -0\.001"),
    ({"lr": math.inf}, ValueError, r"lr must be finite"),
    ({"lr": False}, TypeError, r"lr must be a real number, got False"),
    ({"betas": (1.0, 0.999)}, ValueError, r"betas\[0\] must be in \[0, 1\), got 1\.0"),
    ({"betas": (-0.1, 0.999)}, ValueError, r"betas\[0\] must be in \[0, 1\), got -0\.1"),
    ({"betas": (0.9, 1.0)}, ValueError, r"betas\[1\] must be in \[0, 1\), got 1\.0"),
    ({"betas": (0.9, math.nan)}, ValueError, r"betas\[1\] must be finite"),
    ({"betas": (0.9, "0.999")}, TypeError, r"betas\[1\] must be a real number"),
    ({"betas": 0.9}, TypeError, r"betas must be a pair of numbers \(beta1, beta2\), got 0\.9"),
    ({"betas": (0.9,)}, TypeError, r"betas must be a pair of numbers"),
    ({"betas": "ab"}, TypeError, r"betas must be a pair of numbers"),
    ({"eps": -1e-8}, ValueError, r"eps must be >= 0, got -1e-08"),
    ({"eps": math.nan}, ValueError, r"eps must be finite"),
    ({"weight_decay": -0.01}, ValueError, r"weight_decay must be >= 0, got -0\.01"),
    ({"amsgrad": "yes"}, TypeError, r"amsgrad must be True or False, got 'yes'"),
]


@pytest.mark.parametrize("optimizer_class", [Adam, AdamW])
@pytest.mark.parametrize(("arguments", "error", "message"), ADAM_INVALID)
def test_adam_rejects_invalid_argument(
    optimizer_class: type[Adam], arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=rf"^{optimizer_class.__name__}: " + message):
        optimizer_class([Parameter(1.0)], **arguments)


@pytest.mark.parametrize(
    "factory",
    [lambda params: SGD(params, lr=0.1), lambda params: Adam(params)],
    ids=["SGD", "Adam"],
)
def test_lr_setter_validates(factory: OptimizerFactory) -> None:
    optimizer = factory([Parameter(1.0)])
    assert isinstance(optimizer, (SGD, Adam))
    with pytest.raises(ValueError, match=r"\(lr=.*\): lr must be >= 0, got -1\.0"):
        optimizer.lr = -1.0
    with pytest.raises(TypeError, match=r"lr must be a real number"):
        optimizer.lr = "0.5"  # type: ignore[assignment]
    assert optimizer.lr == pytest.approx(0.1 if isinstance(optimizer, SGD) else 1e-3)
    optimizer.lr = 0.5
    assert optimizer.lr == 0.5


def test_lr_setter_changes_step() -> None:
    weight = Parameter(1.0)
    optimizer = SGD([weight], lr=0.1)
    optimizer.lr = 0.5
    values = run_steps(optimizer, weight, [1.0])
    assert values == [0.5]


def test_params_single_parameter_rejected() -> None:
    with pytest.raises(TypeError, match=r"got a single Parameter\. Wrap it in a list"):
        SGD(Parameter(1.0), lr=0.1)  # type: ignore[arg-type]


def test_params_empty_rejected() -> None:
    with pytest.raises(ValueError, match=r"Adam: params is empty"):
        Adam([])


def test_params_duplicate_rejected() -> None:
    weight = Parameter(1.0)
    with pytest.raises(ValueError, match=r"params\[1\] appears more than once"):
        AdamW([weight, weight])


def test_params_non_parameter_rejected() -> None:
    with pytest.raises(TypeError, match=r"params\[0\] must be a Parameter, got ndarray"):
        SGD([np.zeros(2)], lr=0.1)  # type: ignore[list-item]


# Steps: in place, dtype, atomic.


def test_zero_grad_fills_zeros() -> None:
    weight = Parameter([1.0, 2.0])
    optimizer = Adam([weight])
    weight.grad[...] = [3.0, 4.0]
    optimizer.zero_grad()
    np.testing.assert_array_equal(weight.grad, [0.0, 0.0])


@pytest.mark.parametrize(
    "factory",
    [
        lambda params: SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda params: Adam(params, lr=0.01, weight_decay=0.1, amsgrad=True),
        lambda params: AdamW(params, lr=0.01),
    ],
    ids=["SGD", "Adam", "AdamW"],
)
def test_float32_keeps_dtype_and_identity(factory: OptimizerFactory) -> None:
    rng = np.random.default_rng(3)
    initial = rng.normal(size=(3, 2))
    single = Parameter(initial, dtype=np.float32)
    double = Parameter(initial)
    single_data = single.data
    optimizers = [factory([single]), factory([double])]
    for _ in range(5):
        gradient = rng.normal(size=(3, 2))
        single.grad[...] = gradient
        double.grad[...] = gradient
        for optimizer in optimizers:
            optimizer.step()

    assert single.data is single_data
    assert single.data.dtype == np.float32
    assert single.grad.dtype == np.float32
    for name, array in optimizers[0].state_dict()["state"][0].items():
        if name != "step":
            assert array.dtype == np.float32, name
    np.testing.assert_allclose(single.data, double.data, rtol=1e-5, atol=1e-6)


def test_step_nan_gradient_changes_nothing() -> None:
    first = Parameter([1.0, 2.0])
    second = Parameter([3.0])
    optimizer = Adam([first, second], lr=0.1)
    first.grad[...] = [0.5, 0.5]
    second.grad[...] = [0.5]
    optimizer.step()
    before = optimizer.state_dict()
    data_before = [first.data.copy(), second.data.copy()]

    second.grad[...] = [math.nan]
    with pytest.raises(FloatingPointError, match=r"params\[1\]\.grad contains 1 NaN or infinite"):
        optimizer.step()
    assert_state_equal(optimizer.state_dict(), before)
    np.testing.assert_array_equal(first.data, data_before[0])
    np.testing.assert_array_equal(second.data, data_before[1])


def test_step_overflow_changes_nothing() -> None:
    first = Parameter([1.0])
    second = Parameter([1.0])
    optimizer = SGD([first, second], lr=1e300, momentum=0.9)
    first.grad[...] = [1e-300]
    second.grad[...] = [1e300]
    before = optimizer.state_dict()
    message = r"update of params\[1\] made 1 entries of its data"
    with pytest.raises(FloatingPointError, match=message):
        optimizer.step()
    assert_state_equal(optimizer.state_dict(), before)
    np.testing.assert_array_equal(first.data, [1.0])
    np.testing.assert_array_equal(second.data, [1.0])


def test_adam_zero_eps_zero_gradient() -> None:
    weight = Parameter([1.0])
    optimizer = Adam([weight], eps=0.0)
    with pytest.raises(FloatingPointError, match=r"NaN or infinite, so step\(\) changed nothing"):
        optimizer.step()
    assert optimizer.state_dict()["state"][0]["step"] == 0
    np.testing.assert_array_equal(weight.data, [1.0])


def test_base_optimizer_step_not_implemented() -> None:
    optimizer = Optimizer([Parameter(1.0)])
    with pytest.raises(NotImplementedError, match=r"Optimizer does not implement step\(\)"):
        optimizer.step()


# state_dict and load_state_dict.

CONFIGURATIONS: list[tuple[str, OptimizerFactory]] = [
    ("sgd", lambda params: SGD(params, lr=0.1)),
    ("sgd_momentum", lambda params: SGD(params, lr=0.1, momentum=0.9, dampening=0.1)),
    ("sgd_nesterov", lambda params: SGD(params, lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", lambda params: Adam(params, lr=0.05, weight_decay=0.01)),
    ("adam_amsgrad", lambda params: Adam(params, lr=0.05, amsgrad=True)),
    ("adamw", lambda params: AdamW(params, lr=0.05, weight_decay=0.1)),
]

INPUTS = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5], [-1.0, 1.0, 1.0], [0.2, 0.3, -0.4]])
TARGETS = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [-1.0, 2.0]])


def train(layer: Linear, optimizer: Optimizer, steps: int) -> None:
    """Take ``steps`` steps on the loss 1/2 * sum((x @ W.T + b - y)**2)."""
    for _ in range(steps):
        optimizer.zero_grad()
        output = layer(INPUTS)
        layer.backward(output - TARGETS)
        optimizer.step()


def make_layer() -> Linear:
    return Linear(3, 2, rng=7)


def assert_state_equal(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual["type"] == expected["type"]
    assert actual["hyperparameters"] == expected["hyperparameters"]
    assert actual["state"].keys() == expected["state"].keys()
    for index, entry in expected["state"].items():
        assert actual["state"][index].keys() == entry.keys()
        for name, value in entry.items():
            np.testing.assert_array_equal(actual["state"][index][name], value, err_msg=name)


@pytest.mark.parametrize(
    "factory", [factory for _, factory in CONFIGURATIONS], ids=[n for n, _ in CONFIGURATIONS]
)
def test_state_dict_round_trip_exact(factory: OptimizerFactory) -> None:
    layer = make_layer()
    optimizer = factory(list(layer.parameters()))
    train(layer, optimizer, 3)
    saved_weights = [parameter.data.copy() for parameter in layer.parameters()]
    saved_state = optimizer.state_dict()
    train(layer, optimizer, 4)

    restored_layer = Linear.from_weights(saved_weights[0], saved_weights[1])
    restored = factory(list(restored_layer.parameters()))
    restored.load_state_dict(saved_state)
    assert_state_equal(restored.state_dict(), saved_state)
    train(restored_layer, restored, 4)

    for original, copy_ in zip(layer.parameters(), restored_layer.parameters(), strict=True):
        np.testing.assert_array_equal(copy_.data, original.data)
    assert_state_equal(restored.state_dict(), optimizer.state_dict())


def test_state_dict_contents() -> None:
    layer = make_layer()
    optimizer = SGD(list(layer.parameters()), lr=0.1, momentum=0.9)
    train(layer, optimizer, 2)
    state = optimizer.state_dict()
    assert state["type"] == "SGD"
    assert state["hyperparameters"] == {
        "lr": 0.1,
        "momentum": 0.9,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
    }
    assert list(state["state"]) == [0, 1]
    assert state["state"][0]["step"] == 2
    assert state["state"][0]["momentum_buffer"].shape == (2, 3)
    assert state["state"][1]["momentum_buffer"].shape == (2,)
    assert list(SGD([Parameter(1.0)], lr=0.1).state_dict()["state"][0]) == ["step"]
    assert list(Adam([Parameter(1.0)]).state_dict()["state"][0]) == [
        "step",
        "exp_avg",
        "exp_avg_sq",
    ]


def test_state_dict_returns_copies() -> None:
    weight = Parameter([1.0, 2.0])
    optimizer = Adam([weight], lr=0.1)
    weight.grad[...] = [1.0, 1.0]
    optimizer.step()
    saved = optimizer.state_dict()
    saved_exp_avg = saved["state"][0]["exp_avg"].copy()

    # m = (1 - 0.9) * 1 after the first step.
    saved["state"][0]["exp_avg"][...] = 100.0
    np.testing.assert_allclose(optimizer.state_dict()["state"][0]["exp_avg"], 0.1, rtol=1e-15)
    saved["state"][0]["exp_avg"][...] = saved_exp_avg
    optimizer.step()
    np.testing.assert_allclose(saved["state"][0]["exp_avg"], 0.1, rtol=1e-15)


def test_load_keeps_array_identity() -> None:
    layer = make_layer()
    optimizer = Adam(list(layer.parameters()), amsgrad=True)
    train(layer, optimizer, 2)
    saved = optimizer.state_dict()

    fresh = Adam(list(make_layer().parameters()), amsgrad=True)
    arrays_before = [dict(entry) for entry in fresh._state]
    fresh.load_state_dict(saved)
    for before, after in zip(arrays_before, fresh._state, strict=True):
        for name, array in after.items():
            assert array is before[name], name


def test_load_restores_hyperparameters() -> None:
    source = SGD([Parameter(1.0)], lr=0.3, momentum=0.5, dampening=0.2, weight_decay=0.1)
    target = SGD([Parameter(1.0)], lr=0.01, momentum=0.9, nesterov=True)
    target.load_state_dict(source.state_dict())
    assert repr(target) == repr(source)


def test_load_accepts_numpy_scalars() -> None:
    layer = make_layer()
    optimizer = Adam(list(layer.parameters()), lr=0.05)
    train(layer, optimizer, 2)
    saved = optimizer.state_dict()
    # The form np.savez and np.load return: 0-d arrays for numbers and an array of betas.
    loaded = {
        "type": np.asarray(saved["type"]),
        "hyperparameters": {
            name: np.asarray(value) for name, value in saved["hyperparameters"].items()
        },
        "state": {
            index: {name: np.asarray(value) for name, value in entry.items()}
            for index, entry in saved["state"].items()
        },
    }
    fresh = Adam(list(make_layer().parameters()))
    fresh.load_state_dict(loaded)
    assert_state_equal(fresh.state_dict(), saved)
    assert type(fresh.state_dict()["state"][0]["step"]) is int
    assert type(fresh.betas[0]) is float


StateEdit = Callable[[dict[str, Any]], None]


def set_entry(path: tuple[Any, ...], value: Any) -> StateEdit:
    def edit(state: dict[str, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def delete_entry(path: tuple[Any, ...]) -> StateEdit:
    def edit(state: dict[str, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def rename_key(path: tuple[Any, ...], new_key: Any) -> StateEdit:
    def edit(state: dict[str, Any]) -> None:
        target = state
        for key in path[:-1]:
            target = target[key]
        target[new_key] = target.pop(path[-1])

    return edit


ADAM_REJECTIONS: list[tuple[str, StateEdit, str]] = [
    ("extra_top_key", set_entry(("param_groups",), []), r"unknown: \['param_groups'\]"),
    ("missing_type", delete_entry(("type",)), r"missing: \['type'\]"),
    ("wrong_type", set_entry(("type",), "SGD"), r"state_dict\['type'\] is 'SGD', expected 'Adam'"),
    ("adamw_type", set_entry(("type",), "AdamW"), r"is 'AdamW', expected 'Adam'"),
    ("type_not_str", set_entry(("type",), 3), r"state_dict\['type'\] is 3"),
    (
        "missing_lr",
        delete_entry(("hyperparameters", "lr")),
        r"state_dict\['hyperparameters'\] has the keys .* \(missing: \['lr'\], unknown: \[\]\)",
    ),
    (
        "extra_momentum",
        set_entry(("hyperparameters", "momentum"), 0.9),
        r"unknown: \['momentum'\]",
    ),
    (
        "negative_lr",
        set_entry(("hyperparameters", "lr"), -0.1),
        r"state_dict\['hyperparameters'\]\['lr'\] must be >= 0, got -0\.1",
    ),
    (
        "nan_eps",
        set_entry(("hyperparameters", "eps"), math.nan),
        r"\['eps'\] must be finite, got nan",
    ),
    (
        "string_lr",
        set_entry(("hyperparameters", "lr"), "0.1"),
        r"\['lr'\] must be a real number, got '0\.1'",
    ),
    (
        "beta_one",
        set_entry(("hyperparameters", "betas"), (0.9, 1.0)),
        r"\['betas'\]\[1\] must be in \[0, 1\), got 1\.0",
    ),
    (
        "amsgrad_changed",
        set_entry(("hyperparameters", "amsgrad"), True),
        r"saved hyperparameters \(amsgrad=True\) need the state arrays "
        r"\['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'\], but this optimizer keeps",
    ),
    ("state_not_dict", set_entry(("state",), [1, 2]), r"state_dict\['state'\] must be a dict"),
    (
        "missing_parameter",
        delete_entry(("state", 1)),
        r"state_dict\['state'\] has the keys \[0\], expected the positions \[0, 1\]",
    ),
    ("extra_parameter", set_entry(("state", 2), {}), r"has the keys \[0, 1, 2\], expected"),
    ("string_key", rename_key(("state", 1), "1"), r"has the keys \['1', 0\], expected"),
    (
        "missing_step",
        delete_entry(("state", 1, "step")),
        r"state_dict\['state'\]\[1\] has the keys .* \(missing: \['step'\]",
    ),
    ("extra_array", set_entry(("state", 1, "momentum_buffer"), np.zeros(2)), r"unknown: \['mom"),
    (
        "negative_step",
        set_entry(("state", 1, "step"), -1),
        r"state_dict\['state'\]\[1\]\['step'\] must be an integer >= 0, got -1",
    ),
    ("float_step", set_entry(("state", 1, "step"), 2.0), r"\['step'\] must be an integer"),
    ("bool_step", set_entry(("state", 1, "step"), True), r"\['step'\] must be an integer"),
    (
        "list_array",
        set_entry(("state", 1, "exp_avg"), [0.0, 0.0]),
        r"\[1\]\['exp_avg'\] must be a numpy array, got list",
    ),
    (
        "wrong_shape",
        set_entry(("state", 1, "exp_avg"), np.zeros((2, 1))),
        r"\[1\]\['exp_avg'\] has shape \(2, 1\) and dtype float64, expected shape \(2,\)",
    ),
    (
        "wrong_dtype",
        set_entry(("state", 1, "exp_avg"), np.zeros(2, dtype=np.float32)),
        r"dtype float32, expected shape \(2,\) and dtype float64",
    ),
    (
        "nan_array",
        set_entry(("state", 1, "exp_avg"), np.array([0.0, math.nan])),
        r"\[1\]\['exp_avg'\] contains 1 NaN or infinite entries",
    ),
    (
        "negative_square",
        set_entry(("state", 1, "exp_avg_sq"), np.array([0.1, -0.1])),
        r"\[1\]\['exp_avg_sq'\] contains 1 negative entries",
    ),
]


@pytest.mark.parametrize(
    ("edit", "message"),
    [(edit, message) for _, edit, message in ADAM_REJECTIONS],
    ids=[name for name, _, _ in ADAM_REJECTIONS],
)
def test_load_rejection_changes_nothing(edit: StateEdit, message: str) -> None:
    # The saved state differs from the target in every entry, and the edited entry is the
    # last one checked where possible, so a partial load would show.
    source_weights = [Parameter(np.ones((3, 2))), Parameter(np.ones(2))]
    source = Adam(source_weights, lr=0.3, weight_decay=0.1)
    for parameter in source_weights:
        parameter.grad[...] = 1.0
    source.step()
    saved = copy.deepcopy(source.state_dict())
    edit(saved)

    target_weights = [Parameter(np.zeros((3, 2))), Parameter(np.zeros(2))]
    target = Adam(target_weights, lr=0.01)
    for parameter in target_weights:
        parameter.grad[...] = -2.0
    target.step()
    target.step()
    before = target.state_dict()

    with pytest.raises(ValueError, match=message):
        target.load_state_dict(saved)
    assert_state_equal(target.state_dict(), before)


def test_load_rejects_non_dict() -> None:
    optimizer = SGD([Parameter(1.0)], lr=0.1)
    with pytest.raises(ValueError, match=r"state_dict must be a dict with the keys"):
        optimizer.load_state_dict([("type", "SGD")])  # type: ignore[arg-type]


def test_load_rejects_momentum_mismatch() -> None:
    without_momentum = SGD([Parameter(1.0)], lr=0.1)
    with_momentum = SGD([Parameter(1.0)], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"\(momentum=0\.0\) need the state arrays \[\]"):
        with_momentum.load_state_dict(without_momentum.state_dict())
    with pytest.raises(ValueError, match=r"Create the optimizer with momentum=0\.9 before"):
        without_momentum.load_state_dict(with_momentum.state_dict())
    assert with_momentum.momentum == 0.9
    assert without_momentum.momentum == 0.0


def test_load_rejects_invalid_nesterov() -> None:
    optimizer = SGD([Parameter(1.0)], lr=0.1, momentum=0.9)
    saved = optimizer.state_dict()
    saved["hyperparameters"]["nesterov"] = True
    saved["hyperparameters"]["dampening"] = 0.5
    with pytest.raises(ValueError, match=r"\['nesterov'\]=True requires momentum > 0 and "):
        optimizer.load_state_dict(saved)
    assert optimizer.nesterov is False
    assert optimizer.dampening == 0.0


def test_load_rejects_other_optimizer_class() -> None:
    adamw = AdamW([Parameter(1.0)])
    with pytest.raises(ValueError, match=r"^AdamW\(lr=0\.001.*\)\.load_state_dict: "):
        adamw.load_state_dict(Adam([Parameter(1.0)]).state_dict())


def test_float32_overflow_after_to_raises() -> None:
    # The optimizer is built before Module.to, so its momentum buffer stays float64 and the
    # update is finite in float64 but overflows in the float32 parameter.
    layer = Linear.from_weights([[3e38]], [0.0])
    optimizer = SGD(layer.parameters(), lr=1.0, momentum=0.5)
    layer.to(np.float32)
    layer.weight.grad[...] = -1.0
    layer.bias.grad[...] = -1.0
    optimizer.step()
    layer.weight.grad[...] = -1e38
    weight_before = layer.weight.data.copy()
    assert layer.bias is not None
    bias_before = layer.bias.data.copy()

    with pytest.raises(FloatingPointError, match=r"update of params\[0\] made 1 entries"):
        optimizer.step()

    np.testing.assert_array_equal(layer.weight.data, weight_before)
    np.testing.assert_array_equal(layer.bias.data, bias_before)
    assert layer.weight.data.dtype == np.float32

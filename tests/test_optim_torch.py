"""Cross-checks of SGD, Adam and AdamW against torch.optim in float64.

Both frameworks start from the same weights and receive the same gradients, and after every
step the weights and the optimizer state must agree to 1e-12 relative. The whole module is
skipped when torch is not installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from minigrad.activations import Sigmoid
from minigrad.containers import Sequential
from minigrad.linear import Linear
from minigrad.losses import MSELoss
from minigrad.optim import SGD, Adam, AdamW, Optimizer
from minigrad.parameter import Parameter

torch = pytest.importorskip("torch")

RTOL = 1e-12
ATOL = 1e-14
STEPS = 6
# Gradient scales per step. The drop after the second step makes AMSGrad's maximum differ
# from the current average, and the large scales test the bias correction with big moments.
GRADIENT_SCALES = [1.0, 3.0, 0.05, 2.0, 0.01, 1.0]

# (id, minigrad class, torch class name, keyword arguments shared by both).
CONFIGURATIONS: list[tuple[str, type[Optimizer], str, dict[str, Any]]] = [
    ("sgd_plain", SGD, "SGD", {"lr": 0.1}),
    ("sgd_momentum", SGD, "SGD", {"lr": 0.1, "momentum": 0.9}),
    ("sgd_dampening", SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("sgd_negative_dampening", SGD, "SGD", {"lr": 0.05, "momentum": 0.5, "dampening": -0.5}),
    ("sgd_nesterov", SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("sgd_weight_decay", SGD, "SGD", {"lr": 0.1, "weight_decay": 0.1}),
    (
        "sgd_all",
        SGD,
        "SGD",
        {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.05, "nesterov": True},
    ),
    ("sgd_large_lr", SGD, "SGD", {"lr": 10.0, "momentum": 0.9, "weight_decay": 0.01}),
    ("adam", Adam, "Adam", {"lr": 0.01}),
    ("adam_weight_decay", Adam, "Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("adam_amsgrad", Adam, "Adam", {"lr": 0.01, "amsgrad": True}),
    ("adam_betas_eps", Adam, "Adam", {"lr": 0.1, "betas": (0.5, 0.75), "eps": 1e-2}),
    ("adam_large_lr", Adam, "Adam", {"lr": 10.0, "weight_decay": 0.01}),
    ("adamw", AdamW, "AdamW", {"lr": 0.01}),
    ("adamw_decay_amsgrad", AdamW, "AdamW", {"lr": 0.01, "weight_decay": 0.5, "amsgrad": True}),
    ("adamw_large_lr", AdamW, "AdamW", {"lr": 10.0, "weight_decay": 0.05}),
]

# minigrad names its state arrays as PyTorch does. PyTorch's "step" is a tensor, not an array.
STATE_NAMES = ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def make_torch_optimizer(name: str, params: list[Any], arguments: dict[str, Any]) -> Any:
    # foreach=False selects PyTorch's per-parameter loop, its default for CPU tensors anyway.
    return getattr(torch.optim, name)(params, foreach=False, **arguments)


def assert_state_matches(
    optimizer: Optimizer, torch_optimizer: Any, torch_params: list[Any]
) -> None:
    state = optimizer.state_dict()["state"]
    for index, torch_param in enumerate(torch_params):
        torch_state = torch_optimizer.state[torch_param]
        for name in STATE_NAMES:
            assert (name in state[index]) == (name in torch_state), name
            if name in state[index]:
                np.testing.assert_allclose(
                    state[index][name],
                    torch_state[name].numpy(),
                    rtol=RTOL,
                    atol=ATOL,
                    err_msg=f"state[{index}][{name!r}]",
                )
        if "step" in torch_state:
            assert state[index]["step"] == int(torch_state["step"])


@pytest.mark.parametrize(
    ("optimizer_class", "torch_name", "arguments"),
    [configuration[1:] for configuration in CONFIGURATIONS],
    ids=[configuration[0] for configuration in CONFIGURATIONS],
)
def test_optimizer_matches_torch(
    optimizer_class: type[Optimizer], torch_name: str, arguments: dict[str, Any]
) -> None:
    rng = np.random.default_rng(20)
    initial = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(2, 3, 2))]
    params = [Parameter(array) for array in initial]
    torch_params = [torch.tensor(array, requires_grad=True) for array in initial]
    optimizer = optimizer_class(params, **arguments)
    torch_optimizer = make_torch_optimizer(torch_name, torch_params, arguments)

    for step, scale in enumerate(GRADIENT_SCALES, start=1):
        for param, torch_param in zip(params, torch_params, strict=True):
            gradient = scale * rng.normal(size=param.shape)
            param.grad[...] = gradient
            torch_param.grad = torch.tensor(gradient)
        optimizer.step()
        torch_optimizer.step()

        for index, (param, torch_param) in enumerate(zip(params, torch_params, strict=True)):
            np.testing.assert_allclose(
                param.data,
                torch_param.detach().numpy(),
                rtol=RTOL,
                atol=ATOL,
                err_msg=f"params[{index}] after step {step}",
            )
    assert_state_matches(optimizer, torch_optimizer, torch_params)


def test_large_lr_moves_weights_far() -> None:
    # Guards the large-lr configurations above against checking only tiny changes.
    weight = Parameter(np.zeros(3))
    optimizer = SGD([weight], lr=10.0, momentum=0.9)
    torch_weight = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    torch_optimizer = make_torch_optimizer("SGD", [torch_weight], {"lr": 10.0, "momentum": 0.9})
    for _ in range(STEPS):
        weight.grad[...] = [1.0, -2.0, 0.5]
        torch_weight.grad = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
        optimizer.step()
        torch_optimizer.step()
    # Each step adds lr * (1 + 0.9 + ... + 0.9**(t-1)) times the gradient.
    total = 10.0 * sum((1 - 0.9**t) / (1 - 0.9) for t in range(1, STEPS + 1))
    np.testing.assert_allclose(weight.data, [-total, 2 * total, -0.5 * total], rtol=1e-13)
    np.testing.assert_allclose(weight.data, torch_weight.detach().numpy(), rtol=RTOL)


NETWORK_CONFIGURATIONS = [
    (
        "sgd_nesterov_decay",
        SGD,
        "SGD",
        {"lr": 0.5, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    ),
    ("adam_decay", Adam, "Adam", {"lr": 0.05, "weight_decay": 0.01}),
    ("adamw", AdamW, "AdamW", {"lr": 0.05, "weight_decay": 0.1}),
]


@pytest.mark.parametrize(
    ("optimizer_class", "torch_name", "arguments"),
    [configuration[1:] for configuration in NETWORK_CONFIGURATIONS],
    ids=[configuration[0] for configuration in NETWORK_CONFIGURATIONS],
)
def test_network_training_matches_torch(
    optimizer_class: type[Optimizer], torch_name: str, arguments: dict[str, Any]
) -> None:
    rng = np.random.default_rng(4)
    inputs = rng.normal(size=(8, 3))
    targets = rng.uniform(size=(8, 2))
    hidden = Linear(3, 4, rng=rng)
    output = Linear(4, 2, rng=rng)
    network = Sequential(hidden, Sigmoid(), output, Sigmoid())
    loss_function = MSELoss()

    torch_hidden = torch.nn.Linear(3, 4, dtype=torch.float64)
    torch_output = torch.nn.Linear(4, 2, dtype=torch.float64)
    with torch.no_grad():
        for torch_layer, layer in ((torch_hidden, hidden), (torch_output, output)):
            assert layer.bias is not None
            torch_layer.weight.copy_(torch.tensor(layer.weight.data))
            torch_layer.bias.copy_(torch.tensor(layer.bias.data))
    torch_network = torch.nn.Sequential(
        torch_hidden, torch.nn.Sigmoid(), torch_output, torch.nn.Sigmoid()
    )
    torch_inputs = torch.tensor(inputs)
    torch_targets = torch.tensor(targets)

    optimizer = optimizer_class(list(network.parameters()), **arguments)
    torch_optimizer = make_torch_optimizer(torch_name, list(torch_network.parameters()), arguments)
    for _ in range(10):
        optimizer.zero_grad()
        loss = loss_function(network(inputs), targets)
        network.backward(loss_function.backward())
        optimizer.step()

        torch_optimizer.zero_grad()
        torch_loss = torch.nn.functional.mse_loss(torch_network(torch_inputs), torch_targets)
        torch_loss.backward()
        torch_optimizer.step()
        assert loss == pytest.approx(torch_loss.item(), rel=RTOL)

    names = [name for name, _ in network.named_parameters()]
    for name, param, torch_param in zip(
        names, network.parameters(), torch_network.parameters(), strict=True
    ):
        np.testing.assert_allclose(
            param.data, torch_param.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )


# Hyperparameters that PyTorch rejects with ValueError, as minigrad does.
TORCH_INVALID: list[tuple[type[Optimizer], str, dict[str, Any]]] = [
    (SGD, "SGD", {"lr": -0.1}),
    (SGD, "SGD", {"lr": 0.1, "momentum": -0.5}),
    (SGD, "SGD", {"lr": 0.1, "weight_decay": -0.5}),
    (SGD, "SGD", {"lr": 0.1, "nesterov": True}),
    (SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    (Adam, "Adam", {"lr": -0.1}),
    (Adam, "Adam", {"betas": (1.0, 0.999)}),
    (Adam, "Adam", {"betas": (0.9, -0.001)}),
    (Adam, "Adam", {"eps": -1.0}),
    (Adam, "Adam", {"weight_decay": -1.0}),
    (AdamW, "AdamW", {"betas": (0.9, 1.0)}),
    (AdamW, "AdamW", {"weight_decay": -1.0}),
]


@pytest.mark.parametrize(("optimizer_class", "torch_name", "arguments"), TORCH_INVALID)
def test_invalid_hyperparameters_like_torch(
    optimizer_class: type[Optimizer], torch_name: str, arguments: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        make_torch_optimizer(torch_name, [torch.zeros(1, requires_grad=True)], arguments)
    with pytest.raises(ValueError, match=r"must be|requires"):
        optimizer_class([Parameter(0.0)], **arguments)

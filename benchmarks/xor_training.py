"""Time one training iteration of the textbook's XOR network in minigrad, numpy and PyTorch.

The network is 3-4-1 with sigmoid activations and no biases, because the third input is a
constant 1. It trains on a batch of 4 samples in float64, with the cost
1/2 * sum((a - y)**2) and gradient descent with learning rate 1. One iteration is a
forward pass, the loss as a Python float, the backward pass and the update. Variants:

- hand, careful (the reference of the targets): numpy written from the textbook's
  equations by an engineer who reuses the cached sigmoid outputs in the derivative and
  skips the unused gradient with respect to the input data.
- hand, textbook style: the same with the textbook's habits, which recompute sigmoid(z)
  inside its derivative and also compute the input gradient.
- minigrad: ``Sequential`` of ``Linear`` and ``Sigmoid``, ``MSELoss("half_sum")``, ``SGD``.
- minigrad, input_grad=False: the same with ``model.backward(grad, input_grad=False)``.
- torch: ``torch.nn`` with ``torch.optim.SGD``, with default threads and with one thread.

Run ``python benchmarks/xor_training.py`` (``--quick`` for a short check).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import _harness
import numpy as np

_harness.add_repository_to_path()
import minigrad  # noqa: E402

INPUTS = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float64)
TARGETS = np.array([[0], [1], [1], [0]], dtype=np.float64)
LEARNING_RATE = 1.0


@dataclass
class Variant:
    """A training loop to time, and a function returning its weights as (3, 4) and (4, 1)."""

    run: _harness.Runner
    weights: Callable[[], list[np.ndarray]]


def initial_weights() -> tuple[np.ndarray, np.ndarray]:
    """Return the textbook's initial weights: numpy's legacy generator with seed 1."""
    generator = np.random.RandomState(1)
    return generator.random_sample((3, 4)), generator.random_sample((4, 1))


def hand_careful() -> Variant:
    w1, w2 = initial_weights()
    x, y, lr = INPUTS, TARGETS, LEARNING_RATE

    def run(iterations: int) -> None:
        nonlocal w1, w2
        for _ in range(iterations):
            hidden = 1.0 / (1.0 + np.exp(-(x @ w1)))
            output = 1.0 / (1.0 + np.exp(-(hidden @ w2)))
            error = output - y
            loss = 0.5 * float(np.vdot(error, error))  # noqa: F841  # a training loop reports it
            delta_output = error * output * (1.0 - output)
            delta_hidden = (delta_output @ w2.T) * hidden * (1.0 - hidden)
            w2 -= lr * (hidden.T @ delta_output)
            w1 -= lr * (x.T @ delta_hidden)

    return Variant(run, lambda: [w1, w2])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return result


def _sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    return _sigmoid(z) * (1.0 - _sigmoid(z))


def hand_textbook_style() -> Variant:
    w1, w2 = initial_weights()
    x, y, lr = INPUTS, TARGETS, LEARNING_RATE

    def run(iterations: int) -> None:
        nonlocal w1, w2
        for _ in range(iterations):
            z1 = x @ w1
            a1 = _sigmoid(z1)
            z2 = a1 @ w2
            a2 = _sigmoid(z2)
            cost = 0.5 * np.sum((y - a2) ** 2)  # noqa: F841
            delta2 = (a2 - y) * _sigmoid_derivative(z2)
            delta1 = (delta2 @ w2.T) * _sigmoid_derivative(z1)
            delta0 = delta1 @ w1.T  # noqa: F841  # the input gradient, unused
            w2 -= lr * (a1.T @ delta2)
            w1 -= lr * (x.T @ delta1)

    return Variant(run, lambda: [w1, w2])


def minigrad_loop(*, input_grad: bool) -> Variant:
    w1, w2 = initial_weights()
    model = minigrad.Sequential(
        minigrad.Linear.from_weights(w1.T),
        minigrad.Sigmoid(),
        minigrad.Linear.from_weights(w2.T),
        minigrad.Sigmoid(),
    )
    loss_function = minigrad.MSELoss(reduction="half_sum")
    optimizer = minigrad.SGD(model.parameters(), lr=LEARNING_RATE)
    x, y = INPUTS, TARGETS

    if input_grad:

        def run(iterations: int) -> None:
            for _ in range(iterations):
                optimizer.zero_grad()
                loss = loss_function(model(x), y)  # noqa: F841
                model.backward(loss_function.backward())
                optimizer.step()

    else:

        def run(iterations: int) -> None:
            for _ in range(iterations):
                optimizer.zero_grad()
                loss = loss_function(model(x), y)  # noqa: F841
                model.backward(loss_function.backward(), input_grad=False)
                optimizer.step()

    return Variant(run, lambda: [p.data.T for p in model.parameters()])


def torch_loop(torch: ModuleType, threads: int | None) -> Variant:
    w1, w2 = initial_weights()
    hidden = torch.nn.Linear(3, 4, bias=False, dtype=torch.float64)
    output = torch.nn.Linear(4, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        hidden.weight.copy_(torch.from_numpy(w1.T.copy()))
        output.weight.copy_(torch.from_numpy(w2.T.copy()))
    model = torch.nn.Sequential(hidden, torch.nn.Sigmoid(), output, torch.nn.Sigmoid())
    loss_function = torch.nn.MSELoss(reduction="sum")
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    x, y = torch.from_numpy(INPUTS), torch.from_numpy(TARGETS)
    default_threads = torch.get_num_threads()

    def run(iterations: int) -> None:
        torch.set_num_threads(threads or default_threads)
        try:
            for _ in range(iterations):
                optimizer.zero_grad()
                loss = 0.5 * loss_function(model(x), y)
                loss.backward()
                optimizer.step()
                loss.item()
        finally:
            torch.set_num_threads(default_threads)

    def weights() -> list[np.ndarray]:
        return [p.detach().numpy().T.copy() for p in model.parameters()]

    return Variant(run, weights)


def build_variants(torch: ModuleType | None) -> dict[str, Variant]:
    variants = {
        "hand, careful": hand_careful(),
        "hand, textbook style": hand_textbook_style(),
        "minigrad": minigrad_loop(input_grad=True),
        "minigrad, input_grad=False": minigrad_loop(input_grad=False),
    }
    if torch is not None:
        variants["torch, default threads"] = torch_loop(torch, None)
        variants["torch, 1 thread"] = torch_loop(torch, 1)
    return variants


def check_agreement(torch: ModuleType | None, iterations: int = 200) -> None:
    """Train fresh copies of every variant and raise unless their weights agree."""
    variants = build_variants(torch)
    reference = None
    for name, variant in variants.items():
        variant.run(iterations)
        weights = variant.weights()
        if reference is None:
            reference = weights
            continue
        for actual, expected in zip(weights, reference, strict=True):
            if not np.allclose(actual, expected, rtol=1e-9, atol=1e-12):
                raise SystemExit(f"{name} computes other weights than the careful hand loop.")
    print(f"All variants give the same weights after {iterations} iterations (rtol 1e-9).")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _harness.add_timing_options(parser)
    arguments = parser.parse_args(argv)
    repeats, seconds = _harness.timing_settings(arguments)
    torch = _harness.load_torch(arguments)

    _harness.print_environment(torch)
    check_agreement(torch)
    variants = build_variants(torch)
    timings = _harness.measure(
        {name: variant.run for name, variant in variants.items()}, repeats=repeats, seconds=seconds
    )

    print(f"\nXOR 3-4-1, batch 4, float64: {repeats} interleaved repeats, medians")
    rows: list[list[Any]] = []
    for name in variants:
        rows.append(
            [
                name,
                _harness.format_seconds(_harness.median_time(timings, name)),
                f"{_harness.median_ratio(timings, name, 'hand, careful'):.2f}",
            ]
        )
    _harness.print_table(["variant", "time per iteration", "ratio to hand, careful"], rows)

    print("\nTargets (medians of paired ratios):")
    target_rows = []
    for name in ("minigrad", "minigrad, input_grad=False"):
        ratio = _harness.median_ratio(timings, name, "hand, careful")
        result = _harness.verdict(ratio, 1.0, at_most=True)
        target_rows.append([f"{name} / hand, careful", "<= 1.0", f"{ratio:.2f}", result])
        textbook = _harness.median_ratio(timings, name, "hand, textbook style")
        target_rows.append(
            [f"{name} / hand, textbook style", "(information)", f"{textbook:.2f}", ""]
        )
        if torch is not None:
            speedup = _harness.median_ratio(timings, "torch, default threads", name)
            target_rows.append(
                [
                    f"torch, default threads / {name}",
                    ">= 10",
                    f"{speedup:.1f}",
                    _harness.verdict(speedup, 10.0, at_most=False),
                ]
            )
    _harness.print_table(["comparison", "target", "measured", "result"], target_rows)


if __name__ == "__main__":
    main()

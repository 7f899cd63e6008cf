"""Compare a minigrad training step at batch 1024 with the time of its matrix products alone.

The MLP is the 784-256-10 network of benchmarks/_mlp.py. A training step needs five
matrix products: two in the forward pass, the weight gradients of both layers, and the
gradient that flows from the second layer into the first. Their time, each written as
``a @ b`` on arrays of the step's shapes, is the practical limit of the step, because the
rest is element-wise work on far fewer numbers. minigrad's default ``backward`` also
computes the gradient with respect to the input data, a sixth product, which
``input_grad=False`` skips. The target: minigrad with ``input_grad=False`` at most 1.2 times
the five products.

Run ``python benchmarks/matmul_limit.py`` (``--quick`` for a short check).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import _harness
import _mlp
import numpy as np

BATCH_SIZE = 1024


def products_runner(problem: _mlp.Problem, *, input_grad: bool) -> _harness.Runner:
    """Return a runner that computes the matrix products of one training step."""
    rng = np.random.default_rng(3)
    dtype = problem.dtype
    x = problem.x
    w1, _, w2, _ = problem.weights
    hidden = rng.random((BATCH_SIZE, _mlp.HIDDEN_FEATURES)).astype(dtype)
    delta_output = rng.standard_normal((BATCH_SIZE, _mlp.CLASSES)).astype(dtype)
    delta_hidden = rng.standard_normal((BATCH_SIZE, _mlp.HIDDEN_FEATURES)).astype(dtype)

    def run(iterations: int) -> None:
        for _ in range(iterations):
            x @ w1.T
            hidden @ w2.T
            delta_output.T @ hidden
            delta_output @ w2
            delta_hidden.T @ x
            if input_grad:
                delta_hidden @ w1

    return run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _harness.add_timing_options(parser)
    arguments = parser.parse_args(argv)
    repeats, seconds = _harness.timing_settings(arguments)
    _harness.print_environment()

    summary = []
    for model in _mlp.MODELS:
        for dtype in (np.float32, np.float64):
            problem = _mlp.make_problem(model, BATCH_SIZE, dtype)
            variants = {
                "5 products": products_runner(problem, input_grad=False),
                "6 products": products_runner(problem, input_grad=True),
                "minigrad": _mlp.minigrad_loop(problem, input_grad=True).run,
                "minigrad, input_grad=False": _mlp.minigrad_loop(problem, input_grad=False).run,
            }
            timings = _harness.measure(variants, repeats=repeats, seconds=seconds)
            title = f"{model}, {np.dtype(dtype).name}, batch {BATCH_SIZE}"
            print(f"\n{title}: {repeats} interleaved repeats, medians")
            _harness.print_table(
                ["variant", "time per step", "ratio to 5 products"],
                [
                    [
                        name,
                        _harness.format_seconds(_harness.median_time(timings, name)),
                        f"{_harness.median_ratio(timings, name, '5 products'):.2f}",
                    ]
                    for name in variants
                ],
            )
            ratio = _harness.median_ratio(timings, "minigrad, input_grad=False", "5 products")
            summary.append(
                [
                    title,
                    "minigrad, input_grad=False / 5 products",
                    "<= 1.2",
                    f"{ratio:.2f}",
                    _harness.verdict(ratio, 1.2, at_most=True),
                ]
            )
            default_ratio = _harness.median_ratio(timings, "minigrad", "6 products")
            summary.append(
                [title, "minigrad / 6 products", "(information)", f"{default_ratio:.2f}", ""]
            )

    print("\nTarget (medians of paired ratios):")
    _harness.print_table(["configuration", "comparison", "target", "measured", "result"], summary)


if __name__ == "__main__":
    main()

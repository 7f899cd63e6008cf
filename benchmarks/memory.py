"""Measure the memory of a 1000-step MLP training run in minigrad and in hand-written numpy.

Each variant runs in its own Python process. After the data and the initial weights exist,
``tracemalloc`` starts, so it counts every allocation of the model and the training run:
parameters, gradients, the temporaries of each step and Python objects (numpy reports its
array buffers to tracemalloc). The peak is taken over the training steps, after the model
is built, so it contains the parameters and gradients that stay allocated and the largest
set of temporaries of a step. The script also reports the memory still allocated after
10 steps and after the last step, and the process's maximum resident set size, which also
contains the interpreter and the imported libraries.

The targets: minigrad's peak at most 1.1 times the hand loop's, and no growth. Growth
counts as none when it stays below 0.1% of the memory after 10 steps. A leak of one
Python object per step (at least 16 bytes) would exceed that in 1000 steps. The
interpreter's free lists and dict resizes add a few kilobytes once.

Run ``python benchmarks/memory.py`` (``--quick`` runs 100 steps).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tracemalloc
from collections.abc import Sequence
from typing import Any

import _harness
import _mlp
import numpy as np

VARIANTS = ("hand, careful", "minigrad", "minigrad, input_grad=False")
DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}
MEGABYTE = 1e6


def run_child(variant_name: str, model: str, dtype_name: str, batch_size: int, steps: int) -> None:
    """Train one variant under tracemalloc and print its measurements as JSON."""
    problem = _mlp.make_problem(model, batch_size, DTYPES[dtype_name])
    tracemalloc.start()
    if variant_name == "hand, careful":
        variant = _mlp.hand_loop(problem)
    else:
        variant = _mlp.minigrad_loop(problem, input_grad=variant_name == "minigrad")
    tracemalloc.reset_peak()
    variant.run(10)
    after_10, _ = tracemalloc.get_traced_memory()
    variant.run(steps - 10)
    after_all, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss_kilobytes = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "peak": peak,
                "after_10": after_10,
                "after_all": after_all,
                "max_rss": max_rss_kilobytes * 1024,
            }
        )
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="run 100 steps instead of 1000")
    parser.add_argument("--steps", type=int, default=1000, help="training steps (default: 1000)")
    parser.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    parser.add_argument("--dtype", choices=list(DTYPES), default="float64")
    parser.add_argument("--model", choices=list(_mlp.MODELS), default="sigmoid-mse")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    steps = 100 if arguments.quick else arguments.steps
    if steps <= 10:
        raise SystemExit(f"--steps must be more than 10, got {steps}.")

    if arguments.child is not None:
        run_child(arguments.child, arguments.model, arguments.dtype, arguments.batch_size, steps)
        return

    _harness.print_environment()
    results = {}
    for name in VARIANTS:
        command = [
            sys.executable,
            __file__,
            "--child",
            name,
            "--steps",
            str(steps),
            "--batch-size",
            str(arguments.batch_size),
            "--dtype",
            arguments.dtype,
            "--model",
            arguments.model,
        ]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results[name] = json.loads(output.splitlines()[-1])

    title = f"{arguments.model}, {arguments.dtype}, batch {arguments.batch_size}, {steps} steps"
    print(f"\nMemory of the training run ({title}), traced by tracemalloc")
    reference_peak = results["hand, careful"]["peak"]
    rows = []
    for name, result in results.items():
        rows.append(
            [
                name,
                f"{result['peak'] / MEGABYTE:.2f} MB",
                f"{result['peak'] / reference_peak:.2f}",
                f"{result['after_10'] / MEGABYTE:.3f} MB",
                f"{result['after_all'] / MEGABYTE:.3f} MB",
                f"{(result['after_all'] - result['after_10']) / 1e3:+.1f} kB",
                f"{result['max_rss'] / MEGABYTE:.1f} MB",
            ]
        )
    _harness.print_table(
        [
            "variant",
            "peak",
            "peak ratio to hand",
            "after 10 steps",
            f"after {steps} steps",
            "growth",
            "max RSS of process",
        ],
        rows,
    )

    print("\nTargets:")
    summary = []
    for name in ("minigrad", "minigrad, input_grad=False"):
        ratio = results[name]["peak"] / reference_peak
        growth = results[name]["after_all"] - results[name]["after_10"]
        limit = 0.001 * results[name]["after_10"]
        result = _harness.verdict(ratio, 1.1, at_most=True)
        summary.append([f"{name} peak / hand peak", "<= 1.1", f"{ratio:.2f}", result])
        summary.append(
            [
                f"{name} growth from step 10 to {steps}",
                f"< {limit:.0f} bytes",
                f"{growth:+d} bytes",
                _harness.verdict(growth, limit, at_most=True),
            ]
        )
    _harness.print_table(["comparison", "target", "measured", "result"], summary)


if __name__ == "__main__":
    main()

"""Time training steps of a 784-256-10 MLP in minigrad, hand-written numpy and PyTorch.

Configurations: float32 and float64; batch sizes 32, 128 and 1024; sigmoid with the mean
squared error, and ReLU with the softmax cross-entropy. benchmarks/_mlp.py defines the
variants. The targets apply to batch sizes 32 and 128: minigrad at most 1.0 times the
careful hand loop, and PyTorch with default threads at least 1.3 times slower than minigrad.

Run ``python benchmarks/mlp_training.py`` (``--quick`` for a short check, ``--batch-sizes``
and ``--dtypes`` to select configurations).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import _harness
import _mlp
import numpy as np

DTYPES: dict[str, type[np.floating[Any]]] = {"float32": np.float32, "float64": np.float64}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _harness.add_timing_options(parser)
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=[32, 128, 1024],
        help="batch sizes to run (default: 32 128 1024)",
    )
    parser.add_argument(
        "--dtypes", nargs="+", choices=list(DTYPES), default=list(DTYPES), help="dtypes to run"
    )
    parser.add_argument(
        "--models", nargs="+", choices=list(_mlp.MODELS), default=list(_mlp.MODELS)
    )
    arguments = parser.parse_args(argv)
    repeats, seconds = _harness.timing_settings(arguments)
    torch = _harness.load_torch(arguments)
    _harness.print_environment(torch)

    summary: list[list[str]] = []
    for model in arguments.models:
        for dtype_name in arguments.dtypes:
            for batch_size in arguments.batch_sizes:
                problem = _mlp.make_problem(model, batch_size, DTYPES[dtype_name])
                _mlp.check_agreement(problem, torch)
                variants = _mlp.build_variants(problem, torch)
                timings = _harness.measure(
                    {name: variant.run for name, variant in variants.items()},
                    repeats=repeats,
                    seconds=seconds,
                )
                title = f"{model}, {dtype_name}, batch {batch_size}"
                print(f"\n{title}: {repeats} interleaved repeats, medians")
                rows = []
                for name in variants:
                    time = _harness.median_time(timings, name)
                    rows.append(
                        [
                            name,
                            _harness.format_seconds(time),
                            f"{batch_size / time:,.0f}",
                            f"{_harness.median_ratio(timings, name, 'hand, careful'):.2f}",
                        ]
                    )
                _harness.print_table(
                    ["variant", "time per step", "samples per second", "ratio to hand, careful"],
                    rows,
                )
                summary.extend(_summary_rows(title, batch_size, timings, torch is not None))

    print("\nTargets at batch sizes 32 and 128 (medians of paired ratios):")
    _harness.print_table(["configuration", "comparison", "target", "measured", "result"], summary)


def _summary_rows(
    title: str, batch_size: int, timings: _harness.Timings, with_torch: bool
) -> list[list[str]]:
    rows = []
    for name in ("minigrad", "minigrad, input_grad=False"):
        ratio = _harness.median_ratio(timings, name, "hand, careful")
        result = _harness.verdict(ratio, 1.0, at_most=True) if batch_size <= 128 else ""
        rows.append([title, f"{name} / hand", "<= 1.0", f"{ratio:.2f}", result])
        if with_torch:
            speedup = _harness.median_ratio(timings, "torch, default threads", name)
            result = _harness.verdict(speedup, 1.3, at_most=False) if batch_size <= 128 else ""
            rows.append([title, f"torch / {name}", ">= 1.3", f"{speedup:.2f}", result])
    return rows


if __name__ == "__main__":
    main()

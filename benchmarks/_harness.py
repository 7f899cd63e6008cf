"""Shared timing and reporting for the benchmark scripts.

Every comparison runs in one process. Each variant is warmed up first. Then the variants
take turns, in an order rotated by one at every repeat, so noise from other processes
affects all of them alike. A repeat gives one time per variant and so one ratio for each
pair of variants. The scripts report medians of those paired ratios, which cancel noise
that slows a whole repeat, next to the median times.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import numpy as np

Runner = Callable[[int], None]
"""Runs a given number of iterations of one variant, such as training steps."""

Timings = dict[str, list[float]]
"""Seconds per iteration of each variant, one entry per repeat."""


def add_timing_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--quick``, ``--repeats``, ``--seconds`` and ``--no-torch`` to ``parser``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run with 5 repeats of about 0.01 s each, to check that the script works",
    )
    parser.add_argument(
        "--repeats", type=int, default=15, help="timed runs of each variant (default: 15)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.05,
        help="target duration of one timed run of one variant, in seconds (default: 0.05)",
    )
    parser.add_argument(
        "--no-torch", action="store_true", help="skip the PyTorch variants even if installed"
    )


def timing_settings(arguments: argparse.Namespace) -> tuple[int, float]:
    """Return ``(repeats, seconds per run)`` from the parsed options."""
    if arguments.quick:
        return 5, 0.01
    if arguments.repeats < 1 or not arguments.seconds > 0:
        raise SystemExit(
            f"--repeats must be >= 1 and --seconds > 0, got {arguments.repeats} and "
            f"{arguments.seconds}."
        )
    return int(arguments.repeats), float(arguments.seconds)


def load_torch(arguments: argparse.Namespace) -> ModuleType | None:
    """Import PyTorch, or print a note and return None when it is missing or disabled."""
    if arguments.no_torch:
        print("PyTorch variants skipped (--no-torch).")
        return None
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed, so its variants are skipped: pip install torch==2.13.0")
        return None
    return torch


def iterations_for(runner: Runner, seconds: float) -> int:
    """Return how many iterations of ``runner`` take about ``seconds``, at least one."""
    iterations = 1
    while True:
        start = time.perf_counter()
        runner(iterations)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4 or iterations >= 1_000_000:
            return max(1, round(iterations * seconds / max(elapsed, 1e-9)))
        iterations *= 4


def measure(variants: Mapping[str, Runner], *, repeats: int, seconds: float) -> Timings:
    """Time every variant ``repeats`` times, interleaved, and return seconds per iteration.

    Each variant first runs for about ``seconds`` to warm up and to size its timed runs.
    The garbage collector is paused during each timed run, as ``timeit`` does.
    """
    names = list(variants)
    iterations = {}
    for name in names:
        variants[name](1)
        iterations[name] = iterations_for(variants[name], seconds)
        variants[name](iterations[name])

    timings: Timings = {name: [] for name in names}
    for repeat in range(repeats):
        offset = repeat % len(names)
        for name in names[offset:] + names[:offset]:
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                variants[name](iterations[name])
                elapsed = time.perf_counter() - start
            finally:
                gc.enable()
            timings[name].append(elapsed / iterations[name])
    return timings


def median_time(timings: Timings, name: str) -> float:
    """Return the median seconds per iteration of variant ``name``."""
    return statistics.median(timings[name])


def median_ratio(timings: Timings, numerator: str, denominator: str) -> float:
    """Return the median over repeats of ``time(numerator) / time(denominator)``."""
    return statistics.median(
        a / b for a, b in zip(timings[numerator], timings[denominator], strict=True)
    )


def format_seconds(seconds: float) -> str:
    """Format a duration with a unit that keeps three or four significant digits."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table, so that results paste into docs/benchmarks.md unchanged."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def verdict(value: float, limit: float, *, at_most: bool) -> str:
    """Return "met" or "missed" for ``value`` against a target ``limit``."""
    met = value <= limit if at_most else value >= limit
    return "met" if met else "missed"


def print_environment(torch: ModuleType | None = None) -> None:
    """Print the date, machine, versions and BLAS thread configuration."""
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"date: {now}")
    print(f"machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, {platform.machine()}")
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average (1, 5, 15 min) at start: {load}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, minigrad {_version()}")
    if torch is not None:
        print(f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}")
    for variable in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS"):
        if variable in os.environ:
            print(f"environment: {variable}={os.environ[variable]}")
    if "OPENBLAS_CORETYPE" in os.environ:
        print(
            "NOTE: OPENBLAS_CORETYPE forces an OpenBLAS kernel, which can be slower than the "
            "one detected for this CPU. Unset it for this command to benchmark the default."
        )
    _print_thread_pools()


def _print_thread_pools() -> None:
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:
        print("BLAS: threadpoolctl is not installed, so the BLAS configuration is unknown.")
        print("      Install it with: pip install threadpoolctl")
        return
    for pool in threadpoolctl.threadpool_info():
        details: dict[str, Any] = dict(pool)
        description = ", ".join(
            f"{key}={details[key]}"
            for key in ("internal_api", "version", "architecture", "threading_layer")
            if details.get(key) is not None
        )
        library = os.path.basename(str(details.get("filepath", "")))
        print(f"{details['user_api']}: {description}, num_threads={details['num_threads']}")
        print(f"      {library}")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _version() -> str:
    try:
        return importlib.metadata.version("minigrad")
    except importlib.metadata.PackageNotFoundError:
        return "not installed (imported from the source tree)"


def add_repository_to_path() -> None:
    """Let the scripts import minigrad from the repository when it is not installed."""
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if repository not in sys.path:
        sys.path.append(repository)

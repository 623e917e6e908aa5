"""``dnnfusion bench``: the project's benchmarks (results go under ``bench/results``).

Benchmarks need the repository checkout (the ``bench`` package and its model zoo) and the
``zoo`` extra for the transformer models.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark (plan: fusion plans vs ONNX Runtime on the model zoo)",
        description="Run one of the project's benchmarks and write its table under "
        "bench/results/.",
    )
    p.add_argument("which", choices=["plan"], help="plan: blocks vs ORT nodes vs floor, "
                   "plan wall time, and the 10,000-node planner timing")
    p.add_argument("--models", nargs="*", help="zoo model names (default: all)")
    p.add_argument("--out", help="markdown file to write (default bench/results/<which>.md)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from compiler_core.errors import DnnFusionError

    try:
        from bench import plan_table
    except ImportError as err:  # pragma: no cover - only outside a checkout
        raise DnnFusionError(f"benchmarks need the repository checkout: {err}") from None
    argv = []
    if args.models:
        argv += ["--models", *args.models]
    if args.out:
        argv += ["--out", args.out]
    return plan_table.main(argv)

"""``dnnfusion bench``: the project's benchmarks (results go under ``bench/results``).

Benchmarks need the repository checkout (the ``bench`` package and its model zoo), the
``zoo`` extra for the transformer models and the ``bench`` extra (matplotlib) for charts.

- ``plan``: fusion plans vs ONNX Runtime's node counts (bench/plan_table.py)
- ``latency``: compiled models vs ONNX Runtime, median latency (bench/latency.py)
- ``node-tests``: the ONNX backend node tests through the compiler (bench/node_tests.py)
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="run a benchmark (plan, latency or node-tests; results under bench/results)",
        description="Run one of the project's benchmarks and write its table under "
        "bench/results/.",
    )
    p.add_argument("which", choices=["plan", "latency", "node-tests"],
                   help="plan: blocks vs ORT nodes vs floor, plan wall time, and the "
                   "10,000-node planner timing; latency: compiled models vs ONNX Runtime "
                   "(median of --runs, 2 threads each); node-tests: ONNX node tests compiled "
                   "and compared, per-operator pass/refused/wrong counts")
    p.add_argument("--models", nargs="*", help="zoo model names (default: all)")
    p.add_argument("--out", help="markdown file to write (default bench/results/<which>.md)")
    p.add_argument("--runs", type=int, default=20, help="latency: timed runs (default 20)")
    p.add_argument("--threads", type=int, default=2, help="latency: threads (default 2)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from compiler_core.errors import DnnFusionError

    try:
        from bench import latency, node_tests, plan_table
    except ImportError as err:  # pragma: no cover - only outside a checkout
        raise DnnFusionError(f"benchmarks need the repository checkout: {err}") from None
    argv = []
    if args.out:
        argv += ["--out", args.out]
    if args.which == "node-tests":
        if args.models:
            raise DnnFusionError("node-tests takes no --models")
        return node_tests.main(argv)
    if args.models:
        argv += ["--models", *args.models]
    if args.which == "latency":
        if args.runs < 1 or args.threads < 1:
            raise DnnFusionError("--runs and --threads must be at least 1")
        return latency.main([*argv, "--runs", str(args.runs), "--threads", str(args.threads)])
    return plan_table.main(argv)

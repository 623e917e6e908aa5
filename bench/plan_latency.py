"""Measured plan vs analytic-only plan: each zoo model compiled twice and timed alternately.

    python -m bench.plan_latency [--models NAMES...] [--runs 20] [--threads 2]

For every zoo model: one artifact planned with the analytic model only (``--analytic``) and
one planned with the profiling database's measurements for this machine's device class
(``ProfilingCostModel``; run ``dnnfusion profile --device host`` on the models first). When
both plans have the same blocks the generated code is the same and nothing is timed. Otherwise
both artifacts run in one process with the protocol of :mod:`bench.latency`: warm-up, then
turns that alternate (which goes first flips every round), each an untimed lead-in of at least
one run and ``LEAD_IN_S`` followed by the timed runs; medians reported. Writes
``bench/results/plan_latency.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.latency import (
    BLOCK,
    LEAD_IN_S,
    MAX_RUNS,
    MIN_BUDGET_S,
    RESULTS,
    TURN_S,
    _cpu,
    _load,
    _now,
    _write,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO_ROOT / ".cache" / "plan_latency"


@dataclass
class Row:
    name: str
    blocks_analytic: int | None = None
    blocks_measured: int | None = None
    decisions: int = 0
    sources: str = ""
    refused: int = 0
    analytic_ms: float | None = None
    measured_ms: float | None = None
    runs: int = 0
    max_diff: float | None = None  # largest |analytic - measured| output difference
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """analytic / measured (>1: the measured plan is faster)."""
        if self.analytic_ms and self.measured_ms:
            return self.analytic_ms / self.measured_ms
        return None


def _compile(entry, out: Path, cost):
    from compiler_core.compile import compile_planned
    from compiler_core.pipeline import plan_planned

    planned = plan_planned(entry.path(), entry.input_shapes, cost_model=cost)
    if hasattr(cost, "flush"):
        cost.flush()
    return planned.plan, compile_planned(planned, output_dir=out,
                                         options={"compare_with_onnxruntime": False,
                                                  "validate": False})


def _alternate(a, b, feeds, runs: int) -> tuple[list[float], list[float], int]:
    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn(None, feeds)
        return (time.perf_counter() - t0) * 1e3

    pair_ms = min(timed(a.run) + timed(b.run) for _ in range(3))
    runs = max(runs, min(MAX_RUNS, int(MIN_BUDGET_S * 1e3 / max(pair_ms, 1e-3))))
    ta: list[float] = []
    tb: list[float] = []
    turns = [(a.run, ta), (b.run, tb)]
    per_turn = max(BLOCK - 1, int(TURN_S * 2e3 / max(pair_ms, 1e-3)))
    for i in range(-(-runs // per_turn)):
        for fn, times in turns if i % 2 == 0 else turns[::-1]:
            t_lead = time.perf_counter()
            timed(fn)
            while time.perf_counter() - t_lead < LEAD_IN_S:
                timed(fn)
            times.extend(timed(fn) for _ in range(per_turn))
    return ta, tb, runs


def measure(name: str, runs: int, threads: int, sessions, key: str) -> Row:
    from bench.zoo import get
    from compiler_core.errors import DnnFusionError
    from compiler_core.planner.cost import AnalyticCostModel
    from compiler_core.runtime import InferenceSession
    from profiling.cost import ProfilingCostModel

    row = Row(name)
    entry = get(name)
    try:
        plan_a, art_a = _compile(entry, ARTIFACTS / f"{name}-analytic", AnalyticCostModel())
        cost = ProfilingCostModel(sessions, key, threads=threads)
        plan_m, art_m = _compile(entry, ARTIFACTS / f"{name}-measured", cost)
    except DnnFusionError as e:
        row.note = f"refused: {e}"
        return row
    row.blocks_analytic, row.blocks_measured = plan_a.fused_blocks, plan_m.fused_blocks
    d = plan_m.profile_decisions
    row.decisions = len(d)
    row.sources = "/".join(str(sum(x.source == s for x in d))
                           for s in ("measured", "nearest", "analytic"))
    row.refused = sum(not x.fused for x in d)
    if [b.nodes for b in plan_a.blocks] == [b.nodes for b in plan_m.blocks]:
        row.note = "same plan (same code): not timed"
        return row
    a = InferenceSession(art_a, threads=threads)
    m = InferenceSession(art_m, threads=threads)
    feeds = entry.random_inputs(seed=0)
    row.max_diff = max((float(np.max(np.abs(x.astype(np.float64) - y))) if x.size else 0.0)
                       for x, y in zip(a.run(None, feeds), m.run(None, feeds), strict=True))
    ta, tm, row.runs = _alternate(a, m, feeds, runs)
    row.analytic_ms, row.measured_ms = statistics.median(ta), statistics.median(tm)
    a.close()
    m.close()
    return row


def markdown(rows: list[Row], key: str, threads: int, before: str, after: str) -> str:
    lines = [
        "# Latency: measured plan vs analytic-only plan",
        "",
        f"Generated by `python -m bench.plan_latency` on {_now()}. Machine: {_cpu()}; device "
        f"class `{key}`; {threads} threads; load average (1/5/15 min) {before} before, "
        f"{after} after. Both artifacts of a model in one process, the `bench.latency` "
        f"protocol (alternating turns, each an untimed lead-in of at least one run and "
        f"{LEAD_IN_S:g} s, then at least {BLOCK - 1} timed runs; about {MIN_BUDGET_S:g} s of "
        "timing for small models); medians. max abs diff: the two artifacts' outputs on the same "
        "random inputs. ratio = analytic ms / measured ms (>1: the "
        "measured plan is faster). decisions: \"profile\" cells of the measured plan, by "
        "source measured/nearest/analytic; refused: how many of them the measurements kept "
        "apart.",
        "",
        "| model | blocks analytic | blocks measured | decisions (m/n/a) | refused | runs "
        "| analytic ms | measured ms | ratio | max abs diff | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def f(x, fmt):
            return format(x, fmt) if x is not None else ""

        lines.append(
            f"| {r.name} | {f(r.blocks_analytic, 'd')} | {f(r.blocks_measured, 'd')} | "
            f"{r.decisions} ({r.sources}) | {r.refused} | {r.runs or ''} | "
            f"{f(r.analytic_ms, '.3f')} | {f(r.measured_ms, '.3f')} | {f(r.ratio, '.3f')} | "
            f"{f(r.max_diff, '.2e')} | {r.note.replace('|', '/')[:120]} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from bench.zoo import ZOO
    from profiling.db import open_database
    from profiling.device import default_threads, host_device_class

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", help="zoo model names (default: all)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--out", default=str(RESULTS / "plan_latency.md"))
    args = ap.parse_args(argv)
    key = host_device_class().key
    db = open_database()
    before = _load()
    rows = []
    try:
        for name in args.models or list(ZOO):
            t0 = time.perf_counter()
            try:
                row = measure(name, args.runs, args.threads, db.sessions, key)
            except Exception as e:  # noqa: BLE001 - a zoo model that cannot be built here
                row = Row(name, note=f"not measured: {type(e).__name__}: {str(e)[:100]}")
            rows.append(row)
            print(f"{name:28s} analytic {row.analytic_ms or 0:9.3f} ms  measured "
                  f"{row.measured_ms or 0:9.3f} ms  ratio {row.ratio or 0:.3f}  {row.note[:60]}"
                  f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        db.close()
    _write(Path(args.out), markdown(rows, key, args.threads, before, _load()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What the profiling database adds to planning: BERT-base against PostgreSQL with 100,000
profile entries (the issue's "under 1 s" budget).

    python -m bench.profile_lookup [--model bert_base] [--entries 100000] [--rounds 3]
                                   [--url postgresql+psycopg://postgres@127.0.0.1:5432]

Creates a scratch database on the server (dropped at the end), migrates it, and fills it with
``--entries`` entries over 20 device classes: for the planned class, one entry per "profile"
candidate of the model (its real fusion signatures) plus entries of the same structures at
other shapes (what the nearest lookup scans); the rest are random signatures. Then it plans
the model alternately with the analytic model and with ``ProfilingCostModel`` (every decision
measured; then again for a class with only other shapes, where every decision goes to the
nearest lookup, and for a class with nothing, where every decision is analytic and a
profiling request is written), ``--rounds`` times each, and prints the median planning times
(import and rewriting excluded: the same ECG is planned each time). Writes
``bench/results/profile_lookup.md``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
THREADS = 2


def _candidates(ecg):
    """Every (first, second) the planner asks the cost model about, with the analytic model."""
    from compiler_core.planner.cost import AnalyticCostModel
    from compiler_core.planner.run import plan_ecg

    asked = []

    class Recording(AnalyticCostModel):
        def profitability(self, ecg, first, second):
            asked.append((tuple(sorted(first)), tuple(sorted(second))))
            return super().profitability(ecg, first, second)

    plan_ecg(ecg, cost_model=Recording())
    return list(dict.fromkeys(asked))


def _row(cid, sig_key, structure, shapes, rng, version):
    f = rng.uniform(5, 500)
    s = f * rng.uniform(0.7, 1.4)
    samples = 20
    return {
        "device_class_id": cid, "signature": sig_key, "structure_key": structure,
        "codegen_version": version, "threads": THREADS, "ops": "synthetic", "mapping": "-",
        "dtype": "float32", "shapes": shapes,
        "fused_us": [round(f, 3)] * samples, "separate_us": [round(s, 3)] * samples,
        "fused_median_us": f, "fused_p10_us": f, "fused_p90_us": f, "fused_count": samples,
        "separate_median_us": s, "separate_p10_us": s, "separate_p90_us": s,
        "separate_count": samples, "spread": 0.0,
    }


def _fill(db, ecg, cands, total: int, seed: int = 0) -> dict[str, int]:
    from sqlalchemy import insert, select, update

    from compiler_core.bench.signature import CODEGEN_VERSION, fusion_signature
    from dnfstore.profiling_models import ProfileEntry, ProfilingRequest
    from profiling import queries
    from profiling.cost import ProfilingCostModel

    rng = random.Random(seed)
    sigs = [fusion_signature(ecg, a, b, THREADS) for a, b in cands]
    n_sigs = len(sigs)
    with db.sessions() as s, s.begin():
        ids = {k: queries.ensure_device_class(s, key=k).id
               for k in ["bench-measured", "bench-nearest", "bench-empty",
                         *(f"bench-other-{i}" for i in range(17))]}
    rows = []
    for sig in sigs:  # exact hits for the measured class
        rows.append(_row(ids["bench-measured"], sig.key, sig.structure_key,
                         [list(x) for x in sig.shapes], rng, CODEGEN_VERSION))
    for sig in sigs:  # the same structures at other shapes (nearest candidates), both classes
        for k in range(8):
            f = (1.25, 1.5, 0.75, 0.6, 3.0, 0.25, 1.1, 0.9)[k]
            shapes = [[max(1, round(d * f)) for d in sh] for sh in sig.shapes]
            for cls in ("bench-measured", "bench-nearest"):
                rows.append(_row(ids[cls], uuid.uuid4().hex + uuid.uuid4().hex,
                                 sig.structure_key, shapes, rng, CODEGEN_VERSION))
    others = [v for k, v in ids.items() if k.startswith("bench-other")]
    structures = [uuid.uuid4().hex * 2 for _ in range(2000)]
    while len(rows) < total:
        rows.append(_row(rng.choice(others + [ids["bench-measured"]]), uuid.uuid4().hex * 2,
                         rng.choice(structures), [[rng.randint(1, 512), 768]], rng,
                         rng.choice((CODEGEN_VERSION, CODEGEN_VERSION - 1))))
    with db.engine.begin() as conn:
        for k in range(0, len(rows), 5000):
            conn.execute(insert(ProfileEntry), rows[k:k + 5000])
    # Measured numbers change decisions, which brings new candidates: store those too, until
    # planning the measured class asks for nothing the database lacks.
    for _ in range(10):
        cost = ProfilingCostModel(db.sessions, "bench-measured", threads=THREADS)
        _plan_time(ecg, cost)
        with db.sessions() as ses:
            missing = ses.scalars(select(ProfilingRequest).where(
                ProfilingRequest.device_class_id == ids["bench-measured"],
                ProfilingRequest.state == "pending")).all()
        if not missing:
            break
        extra = [_row(ids["bench-measured"], r.signature, r.structure_key, r.shapes, rng,
                      CODEGEN_VERSION) for r in missing]
        with db.engine.begin() as conn:
            conn.execute(insert(ProfileEntry), extra)
            conn.execute(update(ProfilingRequest).where(
                ProfilingRequest.device_class_id == ids["bench-measured"]).values(state="done"))
        rows += extra
        n_sigs += len(extra)
    return {"entries": len(rows), "signatures": n_sigs}


def _plan_time(ecg, cost) -> tuple[float, dict]:
    from compiler_core.planner.run import plan_ecg

    t0 = time.perf_counter()
    planner, _ = plan_ecg(ecg, cost_model=cost)
    flush = getattr(cost, "flush", None)
    if flush is not None:
        flush()
    return time.perf_counter() - t0, dict(getattr(cost, "counts", {}))


def main(argv=None) -> int:
    import psycopg

    from bench.zoo import ZOO
    from compiler_core.frontend import import_model
    from compiler_core.ir.ecg import build_ecg
    from compiler_core.passes import rewrite_model
    from compiler_core.planner.cost import AnalyticCostModel
    from profiling.cost import ProfilingCostModel
    from profiling.db import open_database

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="bert_base")
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432")
    ap.add_argument("--out", default=str(RESULTS / "profile_lookup.md"))
    args = ap.parse_args(argv)

    entry = ZOO[args.model]
    imported = import_model(entry.path(), entry.input_shapes)
    rewrite_model(imported.model)
    ecg = build_ecg(imported.model)
    cands = _candidates(ecg)
    name = f"dnnfusion_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        db = open_database(f"{args.url}/{name}", create=True)
        t0 = time.perf_counter()
        filled = _fill(db, ecg, cands, args.entries)
        fill_s = time.perf_counter() - t0
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        times: dict[str, list[float]] = {}
        counts: dict[str, dict] = {}
        cases = {
            "analytic model": lambda: AnalyticCostModel(),
            "database, every decision measured": lambda: ProfilingCostModel(
                db.sessions, "bench-measured", threads=THREADS),
            "database, nearest shapes only": lambda: ProfilingCostModel(
                db.sessions, "bench-nearest", threads=THREADS),
            "database, empty class (analytic + requests)": lambda: ProfilingCostModel(
                db.sessions, "bench-empty", threads=THREADS),
        }
        for _ in range(args.rounds):
            for label, make in cases.items():
                t, c = _plan_time(ecg, make())
                times.setdefault(label, []).append(t)
                counts[label] = c
        db.close()
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    base = statistics.median(times["analytic model"])
    lines = [
        f"# Planning {args.model} against the profiling database (PostgreSQL)",
        "",
        f"Generated by `python -m bench.profile_lookup` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {filled['entries']} entries "
        f"over 20 device classes ({filled['signatures']} distinct \"profile\" candidates of the "
        f"model, each also stored at 8 other shapes; filled in {fill_s:.1f} s), PostgreSQL on "
        f"127.0.0.1. Planning only (the same rewritten ECG), median of {args.rounds} rounds, "
        "cases alternating.",
        "",
        "| cost model | plan s (median) | added vs analytic s | decisions measured / nearest "
        "/ analytic |",
        "|---|---|---|---|",
    ]
    for label, ts in times.items():
        med = statistics.median(ts)
        c = counts.get(label) or {}
        src = f"{c.get('measured', '-')} / {c.get('nearest', '-')} / {c.get('analytic', '-')}"
        lines.append(f"| {label} | {med:.3f} | {med - base:+.3f} | {src if c else '-'} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``dnnfusion profile``: measure a model's "profile" fusion candidates on this machine, or
list what the profiling database holds."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from dnnfusion.commands.common import StageProgress, input_shapes_arg


class _ModelAction(argparse.Action):
    """``--model`` and ``--input-shape`` in command-line order (a shape belongs to the model
    before it)."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(("model", values))
        setattr(namespace, self.dest, items)


class _ShapeAction(_ModelAction):
    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(("shape", values))
        setattr(namespace, self.dest, items)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "profile",
        help="measure the fusion candidates the planner must profile (profiling database)",
        description="Plan each model and, for every \"profile\" cell of Table 3 (a fusion "
        "whose profit depends on the device), build and time a micro-benchmark of the fused "
        "and the separate kernels on this machine; results go to the profiling database "
        "($DATABASE_URL, else the embedded SQLite file `dnnfusion serve` uses). Candidates "
        "already measured for this device class and code-generator version are skipped. "
        "`--list` prints what the database holds per device class.",
    )
    p.add_argument("--device", choices=["host"], default="host",
                   help="where to measure (phones are measured by the device agent)")
    p.add_argument("--model", action=_ModelAction, dest="items", metavar="MODEL.onnx",
                   help="a model to profile (repeatable)")
    p.add_argument("--input-shape", action=_ShapeAction, dest="items", metavar="NAME=DIMS",
                   help="pin an input's shape of the --model before it (before any --model: "
                   "of every model), e.g. x=1x3x640x640 (repeatable)")
    p.add_argument("--plan", action="append", default=[], metavar="PLAN.json",
                   help="profile the model of a `dnnfusion plan --json` file with its options "
                   "(repeatable)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="OpenMP threads of the measurements (default: one per usable CPU, as "
                   "artifacts run)")
    p.add_argument("--min-ms", type=float, default=100.0, metavar="MS",
                   help="minimum measuring time of each side of a benchmark (default 100)")
    p.add_argument("--json", metavar="OUT.json", help="write the per-model summary as JSON")
    p.add_argument("--list", action="store_true", help="print the database's contents per "
                   "device class and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run)


def _jobs(args) -> list[dict]:
    from compiler_core.errors import DnnFusionError, ModelLoadError

    jobs = []
    common: list[str] = []  # --input-shape before any --model: for every model
    for kind, value in args.items or []:
        if kind == "model":
            if not Path(value).is_file():
                raise ModelLoadError(f"{value}: no such file")
            jobs.append({"model": value, "shapes": [], "options": {}})
        elif jobs:
            jobs[-1]["shapes"].append(value)
        else:
            common.append(value)
    for job in jobs:
        given = input_shapes_arg(job.pop("shapes"))
        job["input_shapes"] = {**input_shapes_arg(common), **given}
    for p in args.plan:
        try:
            doc = json.loads(Path(p).read_text())
            opts = doc["options"]
            model = doc["model"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise DnnFusionError(f"--plan {p}: not a readable PLAN.json ({e})") from None
        if not Path(model).is_file():
            raise ModelLoadError(f"--plan {p}: its model {model} does not exist")
        jobs.append({"model": model, "input_shapes": opts.get("input_shapes") or {},
                     "options": opts})
    if not jobs:
        raise DnnFusionError("nothing to profile: give --model MODEL.onnx or --plan PLAN.json")
    return jobs


def _list(db) -> int:
    from profiling import queries

    with db.sessions() as session:
        rows = queries.summary(session)
    print(f"database: {db.url}")
    if not rows:
        print("no device classes yet")
    for r in rows:
        print(f"{r.key}\n  cpu {r.cpu_model or '?'}; {r.entries} entries, {r.signatures} "
              f"signatures, code-generator versions {r.versions or '-'}, {r.pending_requests} "
              f"open requests, last measured {r.last_measured or 'never'}")
    return 0


def run(args: argparse.Namespace) -> int:
    from compiler_core.errors import DnnFusionError
    from profiling.db import open_database

    if args.list:
        db = open_database()
        try:
            return _list(db)
        finally:
            db.close()
    if args.threads is not None and args.threads < 1:
        raise DnnFusionError("--threads must be at least 1")
    if not args.min_ms > 0:
        raise DnnFusionError("--min-ms must be positive")
    jobs = _jobs(args)
    db = open_database(create=True)
    rows, failed = [], []
    try:
        for k, job in enumerate(jobs):
            try:
                rows.append(_profile_one(db, job, k, len(jobs), args))
            except DnnFusionError as e:  # the other models still run; entries are kept
                failed.append(f"error: {Path(job['model']).name}: {e}")
    finally:
        db.close()
    _table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    for line in failed:
        print(line, file=sys.stderr)
    return 2 if failed else 0


def _profile_one(db, job: dict, k: int, n: int, args) -> dict:
    from compiler_core.pipeline import plan_planned
    from compiler_core.planner.constraints import Constraints
    from profiling.device import default_threads, host_device_class
    from profiling.measure import MeasuringCostModel

    info = host_device_class()
    quiet = args.quiet

    def report(line: str) -> None:
        if not quiet:
            print(f"[profile] {line}", file=sys.stderr, flush=True)

    threads = args.threads or default_threads()
    cost = MeasuringCostModel(db.sessions, info, threads=threads, min_ms=args.min_ms,
                              report=report)
    name = Path(job["model"]).name
    cost.label = f"{name} ({k + 1}/{n})"
    opts = job["options"]
    limits = opts.get("constraints") or {}
    progress = StageProgress(quiet)
    planned = plan_planned(
        job["model"], job["input_shapes"] or None,
        fast_math=bool(opts.get("fast_math", False)), rewrite=bool(opts.get("rewrite", True)),
        cost_model=cost, constraints=Constraints(**limits) if limits else None,
        prefer_epilogue=bool(opts.get("prefer_epilogue", True)), progress=progress)
    progress.finish()
    cost.flush()
    return summarize(name, info.key, threads, planned.plan.profile_decisions, cost)


def summarize(name: str, key: str, threads: int, decisions, cost) -> dict:
    """Per model: "profile" decisions by source, distinct measured pairs, how many the
    measurement refused, and the largest slowdown a fusion would have caused (fused /
    separate median, as a ratio)."""
    measured = [d for d in decisions if d.source == "measured"]
    pairs = {(tuple(d.first), tuple(d.second)): d for d in measured}
    refused = [d for d in pairs.values() if not d.fused]
    worst = max((d.fused_us / d.separate_us for d in pairs.values() if d.separate_us > 0),
                default=None)
    return {
        "model": name,
        "device_class": key,
        "threads": threads,
        "profile_decisions": len(decisions),
        "by_source": {s: sum(d.source == s for d in decisions)
                      for s in ("measured", "nearest", "analytic")},
        "pairs_measured": len(pairs),
        "refused_by_measurement": len(refused),
        "largest_fusion_slowdown": None if worst is None else round(worst, 3),
        "benchmarks_run": cost.stats.measured,
        "already_measured": cost.stats.already,
        "unmeasurable": cost.stats.unmeasurable,
        "mismatches": cost.stats.mismatches,
    }


def _table(rows: list[dict]) -> None:
    head = ("model", "decisions", "measured", "nearest", "analytic", "pairs", "refused",
            "worst fused/separate", "new benchmarks")
    body = [(r["model"], r["profile_decisions"], r["by_source"]["measured"],
             r["by_source"]["nearest"], r["by_source"]["analytic"], r["pairs_measured"],
             r["refused_by_measurement"],
             "-" if r["largest_fusion_slowdown"] is None else f"{r['largest_fusion_slowdown']:.2f}x",
             r["benchmarks_run"]) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=False)]
    for row in (head, *body):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=False)))
    for r in rows:
        for what in ("unmeasurable", "mismatches"):
            for line in r[what]:
                print(f"{r['model']}: {what}: {line}")

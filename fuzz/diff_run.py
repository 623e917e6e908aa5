"""The differential campaign: ``count`` random graphs, ``per_model`` of them packed per model,
each model compiled once (host target) and run against ONNX Runtime in a child process."""

from __future__ import annotations

import hashlib
import json
import random
import tempfile
from collections import Counter
from pathlib import Path

from fuzz.case import REGRESSIONS
from fuzz.child import Runner
from fuzz.choose import RandomChooser
from fuzz.graphs import SubGraph, pack, random_subgraph
from fuzz.report import Tally, signature


def graph_for(seed: int, i: int) -> SubGraph:
    """Graph ``i`` of the run with ``seed``: reproducible one by one."""
    return random_subgraph(RandomChooser(random.Random(f"diff:{seed}:{i}")), f"g{i}_")


def save_graph(g: SubGraph, status: str, detail: str, seed: int,
               directory: Path = REGRESSIONS) -> Path:
    """Save a failing graph as ``diff-<digest>/model.onnx`` plus ``case.json``."""
    data = pack([g]).SerializeToString()
    out = directory / f"diff-{hashlib.sha256(data).hexdigest()[:16]}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(data)
    meta = {"target": "diff", "status": status, "detail": detail[-3000:], "feed_seed": seed,
            "ranges": g.ranges, "graph": g.describe()}
    (out / "case.json").write_text(json.dumps(meta, indent=1) + "\n")
    return out


def _run_isolated(runner: Runner, graphs: list[SubGraph], feed_seed: int) -> tuple[dict, bool]:
    """Results per graph; when the child process dies or hangs on a batch, the batch is halved
    until the graphs that kill it are found (each counted as crashed)."""
    out = runner({"graphs": graphs, "seed": feed_seed})
    if out.get("ok"):
        return out["results"], bool(out["fallback"])
    if len(graphs) == 1:
        return {graphs[0].prefix: {"status": "crashed", "detail": out["detail"]}}, True
    mid = len(graphs) // 2
    left, _ = _run_isolated(runner, graphs[:mid], feed_seed)
    right, _ = _run_isolated(runner, graphs[mid:], feed_seed)
    return {**left, **right}, True


def run_diff(
    count: int,
    seed: int,
    *,
    per_model: int = 15,
    timeout: float = 600.0,
    save_dir: Path | None = REGRESSIONS,
    every: int = 1,
) -> dict:
    tally = Tally("diff", -(-count // per_model), every)
    counts: Counter[str] = Counter()
    ops: dict[str, Counter[str]] = {}
    failures: list[dict] = []
    refusals: Counter[str] = Counter()
    log = Path(tempfile.gettempdir()) / f"fuzz-diff-{seed}.log"
    models = fallbacks = 0
    with Runner("diff", timeout, str(log)) as runner:
        for start in range(0, count, per_model):
            graphs = [graph_for(seed, i) for i in range(start, min(count, start + per_model))]
            feed_seed = seed * 100003 + start
            models += 1
            results, fell_back = _run_isolated(runner, graphs, feed_seed)
            fallbacks += fell_back
            for g in graphs:
                r = results[g.prefix]
                counts[r["status"]] += 1
                for op in set(g.ops):
                    ops.setdefault(op, Counter())[r["status"]] += 1
                if r["status"] == "refused":
                    refusals[signature({"code": "refused", "detail": r["detail"]})[:160]] += 1
                if r["status"] in ("mismatched", "crashed"):
                    sig = signature({"code": r["status"], "detail": r["detail"]})
                    save = tally.failure({"code": r["status"], "detail": r["detail"]})
                    saved = str(save_graph(g, r["status"], r["detail"], feed_seed, save_dir)) \
                        if save and save_dir is not None else None
                    failures.append({"graph": g.describe(), "status": r["status"],
                                     "signature": sig, "detail": r["detail"][-800:],
                                     "saved": saved})
            tally.counts.clear()
            tally.counts.update(counts)
            tally.step()
    return {
        "kind": "diff",
        "count": count,
        "seed": seed,
        "per_model": per_model,
        "models": models,
        "models_with_fallback": fallbacks,
        "seconds": round(tally.elapsed(), 1),
        "counts": dict(counts),
        "failure_signatures": dict(tally.signatures),
        "refusal_reasons": dict(refusals.most_common(40)),
        "per_op": {op: dict(c) for op, c in sorted(ops.items())},
        "failures": failures[:200],
    }

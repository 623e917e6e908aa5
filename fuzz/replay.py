"""Re-run saved failing inputs (``fuzz/corpus/regressions/``) and say whether they still fail.

``plan-*``/``upload-*``: the saved case through its target (in a child process, time bound).
``diff-*``: the saved one-graph model compiled and compared with ONNX Runtime again, on the
same feeds (same value ranges and seed).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import onnx

from fuzz.case import REGRESSIONS, load_case, regression_dirs
from fuzz.child import Runner
from fuzz.graphs import SubGraph, Tensor


def subgraph_from(directory: Path) -> tuple[SubGraph, int]:
    """The saved graph of a ``diff-*`` directory and its feed seed."""
    meta = json.loads((directory / "case.json").read_text())
    model = onnx.load(str(directory / "model.onnx"))
    g = SubGraph(prefix="replay", nodes=list(model.graph.node),
                 inits=list(model.graph.initializer), ranges=dict(meta["ranges"]))

    def tensor(vi) -> Tensor:
        tt = vi.type.tensor_type
        return Tensor(vi.name, tt.elem_type, tuple(d.dim_value for d in tt.shape.dim))

    g.inputs = [tensor(vi) for vi in model.graph.input]
    g.outputs = [tensor(vi) for vi in model.graph.output]
    g.ops = [n.op_type for n in model.graph.node]
    return g, int(meta["feed_seed"])


def replay(directory: Path, runners: dict[str, Runner]) -> dict:
    """The outcome now: ``{"ok": bool, ...}``."""
    if directory.name.startswith("diff-"):
        g, seed = subgraph_from(directory)
        out = runners["diff"]({"graphs": [g], "seed": seed})
        if not out.get("ok"):
            return out
        r = out["results"][g.prefix]
        return {"ok": r["status"] in ("equal", "refused"), **r}
    target, case = load_case(directory)
    return runners[target](case)


def replay_all(dirs: list[Path] | None = None) -> list[tuple[Path, dict]]:
    """Replay every saved case; prints one line each; returns the ones still failing."""
    dirs = regression_dirs(REGRESSIONS) if dirs is None else dirs
    runners = {"plan": Runner("plan", 60), "upload": Runner("upload", 60),
               "diff": Runner("diff", 600)}
    bad = []
    try:
        for d in dirs:
            out = replay(d, runners)
            status = out.get("status", out.get("code"))
            print(f"{'ok  ' if out['ok'] else 'FAIL'} {d.name}: {status}", file=sys.stderr)
            if not out["ok"]:
                bad.append((d, out))
    finally:
        for r in runners.values():
            r.close()
    return bad

"""Inside the child process: compile a batch of random sub-graphs packed into one model, run it
and ONNX Runtime on the same inputs, and classify every sub-graph.

Classes: ``refused`` (a :class:`~compiler_core.errors.DnnFusionError` at compile time, or ONNX
Runtime refusing the graph), ``equal``, ``mismatched`` (float32: rtol 1e-3, atol 1e-4, NaN where
the reference has NaN; integers and booleans exact; shapes and dtypes exact), ``crashed`` (any
other exception). When the packed model is refused or crashes, each sub-graph is compiled alone
to classify it (by halving the batch). A process crash is seen by the parent (:mod:`fuzz.child`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import traceback
from pathlib import Path

import numpy as np

from fuzz.graphs import SubGraph, feeds, pack

RTOL, ATOL = 1e-3, 1e-4


class _Refused(Exception):
    pass


def compare(got: np.ndarray, want: np.ndarray) -> str | None:
    """``None`` when equal within tolerance, else what differs."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"shape/dtype {got.shape} {got.dtype} vs ONNX Runtime {want.shape} {want.dtype}"
    if want.dtype.kind == "f":
        ok = np.isclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True)
        if ok.all():
            return None
        i = np.unravel_index(int(np.argmin(ok)), ok.shape) if ok.shape else ()
        return f"max abs error {np.nanmax(np.abs(got - want)):.3g}; at {i}: {got[i]} vs {want[i]}"
    if np.array_equal(got, want):
        return None
    i = np.unravel_index(int(np.argmax(got != want)), got.shape) if got.shape else ()
    return f"at {i}: {got[i]} vs {want[i]}"


def _attempt(graphs: list[SubGraph], seed: int, workdir: Path) -> dict[str, dict]:
    """Compile and run ``graphs`` as one model; raises :class:`_Refused` or the crash."""
    from compiler_core.compile import compile_model
    from compiler_core.errors import DnnFusionError
    from compiler_core.runtime import InferenceSession
    from compiler_core.runtime.validate import ort_session

    model = pack(graphs)
    inputs = feeds(graphs, seed)
    names = [t.name for g in graphs for t in g.outputs]
    try:
        reference = ort_session(model, optimize=False, threads=1).run(names, inputs)
    except Exception as err:  # noqa: BLE001 - ORT refusing a graph is a refusal
        raise _Refused(f"onnxruntime: {' '.join(str(err).split())[:300]}") from None
    # A fresh directory per artifact (before b9cc787 the runtime got the library already
    # loaded from a reused path back from dlopen; kept so older trees fuzz correctly).
    out = Path(tempfile.mkdtemp(dir=workdir)) / "artifact"
    try:
        # validate=False: the artifact is loaded and run right below (the same check).
        compile_model(model, output_dir=out, options={"validate": False})
    except DnnFusionError as err:
        raise _Refused(f"{type(err).__name__}: {str(err)[:300]}") from None
    try:
        ours = InferenceSession(out, threads=1).run(names, inputs)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    by_name = dict(zip(names, zip(ours, reference, strict=True), strict=True))
    results = {}
    for g in graphs:
        problems = [f"{t.name}: {p}" for t in g.outputs
                    if (p := compare(*by_name[t.name])) is not None]
        results[g.prefix] = ({"status": "mismatched", "detail": "; ".join(problems)[:1000]}
                             if problems else {"status": "equal", "detail": ""})
    return results


def _one(graphs: list[SubGraph], seed: int, workdir: Path) -> dict[str, dict]:
    try:
        return _attempt(graphs, seed, workdir)
    except _Refused as err:
        return {g.prefix: {"status": "refused", "detail": str(err)} for g in graphs}
    except Exception:  # noqa: BLE001 - the finding itself
        return {g.prefix: {"status": "crashed", "detail": traceback.format_exc()[-3000:]}
                for g in graphs}


def _classify(graphs: list[SubGraph], seed: int, workdir: Path) -> tuple[dict[str, dict], int]:
    """Results of every graph; a refused or crashed batch is split in halves until each
    refusal or crash is pinned to single graphs. Returns (results, compiles attempted)."""
    results = _one(graphs, seed, workdir)
    if len(graphs) == 1 or all(r["status"] in ("equal", "mismatched") for r in results.values()):
        return results, 1
    mid = len(graphs) // 2
    left, n_left = _classify(graphs[:mid], seed, workdir)
    right, n_right = _classify(graphs[mid:], seed, workdir)
    return {**left, **right}, 1 + n_left + n_right


def run_batch(item: dict) -> dict:
    """``item``: ``{"graphs": [SubGraph], "seed": int}``. Returns ``{"ok": True, "results":
    {prefix: {"status", "detail"}}, "fallback": bool}``."""
    os.environ.setdefault("DNNFUSION_CACHE_DIR", str(Path(tempfile.gettempdir()) / "fuzz-cache"))
    with tempfile.TemporaryDirectory(prefix="fuzz-diff-") as tmp:
        results, attempts = _classify(item["graphs"], item["seed"], Path(tmp))
    return {"ok": True, "results": results, "fallback": attempts > 1}

"""Where a transformer's time goes, by kind of block: dnnfusion's fused blocks vs ONNX Runtime's
nodes (issue #13).

    python -m bench.transformer_blocks MODEL [MODEL...] [--threads 1 2] [--runs 20]
                                       [--artifacts DIR] [--markdown OUT.md]

Each model (a zoo name) is compiled (into ``--artifacts``/NAME, reused when present) and run
with per-block timers (:meth:`InferenceSession.run_profiled`); ONNX Runtime (ORT_ENABLE_ALL, the
same intra-op thread count) runs the same inputs with its own profiler. Both are sorted into the
same kinds, walking the kernels (ours) or nodes (ORT's profile) in execution order
(:class:`Walker`):

- ORT's GEMMs by their shapes (the profile lists no weights, so K is A's last axis and N the
  output's): N = 3H ``qkv`` (GPT-2), N = 4H ``ffn1``, K = 4H ``ffn2``; of the K = N = H ones
  in a layer the first three are ``qkv``, the fourth ``out_proj``; one row: ``pooler``;
- ours by place: a horizontal block is ``qkv``; the GEMM blocks after an attention kernel are
  ``out_proj``, ``ffn1``, ``ffn2``; other GEMM blocks ``qkv``, after the last attention
  ``pooler``;
- batched MatMuls of 4-D operands, Softmax, our attention kernels: ``attention``;
- LayerNormalization (ORT's SkipLayerNormalization holds the residual add): ``layernorm``;
- the attention-mask preparation (Cast, GatherND, And, Where... on mask-sized tensors): ``mask``;
- every other node or block (bias adds, GELU, residual adds, reshapes, transposes) joins the
  kind of the last GEMM or attention before it, or ``embed`` before the first one. So a
  kind's time includes the epilogues: ours run FFN1's bias + GELU as FFN2's prologue, ORT as
  nodes after FFN1 (ORT's ``ffn1`` holds the GELU, ours ``ffn2``).

Each kind gets two numbers per side: the median over runs of the kind's total, and the sum of
each kernel's minimum over the runs (what a quiet machine gets near; on a loaded one the
medians mostly measure the load). ORT's profile times its kernels only (no executor
overhead), ours each kernel call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

KINDS = ["embed", "mask", "qkv", "attention", "out_proj", "ffn1", "ffn2", "layernorm",
         "pooler"]
GELU_OPS = {"Gelu", "Erf", "Tanh", "Pow", "FastGelu", "BiasGelu", "QuickGelu"}
LN_OPS = {"LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization",
          "SkipSimplifiedLayerNormalization"}
ATT_OPS = {"Attention", "MultiHeadAttention", "Softmax"}
GEMM_OPS = {"MatMul", "Gemm", "FusedMatMul", "FusedGemm"}
MASK_OPS = {"Cast", "GatherND", "And", "Or", "Not", "Equal", "Less", "Greater", "Expand",
            "Range", "Where", "Reshape", "Unsqueeze", "Split"}


class Walker:
    """The kind state machine both sides share, fed in execution order.

    GEMMs with a 2-D weight: N = 3H is ``qkv``; N = 4H ``ffn1``; K = 4H ``ffn2``; of the
    K = N = H ones since the last ``ffn2``, the first three are ``qkv`` and the fourth is
    ``out_proj`` (it reads all three through the attention). A GEMM of one row: ``pooler``.
    Ours give no K and N: a horizontal block is ``qkv``, and the GEMM blocks after an
    attention kernel are ``out_proj``, ``ffn1``, ``ffn2`` in turn."""

    def __init__(self, hidden: int):
        self.h = hidden
        self.phase = "embed"
        self.square = 0  # K = N = H GEMMs since the last ffn2
        self.after_attention: int | None = None  # ours: GEMM blocks since the attention

    def gemm(self, k: int | None, n: int | None, m: int | None = None) -> str:
        h = self.h
        if m == 1:
            kind = "pooler"
        elif k is None:  # ours, by position
            pos = self.after_attention
            kind = ["out_proj", "ffn1", "ffn2"][pos] if pos is not None and pos < 3 else "qkv"
            self.after_attention = None if pos is None else pos + 1
        elif n == 3 * h:
            kind, self.square = "qkv", 3
        elif n == 4 * h:
            kind = "ffn1"
        elif k == 4 * h:
            kind, self.square = "ffn2", 0
        else:
            self.square += 1
            kind = "qkv" if self.square <= 3 else "out_proj"
        self.phase = kind
        return kind

    def horizontal(self) -> str:
        self.phase, self.after_attention = "qkv", None
        return "qkv"

    def attention(self) -> str:
        self.phase, self.after_attention = "attention", 0
        return "attention"

    def other(self) -> str:
        return self.phase


def hidden_size(model_path: str) -> int:
    """H: the most common dimension of the 2-D initializers (the GEMM weights)."""
    import onnx

    m = onnx.load(model_path, load_external_data=False)
    dims: dict[int, int] = {}
    for t in m.graph.initializer:
        if len(t.dims) == 2:
            for d in t.dims:
                dims[int(d)] = dims.get(int(d), 0) + 1
    return max(dims, key=lambda d: (dims[d], d))


# -- ours ---------------------------------------------------------------------------------------
def ours_kinds(artifact: str, hidden: int) -> list[str]:
    """The kind of each kernel of an artifact, in manifest (execution) order."""
    report = json.loads((Path(artifact) / "report.json").read_text())
    w = Walker(hidden)
    out = []
    for b in report["blocks"]:
        ops = set(b["ops"])
        if b.get("kind") == "attention" or "Softmax" in ops:
            out.append(w.attention())
        elif b.get("kind") == "horizontal":
            out.append(w.horizontal())
        elif ops & LN_OPS:
            out.append("layernorm")
        elif ops & GEMM_OPS:
            out.append(w.gemm(None, None))
        elif ops <= MASK_OPS and ops & {"Cast", "Where", "And", "GatherND"}:
            out.append("mask")
        else:
            out.append(w.other())
    # a GEMM taken for a projection that no attention follows: the pooler (BERT)
    for i in range(len(out) - 1, -1, -1):
        if out[i] == "attention":
            break
        if out[i] == "qkv":
            out[i] = "pooler"
    return out


def profile_ours(artifact: str, feeds: dict, threads: int, runs: int, kinds: list[str]):
    from compiler_core.runtime import InferenceSession

    sess = InferenceSession(artifact, threads=threads)
    for _ in range(3):
        sess.run(None, feeds)
    per_block: list[list[float]] = [[] for _ in kinds]
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        _, times = sess.run_profiled(None, feeds)
        walls.append((time.perf_counter() - t0) * 1e3)
        for i, t in enumerate(times):
            per_block[i].append(t / 1e3)
    plain = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        plain.append((time.perf_counter() - t0) * 1e3)
    return _by_kind(list(zip(kinds, per_block, strict=True)), runs), walls, plain


def _by_kind(items: list[tuple[str, list[float]]], runs: int) -> dict[str, tuple[float, float]]:
    """kind -> (median over runs of the kind's total, sum of each kernel's minimum): the
    second is what a quiet machine gets near, the first what this run saw."""
    totals = {k: [0.0] * runs for k in KINDS}
    mins = dict.fromkeys(KINDS, 0.0)
    for kind, ts in items:
        for r, t in enumerate(ts[:runs]):
            totals[kind][r] += t
        mins[kind] += min(ts)
    return {k: (statistics.median(totals[k]), mins[k]) for k in KINDS}


# -- ONNX Runtime -------------------------------------------------------------------------------
def _shapes(args: dict, key: str) -> list[tuple[str, list[int]]]:
    return [(t, [int(d) for d in dims]) for s in args.get(key) or [] for t, dims in s.items()]


def ort_kind(w: Walker, op: str, args: dict, seq: int) -> str:
    """The kind of one node of ORT's profile (weights are not listed among its inputs)."""
    ins, outs = _shapes(args, "input_type_shape"), _shapes(args, "output_type_shape")
    if op in LN_OPS:
        return "layernorm"
    if op in ATT_OPS:
        return w.attention()
    if op in GEMM_OPS:
        a = ins[0][1] if ins else []
        floats = [s for t, s in ins if t == "float"]
        if len(floats) >= 2 and len(floats[1]) >= 3 and len(a) >= 3 and len(floats[1]) == len(a):
            return w.attention()  # both operands batched: the scores or P.V
        y = outs[0][1] if outs else []
        if not a or not y:
            return w.other()
        return w.gemm(a[-1], y[-1], m=int(np.prod(y[:-1])))
    biggest = max((int(np.prod(s)) for t, s in ins if t == "float"), default=0)
    mask_phase = w.phase in ("embed", "mask", "qkv", "attention")
    if (op in MASK_OPS and biggest <= seq * seq and mask_phase
            and (op not in ("Reshape", "Unsqueeze", "Split") or biggest == 0)):
        return "mask"
    return w.other()


def profile_ort(model: str, feeds: dict, threads: int, runs: int, hidden: int, seq: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    plain = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    for _ in range(3):
        plain.run(None, feeds)
    plain_ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        plain.run(None, feeds)
        plain_ms.append((time.perf_counter() - t0) * 1e3)
    del plain
    with tempfile.TemporaryDirectory() as tmp:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        for _ in range(3):
            sess.run(None, feeds)
        walls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            walls.append((time.perf_counter() - t0) * 1e3)
        events = json.loads(Path(sess.end_profiling()).read_text())
    # one "model_run" event per run; its kernels' events fall inside [ts, ts + dur]
    run_spans = [(e["ts"], e["ts"] + e["dur"]) for e in events
                 if e.get("cat") == "Session" and e.get("name") == "model_run"][3:]
    nodes = sorted((e for e in events if e.get("cat") == "Node"
                    and e.get("name", "").endswith("_kernel_time")), key=lambda e: e["ts"])
    ops_per_kind: dict[str, set[str]] = {}
    per_node: dict[str, tuple[str, list[float]]] = {}
    for lo, hi in run_spans:
        w = Walker(hidden)
        for e in nodes:
            if lo <= e["ts"] <= hi:
                args = e.get("args", {})
                op = args.get("op_name", "")
                k = ort_kind(w, op, args, seq)
                per_node.setdefault(e["name"], (k, []))[1].append(e["dur"] / 1e3)
                ops_per_kind.setdefault(k, set()).add(op)
    return _by_kind(list(per_node.values()), len(run_spans)), walls, plain_ms, ops_per_kind


def ours_ops(artifact: str, kinds: list[str]) -> dict[str, set[str]]:
    report = json.loads((Path(artifact) / "report.json").read_text())
    out: dict[str, set[str]] = {}
    for b, k in zip(report["blocks"], kinds, strict=True):
        label = b.get("kind") if b.get("kind") != "fused" else None
        ops = [o for o in b["ops"] if o not in ("Reshape", "Transpose")] or b["ops"]
        out.setdefault(k, set()).add(label or "+".join(dict.fromkeys(ops)))
    return out


# -- driver -------------------------------------------------------------------------------------
def compile_artifact(name: str, model: str, out: Path) -> str:
    from compiler_core.compile import compile_model
    from compiler_core.pipeline import plan_planned

    if not (out / "report.json").exists():
        compile_model(plan_planned(model), output_dir=out)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.transformer_blocks",
                                description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--artifacts", default="/tmp/xfmr_artifacts")
    p.add_argument("--markdown")
    args = p.parse_args(argv)
    from bench.zoo import ZOO

    lines: list[str] = []
    for name in args.models:
        entry = ZOO[name]
        model = entry.static_path()
        feeds = entry.random_inputs(seed=0)
        h = hidden_size(model)
        seq = int(feeds["input_ids"].shape[-1])
        art = compile_artifact(name, model, Path(args.artifacts) / name)
        kinds = ours_kinds(art, h)
        mine = ours_ops(art, kinds)
        for t in args.threads:
            ours, ow, op_ = profile_ours(art, feeds, t, args.runs, kinds)
            theirs, tw, tp, ort_ops = profile_ort(model, feeds, t, args.runs, h, seq)
            med = statistics.median
            table = [f"\n### {name}, {t} thread{'s' if t > 1 else ''}\n",
                     f"Whole runs, median (min) of {args.runs}: ours {med(op_):.2f} "
                     f"({min(op_):.2f}) ms, ORT {med(tp):.2f} ({min(tp):.2f}) ms; profiled: "
                     f"ours {med(ow):.2f} ({min(ow):.2f}), ORT {med(tw):.2f} ({min(tw):.2f}).\n",
                     "| kind | ours ms (median) | ORT ms (median) | ours ms (min) | ORT ms (min) "
                     "| ours/ORT (min) | our kernels | ORT nodes |",
                     "|---|---|---|---|---|---|---|---|"]
            for k in KINDS:
                (om, on), (tm, tn) = ours[k], theirs[k]
                if om == 0 and tm == 0:
                    continue
                ratio = f"{on / tn:.2f}" if tn > 0 else "-"
                table.append(f"| {k} | {om:.2f} | {tm:.2f} | {on:.2f} | {tn:.2f} | {ratio} | "
                             f"{', '.join(sorted(mine.get(k, ())))} "
                             f"| {', '.join(sorted(ort_ops.get(k, ())))} |")
            so = [sum(v[i] for v in ours.values()) for i in (0, 1)]
            st = [sum(v[i] for v in theirs.values()) for i in (0, 1)]
            table.append(f"| **sum** | {so[0]:.2f} | {st[0]:.2f} | {so[1]:.2f} | {st[1]:.2f} | "
                         f"{so[1] / st[1]:.2f} | | |")
            print("\n".join(table), flush=True)
            lines += table
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fusion-plan benchmark: per zoo model, our plan against ONNX Runtime's optimized graph.

For each model: original compute nodes, nodes after rewriting, our fused blocks, ONNX Runtime's
node count after ORT_ENABLE_EXTENDED (same static shapes), the mapping-type floor, blocks/floor,
and the wall time of `dnnfusion plan` end to end (a fresh process). Then the planner alone on the
synthetic 10,000-node graph. Goals (issue 2): blocks < ORT's count and <= 1.1 x floor on every
model; `dnnfusion plan` of BERT-base < 10 s; planning 10,000 nodes < 10 s.

    python -m bench.plan_table [--models NAME ...] [--out bench/results/plan_table.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time

import onnx

from bench.ort_baseline import ort_optimized_node_count
from bench.synthetic import synthetic_graph
from bench.zoo import ZOO

MODELS = [
    "ppocr_v4_det",
    "ppocr_mobile_v2_cls",
    "light_resnet50",
    "light_densenet121",
    "light_inception_v1",
    "light_inception_v2",
    "light_shufflenet",
    "light_squeezenet",
    "bert_base",
    "distilbert",
    "tinybert",
]


def _shape_args(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    args = []
    for name, dims in shapes.items():
        args += ["--input-shape", f"{name}={'x'.join(str(d) for d in dims)}"]
    return args


def plan_row(name: str) -> dict:
    """Plan one zoo model through the command line (timed end to end) and read PLAN.json."""
    import json

    entry = ZOO[name]
    path = entry.path()
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "plan.json")
        cmd = [sys.executable, "-m", "dnnfusion", "plan", path, "-q", "--json", out]
        t0 = time.perf_counter()
        subprocess.run(cmd + _shape_args(entry.input_shapes), check=True, capture_output=True)
        wall_s = time.perf_counter() - t0
        with open(out) as fh:
            plan = json.load(fh)
    ort = ort_optimized_node_count(path, entry.input_shapes)
    ort_nodes = ort["nodes"] if isinstance(ort, dict) else ort
    return {
        "model": name,
        "original": plan["original_nodes"],
        "rewritten": plan["rewritten_nodes"],
        "blocks": plan["fused_blocks"],
        "ort": ort_nodes,
        "floor": plan["floor"],
        "ratio": plan["fused_blocks"] / max(1, plan["floor"]),
        "wall_s": wall_s,
        "rewrites": sum(plan["rewrites"].values()),
    }


def synthetic_plan_seconds(num_nodes: int = 10_000) -> dict:
    """Import the synthetic graph, then time ECG construction + Listing 1 alone on all its
    nodes (no rewriting, which would shrink the graph); rewriting is timed on its own."""
    from compiler_core.frontend import import_model
    from compiler_core.ir.ecg import build_ecg
    from compiler_core.passes import rewrite_model
    from compiler_core.planner.run import plan_ecg

    model: onnx.ModelProto = synthetic_graph(num_nodes)
    imported = import_model(model)
    t0 = time.perf_counter()
    ecg = build_ecg(imported.model)
    _, fields = plan_ecg(ecg)
    t1 = time.perf_counter()
    rewritten = import_model(model).model
    t2 = time.perf_counter()
    rewrite_model(rewritten)
    t3 = time.perf_counter()
    return {
        "nodes": len(ecg.nodes),
        "blocks": len(fields["blocks"]),
        "floor": ecg.floor(),
        "plan_s": t1 - t0,
        "rewrite_s": t3 - t2,
        "rewritten_nodes": len(list(rewritten.graph)),
    }


def render(rows: list[dict], synth: dict | None) -> str:
    lines = [
        f"# Fusion plan vs ONNX Runtime ({datetime.date.today().isoformat()})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()};"
        f" onnx {onnx.__version__}; onnxruntime {_ort_version()}.",
        "Command: `python -m bench.plan_table`.",
        "",
        "| model | original nodes | after rewriting | our blocks | ORT nodes (EXTENDED) | floor "
        "| blocks/floor | < ORT | <= 1.1 x floor | `dnnfusion plan` wall s |",
        "|---|---:|---:|---:|---:|---:|---:|:-:|:-:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['original']} | {r['rewritten']} | {r['blocks']} | {r['ort']} "
            f"| {r['floor']} | {r['ratio']:.3f} | {'yes' if r['blocks'] < r['ort'] else 'NO'} "
            f"| {'yes' if r['ratio'] <= 1.1 else 'NO'} | {r['wall_s']:.2f} |"
        )
    if synth:
        lines += [
            "",
            f"Synthetic graph (`bench.synthetic`): {synth['nodes']} nodes after import; ECG + "
            f"planning alone {synth['plan_s']:.2f} s -> {synth['blocks']} blocks (floor "
            f"{synth['floor']}). Rewriting it separately: {synth['rewrite_s']:.2f} s "
            f"({synth['rewritten_nodes']} nodes after).",
        ]
    return "\n".join(lines) + "\n"


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", default=MODELS)
    ap.add_argument(
        "--out", default=os.path.join(os.path.dirname(__file__), "results", "plan_table.md")
    )
    ap.add_argument("--no-synthetic", action="store_true")
    args = ap.parse_args(argv)
    rows = []
    for i, name in enumerate(args.models, 1):
        print(f"[{i}/{len(args.models)}] planning {name} ...", file=sys.stderr, flush=True)
        rows.append(plan_row(name))
    synth = None
    if not args.no_synthetic:
        print("planning the synthetic 10,000-node graph ...", file=sys.stderr, flush=True)
        synth = synthetic_plan_seconds()
    text = render(rows, synth)
    print(text)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

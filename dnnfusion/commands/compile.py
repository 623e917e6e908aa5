"""``dnnfusion compile``: ONNX model -> artifact directory (and optionally its .tar.gz)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dnnfusion.commands.common import (
    StageProgress,
    add_device_class_options,
    add_input_shape_option,
    choose_cost_model,
    input_shapes_arg,
    print_notes,
)


def register(sub: argparse._SubParsersAction) -> None:
    from compiler_core.target.targets import TARGETS

    p = sub.add_parser(
        "compile",
        help="compile an ONNX model into an artifact (C kernels per fused block)",
        description="Import, rewrite and plan an ONNX model, generate C for every fused "
        "block and build it: an artifact directory with manifest.json, model.c, the built "
        "library (host) or static runner (linux-arm64), weights.bin, plan.json and "
        "report.json. Run it with `dnnfusion run`.",
    )
    p.add_argument("model", help="path to the .onnx file")
    add_input_shape_option(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR",
                   help="artifact directory to write (replaced if it is an earlier artifact)")
    p.add_argument("--target", choices=list(TARGETS), default="host",
                   help="host: shared library run in-process (default); linux-arm64: static "
                   "aarch64 runner (cross-compiled; runs under qemu-aarch64 on x86-64)")
    p.add_argument("--fast-math", action="store_true", help="allow rewrites that are not exact "
                   "in float32 for every input")
    p.add_argument("--no-rewrite", action="store_true", help="skip algebraic rewriting")
    p.add_argument("--no-fusion", action="store_true",
                   help="every operator its own kernel (the ablation's baseline)")
    p.add_argument("--tar", action="store_true", help="also write OUT_DIR.tar.gz")
    p.add_argument("--no-compare", action="store_true", help="skip running the artifact "
                   "against ONNX Runtime on random inputs (max error, and both latencies where "
                   "the artifact runs natively, otherwise go into report.json and the summary)")
    add_device_class_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from compiler_core.compile import compile_planned, pack_artifact
    from compiler_core.errors import ModelLoadError
    from compiler_core.pipeline import plan_planned
    from compiler_core.planner.constraints import Constraints
    from compiler_core.planner.report import human_bytes

    if not Path(args.model).is_file():
        raise ModelLoadError(f"{args.model}: no such file")
    shapes = input_shapes_arg(args.input_shape)
    choice = choose_cost_model(args, args.target)
    progress = StageProgress(args.quiet)
    try:
        planned = plan_planned(args.model, shapes, fast_math=args.fast_math,
                               rewrite=not args.no_rewrite, cost_model=choice.cost_model,
                               constraints=Constraints(max_operators=1) if args.no_fusion
                               else None, progress=progress)
    finally:
        print_notes(choice.finish(), args)
    out = compile_planned(
        planned,
        output_dir=args.output,
        target=args.target,
        options={"fast_math": args.fast_math, "rewrite": not args.no_rewrite,
                 "fusion": not args.no_fusion,
                 "compare_with_onnxruntime": not args.no_compare},
        progress=progress,
        reference_model=None if args.no_compare else args.model,
    )
    archive = None
    if args.tar:
        progress("packing")
        archive = pack_artifact(out)
    seconds = progress.finish()
    report = json.loads((out / "report.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    rows = [
        ("artifact", f"{out} (target {manifest['target']})"),
        ("blas", manifest.get("blas", "")),
        ("blocks", f"{report['fused_blocks']} fused blocks from {report['original_nodes']} "
                   f"ONNX nodes ({report['rewritten_nodes']} after rewriting)"),
        ("arena", f"{human_bytes(report['arena_bytes'])} ({report['arena_bytes']} bytes; "
                  f"{human_bytes(report['arena_bytes_without_reuse'])} without reuse)"),
        ("weights", f"{human_bytes(report['weights_bytes'])} ({report['weights_bytes']} bytes)"),
        ("inputs", ", ".join(f"{t['name']} {t['dtype']}{list(t['shape'])}"
                             for t in manifest["inputs"])),
        ("outputs", ", ".join(f"{t['name']} {t['dtype']}{list(t['shape'])}"
                              for t in manifest["outputs"])),
        ("compile time", f"{seconds:.1f} s"),
    ]
    decisions = report.get("profile_decisions") or []
    if decisions:
        by = {s: sum(d["source"] == s for d in decisions) for s in ("measured", "nearest")}
        rows.insert(2, ("profile", f"{len(decisions)} decisions, {sum(d['fused'] for d in decisions)}"
                                   f" fused; measured {by['measured']}, nearest {by['nearest']},"
                                   f" device class {report.get('device_class') or 'none'}"))
    if "max_abs_error" in report:
        ok = "within" if report["within_tolerance"] else "OUTSIDE"
        text = f"max abs error {report['max_abs_error']:.3g} ({ok} rtol 1e-3, atol 1e-4)"
        if report["latency_ms"] is not None:
            text += (f"; median latency {report['latency_ms']:.3f} ms vs ONNX Runtime "
                     f"{report['ort_latency_ms']:.3f} ms")
        rows.insert(-1, ("vs ORT", text))
    if archive is not None:
        rows.insert(1, ("archive", f"{archive} ({human_bytes(archive.stat().st_size)})"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0

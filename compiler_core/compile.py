"""compile_model: ONNX → plan (compiler_core.pipeline) → C → shared library → artifact.

The artifact is a directory: manifest.json (schema, target, tensors, compiler, the BLAS linked,
checksums), model.c, weights.bin, plan.json, report.json and the build output: model.so for the
``host`` target, or for ``linux-arm64`` a static runner executable model.run (with its runner.c
and BLAS sources: a cblas.h, plus portable_gemm.c when no static OpenBLAS is linked; see
:mod:`compiler_core.target.targets`). It is written to
a temporary directory next to ``output_dir`` and renamed into place only once complete and
loadable. :func:`pack_artifact` turns it into a ``.tar.gz`` the runtime opens as well.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

from compiler_core.errors import DnnFusionError
from compiler_core.limits import check_artifact_memory, memory_limit
from compiler_core.options import resolve as resolve_options
from compiler_core.runtime.archive import pack_artifact
from compiler_core.target.targets import TARGETS

__all__ = ["TARGETS", "compile_model", "compile_planned", "pack_artifact"]

Progress = Callable[[str], None]


def compile_model(
    model,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    target: str = "host",
    *,
    output_dir: str | os.PathLike,
    options: Mapping | None = None,
    progress: Progress | None = None,
    cost_model=None,
) -> Path:
    """Compile ``model`` (a path, a ``ModelProto`` or an already planned
    :class:`~compiler_core.pipeline.PlannedModel`) into the artifact directory ``output_dir``.

    ``target``: ``host`` (a shared library loaded in-process) or ``linux-arm64`` (a static
    runner executable, run under qemu-aarch64 on an x86-64 host).
    ``progress`` is called with each stage: importing, rewriting, planning, generating,
    building, validating. ``cost_model`` decides the planner's "profile" cells (default: the
    analytic model; the profiling database's is ``profiling.cost.ProfilingCostModel``).
    Raises :class:`~compiler_core.errors.UnsupportedOperatorError` for an
    operator or attribute code generation cannot handle (never a wrong answer),
    :class:`~compiler_core.errors.ResourceLimitError` when ``memory_limit_bytes`` is exceeded
    (default 8 GiB, see :mod:`compiler_core.limits`),
    :class:`~compiler_core.errors.ArtifactCrashError` when the artifact crashes in validation
    (run in a child process, :mod:`compiler_core.runtime.sandbox`), and the other
    :mod:`compiler_core.errors` types on bad input. Returns the artifact path.
    """
    if target not in TARGETS:
        raise DnnFusionError(f"unknown target {target!r}; supported: {', '.join(TARGETS)}")
    opts = resolve_options(options)
    if hasattr(model, "ecg") and hasattr(model, "plan") and hasattr(model, "planner"):
        planned = model
    else:
        from compiler_core.pipeline import plan_planned
        from compiler_core.planner.constraints import Constraints

        planned = plan_planned(
            model,
            input_shapes,
            fast_math=bool(opts["fast_math"]),
            rewrite=bool(opts["rewrite"]),
            # one operator per kernel (fusion off) leaves no room for an attention block
            beyond_floor=bool(opts["beyond_floor"]) and bool(opts["fusion"]),
            cost_model=cost_model,
            constraints=None if opts["fusion"] else Constraints(max_operators=1),
            progress=progress,
            memory_limit_bytes=opts["memory_limit_bytes"],
        )
    reference = model if opts["compare_with_onnxruntime"] and planned is not model else None
    return compile_planned(planned, output_dir=output_dir, target=target, options=opts,
                           progress=progress, reference_model=reference)


def compile_planned(planned, *, output_dir, target: str = "host", options=None, progress=None,
                    reference_model=None):
    """The back half of :func:`compile_model` for a planned model (ecg, planner, plan).

    ``reference_model``: the original ONNX model (path or ``ModelProto``) to compare the
    artifact with when the ``compare_with_onnxruntime`` option is on.
    """
    from compiler_core.codegen.anchors.gemm_packed import used_on
    from compiler_core.codegen.build import build_target
    from compiler_core.codegen.generate import generate
    from compiler_core.codegen.weights import write_weights
    from compiler_core.runtime.manifest import (
        FORMAT,
        MANIFEST,
        MANIFEST_SCHEMA_VERSION,
        sha256_file,
    )
    from compiler_core.target.static_blas import choose_blas
    from compiler_core.target.targets import get_target

    opts = resolve_options(options)
    tgt = get_target(target)
    _stage(progress, "generating")
    gen = generate(planned.ecg, planned.planner.blocks, packed_gemm=used_on(tgt.machine))
    check_artifact_memory(gen.arena_bytes, gen.weights_bytes,
                          memory_limit(opts["memory_limit_bytes"]))
    out = Path(output_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        (tmp / "model.c").write_text(gen.source)
        write_weights(tmp / "weights.bin", gen.weights, gen.weight_offsets, gen.weights_bytes)
        _stage(progress, "building")
        blas = choose_blas(tgt.blas, tgt.multiarch)
        extra = _extra_sources(tgt, gen, blas)
        for name, text in extra.items():
            (tmp / name).write_text(text)
        info = build_target(tgt, gen.source, tmp / tgt.output, extra_sources=extra,
                            timeout=float(opts["build_timeout_s"]), blas=blas)
        plan = planned.plan
        (tmp / "plan.json").write_text(json.dumps(plan.to_dict(), indent=1, default=str))
        report = _report(plan, gen)
        (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str))
        files = ["model.c", tgt.output, "weights.bin", "plan.json", "report.json", *extra]
        manifest = {
            "format": FORMAT,
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "target": tgt.name,
            "model": {"source": str(plan.model)},
            ("library" if tgt.kind == "library" else "runner"): tgt.output,
            "weights": "weights.bin",
            "source": "model.c",
            "inputs": [asdict(t) for t in gen.inputs],
            "outputs": [asdict(t) for t in gen.outputs],
            "blocks": [
                {"id": k.block_id, "kernel": k.name, "ops": k.ops} for k in gen.kernels
            ],
            "arena_bytes": gen.arena_bytes,
            "weights_bytes": gen.weights_bytes,
            "compiler": {
                "cc": info.cc,
                "version": info.cc_version,
                "flags": info.flags,
                "cache_key": info.cache_key,
            },
            "blas": info.blas,
            "files": {f: sha256_file(tmp / f) for f in files},
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if opts["validate"] and (tgt.kind == "library" or tgt.launcher() is not None):
            # A runner target is checked where it can run (natively or under qemu).
            _stage(progress, "validating")
            _validate(tmp, tgt, reference_model, report, manifest, opts)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _validate(tmp: Path, tgt, reference_model, report: dict, manifest: dict, opts: dict) -> None:
    """Load the artifact, and compare it with ONNX Runtime when ``reference_model`` is given,
    in a child process under limits (compiler_core.runtime.sandbox): generated code never runs
    in this process. The comparison adds max error and both latencies (ms; None when not
    timed) to report.json, and its new hash to the manifest."""
    from compiler_core.runtime.manifest import MANIFEST, sha256_file
    from compiler_core.runtime.sandbox import (
        check_artifact,
        limits_for,
        validate_artifact_sandboxed,
    )

    limits = limits_for(tmp, compare=reference_model is not None)
    if reference_model is None:
        check_artifact(tmp, limits=limits)
        return
    # Latency only where the artifact runs natively, numerics everywhere.
    runs = 10 if tgt.kind == "library" or tgt.launcher() == [] else 0
    v = validate_artifact_sandboxed(tmp, reference_model, runs=runs, threads=2, limits=limits)
    report.update(
        max_abs_error=v.max_abs_error,
        max_rel_error=v.max_rel_error,
        within_tolerance=v.within_tolerance,
        latency_ms=None if v.latency_ms is None else round(v.latency_ms, 4),
        ort_latency_ms=None if v.ort_latency_ms is None else round(v.ort_latency_ms, 4),
        validation=v.to_dict(),
    )
    (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str))
    manifest["files"]["report.json"] = sha256_file(tmp / "report.json")
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))


def _extra_sources(tgt, gen, blas) -> dict[str, str]:
    """Sources besides model.c a target builds (and the artifact keeps, so it can be rebuilt
    on the device): the runner's main, and the BLAS sources (the portable GEMM, or the header
    that maps the kernels' names to a static OpenBLAS)."""
    if tgt.kind != "runner":
        return {}
    from compiler_core.codegen.build import blas_sources
    from compiler_core.codegen.runner import runner_source

    return {"runner.c": runner_source(gen.inputs, gen.outputs), **blas_sources(blas)}


def _stage(progress: Progress | None, name: str) -> None:
    if progress is not None:
        progress(name)


def _publish(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``, replacing an earlier artifact (never other content)."""
    from compiler_core.runtime.manifest import MANIFEST

    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file()):
            raise DnnFusionError(f"{out} exists and is not a dnnfusion artifact; not replacing")
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _report(plan, gen) -> dict:
    return {
        "model": Path(str(plan.model)).name,  # the file name only: no server paths
        "original_nodes": plan.original_nodes,
        "rewritten_nodes": plan.rewritten_nodes,
        "fused_blocks": plan.fused_blocks,
        "fusion_rate": round(plan.fusion_rate, 3),
        "rewrites": dict(plan.rewrites),
        "blocks": [
            {
                "id": k.block_id,
                "kernel": k.name,
                "ops": k.ops,
                "mapping_type": b.mapping_type,
                "nodes": b.nodes,
                "anchor": k.anchor.op_type if k.anchor is not None else None,
                "buffers": len(k.outputs) + len(k.scratch),
                "kind": b.kind,  # "fused", or "attention" | "horizontal" | "concat_in_place"
                "floor_blocks": b.floor_blocks,
            }
            for k, b in zip(gen.kernels, plan.blocks, strict=True)
        ],
        "unfused_edges": [asdict(e) for e in plan.unfused_edges],
        "profile_decisions": [asdict(d) for d in getattr(plan, "profile_decisions", [])],
        "device_class": getattr(plan, "device_class", None),  # whose numbers decided them
        "intermediate_bytes_before": plan.intermediate_bytes_before,
        "intermediate_bytes_after": plan.intermediate_bytes_after,
        "arena_bytes": gen.arena_bytes,
        "arena_bytes_without_reuse": gen.intermediate_bytes,
        "weights_bytes": gen.weights_bytes,
    }

"""ONNX Runtime as the baseline: its optimized graph's node count, and its latency.

    ort_optimized_node_count(path, input_shapes) -> int
        nodes in the graph ORT saves after ORT_ENABLE_EXTENDED optimizations (all nodes, Constant
        included; `ort_optimized_graph_stats` also gives the Constant count and op histogram),
        with the model's inputs pinned to the given static shapes first.
    ort_latency_ms(path, inputs, threads=2, level=ORT_ENABLE_ALL, runs=20, warmup=5) -> float
        median wall-clock milliseconds of session.run.

CLI:  python -m bench.ort_baseline [--latency] [--markdown OUT.md] [NAMES...]
prints, for every zoo model, the file's node count and ORT's EXTENDED node count.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import importlib.metadata
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort

from bench.modelutil import cap_ir_version, op_histogram, pin_input_shapes

GraphOptimizationLevel = ort.GraphOptimizationLevel


@dataclass(frozen=True)
class OptimizedGraphStats:
    nodes: int  # all nodes of the saved optimized graph
    constants: int  # of which Constant nodes
    ops: collections.Counter  # op histogram (contrib ops as "com.microsoft.Op")


def _session_options(level: GraphOptimizationLevel, threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # IR-3 light graphs warn about every initializer input
    return options


def _static_model_bytes(path: str, input_shapes: Mapping[str, Sequence[int]] | None) -> bytes:
    model = onnx.load(path)
    if input_shapes:
        model = pin_input_shapes(model, input_shapes)
    return cap_ir_version(model).SerializeToString()


def ort_optimized_graph_stats(
    path: str,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
) -> OptimizedGraphStats:
    """Optimize with ORT at `level` (static input dims pinned), save, and count the saved graph."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "optimized.onnx")
        options = _session_options(level, threads=1)
        options.optimized_model_filepath = out
        ort.InferenceSession(
            _static_model_bytes(path, input_shapes), options, providers=["CPUExecutionProvider"]
        )
        graph = onnx.load(out, load_external_data=False).graph
    ops = op_histogram(graph)
    return OptimizedGraphStats(nodes=len(graph.node), constants=ops.get("Constant", 0), ops=ops)


def ort_optimized_node_count(path: str, input_shapes: Mapping[str, Sequence[int]]) -> int:
    """Node count of ORT's ORT_ENABLE_EXTENDED graph with the inputs pinned to `input_shapes`."""
    return ort_optimized_graph_stats(path, input_shapes).nodes


def ort_latency_ms(
    path: str,
    inputs: Mapping[str, np.ndarray],
    threads: int = 2,
    level: GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    runs: int = 20,
    warmup: int = 5,
) -> float:
    """Median milliseconds of one run (the model's inputs pinned to the shapes of `inputs`)."""
    shapes = {k: v.shape for k, v in inputs.items()}
    session = ort.InferenceSession(
        _static_model_bytes(path, shapes),
        _session_options(level, threads),
        providers=["CPUExecutionProvider"],
    )
    feeds = dict(inputs)
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


# -- CLI --------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    kind: str
    file_nodes: int
    ort: OptimizedGraphStats
    latency_ms: float | None


def measure(names: Sequence[str], latency: bool, threads: int) -> list[Row]:
    from bench.zoo import ZOO, get

    rows = []
    for name in names or list(ZOO):
        entry = get(name)
        path = entry.path()
        file_nodes = len(onnx.load(path, load_external_data=False).graph.node)
        stats = ort_optimized_graph_stats(path, entry.input_shapes)
        lat = ort_latency_ms(path, entry.random_inputs(0), threads=threads) if latency else None
        rows.append(Row(name, entry.kind, file_nodes, stats, lat))
        print(f"  measured {name}", file=sys.stderr, flush=True)
    return rows


def _top_ops(ops: collections.Counter, n: int = 6) -> str:
    return ", ".join(f"{op} {c}" for op, c in ops.most_common(n))


def _versions() -> str:
    parts = [f"python {platform.python_version()}"]
    for dist in ("onnx", "onnxruntime", "numpy", "torch", "transformers"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            parts.append(f"{dist} {importlib.metadata.version(dist)}")
    return ", ".join(parts)


def _table(rows: Sequence[Row], threads: int) -> tuple[list[str], list[list[str]]]:
    has_latency = any(r.latency_ms is not None for r in rows)
    header = ["model", "kind", "file nodes", "ORT EXTENDED nodes", "of which Constant"]
    if has_latency:
        header.append(f"ORT ALL ms ({threads} thr)")
    header.append("top ops after ORT EXTENDED")
    body = []
    for r in rows:
        cells = [r.name, r.kind, str(r.file_nodes), str(r.ort.nodes), str(r.ort.constants)]
        if has_latency:
            cells.append(f"{r.latency_ms:.2f}" if r.latency_ms is not None else "")
        cells.append(_top_ops(r.ort.ops))
        body.append(cells)
    return header, body


def render_text(rows: Sequence[Row], threads: int) -> str:
    header, body = _table(rows, threads)
    widths = [max(len(c) for c in col) for col in zip(header, *body, strict=True)]
    widths[-1] = 0
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n"
        for cells in [header, *body]
    )


def render_markdown(rows: Sequence[Row], threads: int, runs: int = 20) -> str:
    from bench.zoo import ZOO

    header, body = _table(rows, threads)
    lines = [
        "# ONNX Runtime baseline: optimized node counts",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {platform.machine()} ({platform.platform()}), `nproc` = {os.cpu_count()},"
        f" load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} when the report was"
        " written (latencies are only as quiet as the machine)",
        f"- versions: {_versions()}",
        "- file nodes: nodes of the .onnx file as the zoo gives it.",
        "- ORT EXTENDED nodes: nodes of the graph saved through"
        " `SessionOptions.optimized_model_filepath` at `ORT_ENABLE_EXTENDED` (CPU provider),"
        " inputs pinned to the static shapes below; all nodes, Constant included.",
    ]
    if any(r.latency_ms is not None for r in rows):
        lines.append(
            f"- ORT ALL ms: median of {runs} runs (5 warm-up) at `ORT_ENABLE_ALL`,"
            f" {threads} intra-op threads, zoo `random_inputs(0)`."
        )
    lines += [
        "- reproduce: `python -m bench.zoo build && python -m bench.ort_baseline --latency"
        " --markdown bench/results/ort_baseline.md`",
        "",
        "| " + " | ".join(header) + " |",
        "|"
        + "|".join("---:" if h.endswith(("nodes", "Constant", "thr)")) else "---" for h in header)
        + "|",
    ]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    lines += ["", "Input shapes:", ""]
    for r in rows:
        shapes = ", ".join(
            f"`{k}` {'x'.join(map(str, v))}" for k, v in ZOO[r.name].input_shapes.items()
        )
        lines.append(f"- {r.name}: {shapes}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ort_baseline",
        description="ONNX Runtime node counts (ORT_ENABLE_EXTENDED) for the zoo models.",
    )
    parser.add_argument("names", nargs="*", help="zoo names (default: all)")
    parser.add_argument("--latency", action="store_true", help="also time ORT (ENABLE_ALL)")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads for --latency")
    parser.add_argument("--markdown", metavar="OUT", help="also write a markdown report here")
    args = parser.parse_args(argv)
    try:
        rows = measure(args.names, args.latency, args.threads)
    except KeyError as err:
        print(err.args[0], file=sys.stderr)
        return 2
    print(render_text(rows, args.threads), end="")
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, "w") as fh:
            fh.write(render_markdown(rows, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Plan -> model.c: the kernels, the static memory plan and the entry points.

``dnf_create(weights_path)`` maps weights.bin and allocates the arena; ``dnf_run(handle,
inputs, outputs)`` runs the kernels in order; ``dnf_run_profiled(..., block_us)`` also times
each kernel (microseconds); ``dnf_destroy(handle)`` frees; ``dnf_set_num_threads(handle, n)``
sets the OpenMP thread count of that handle's runs (0: OpenMP's default). One handle owns one
arena, so concurrent runs need one handle each (the Python session serializes runs with a
lock). The same source is built as a shared library (host) or linked with a runner ``main``
(cross targets; see :mod:`compiler_core.target.targets`).

``dnf_run``/``dnf_run_profiled`` return 0, 1 for a bad argument, or the code of a run-time
error (an integer division by zero...; :mod:`compiler_core.codegen.checks`): the run stops
at that block and ``dnf_error_block(handle)`` gives its index (-1 after a successful run).
``dnf_set_trace(slot)`` (process-wide; NULL turns it off) makes every run store the index of
the block about to run into ``*slot``, and -1 after the last block (a run stopped by an error
leaves that block's index), so a process that watches a crashed child can name the block.

The fixed C text (prelude, entry points, helpers emitted only when a kernel calls them) lives
in resource files (:mod:`compiler_core.codegen.c.source`), filled in one pass
(:func:`~compiler_core.codegen.cnames.fill`); model text enters only as sanitized comments
(the operator names of a block).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.anchors.gemm_packed import used_on
from compiler_core.codegen.attention import AttentionKernel, analyze_attention
from compiler_core.codegen.c import source
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, Expr, If, Stmt
from compiler_core.codegen.cnames import Names, comment, ctype_of, fill
from compiler_core.codegen.concat_view import ConcatViewKernel, analyze_concat_view
from compiler_core.codegen.horizontal import HorizontalKernel, analyze_horizontal
from compiler_core.codegen.kernel import BlockKernel, analyze_block
from compiler_core.codegen.memory import Interval, plan_arena
from compiler_core.codegen.weights import layout_weights
from compiler_core.errors import UnsupportedOperatorError
from compiler_core.ir.ecg import ECG, is_constant, value_bytes, value_shape
from compiler_core.planner.blocks import BlockGraph
from compiler_core.planner.concat_view import ConcatInPlace
from compiler_core.planner.horizontal import Horizontal
from compiler_core.target.abi import FIRST_CODE

ABI_VERSION = 1


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy dtype name
    shape: tuple[int, ...]


@dataclass
class GeneratedModel:
    source: str
    kernels: list[BlockKernel | AttentionKernel | HorizontalKernel | ConcatViewKernel]
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    weights: list[ir.Value]
    weight_offsets: dict[ir.Value, int]
    weights_bytes: int
    arena_bytes: int
    intermediate_bytes: int  # bytes of all arena tensors if none were reused


def _spec(v: ir.Value) -> TensorSpec:
    return TensorSpec(v.name or "", np.dtype(ctype_of(v).np).name, value_shape(v))


def generate(ecg: ECG, blocks: BlockGraph, packed_gemm: bool | None = None) -> GeneratedModel:
    """C source for the whole model; raises :class:`UnsupportedOperatorError` up front.

    ``packed_gemm``: GEMMs with constant weights read them packed at compile time
    (:mod:`compiler_core.codegen.anchors.gemm_packed`); for x86-64 targets (None: when this
    machine is one). ``$DNNFUSION_NO_PACKED_GEMM`` (set when compiling) turns it off: the
    A/B switch of the measurements, not an option."""
    if packed_gemm is None:
        packed_gemm = used_on(platform.machine())
    if os.environ.get("DNNFUSION_NO_PACKED_GEMM"):  # the A/B switch of measurements
        packed_gemm = False
    names = Names()
    kernels: list[BlockKernel | AttentionKernel | HorizontalKernel | ConcatViewKernel] = []
    for b, g in enumerate(blocks.groups_in_order()):
        special = blocks.special.get(g)
        if isinstance(special, ConcatInPlace):
            kernels.append(analyze_concat_view(ecg, b, special))
        elif isinstance(special, Horizontal):  # blocks below the floor (planner.beyond)
            kernels.append(analyze_horizontal(ecg, b, names, special, packed_gemm))
        elif special is not None:
            kernels.append(analyze_attention(ecg, b, blocks.sorted_members(g), names, special))
        else:
            kernels.append(analyze_block(ecg, b, blocks.sorted_members(g), names, packed_gemm))
    graph = ecg.graph
    in_values = [v for v in graph.inputs if not is_constant(v)]
    out_values = list(graph.outputs)
    for v in [*in_values, *out_values]:
        ctype_of(v)
        if v.name is None:
            raise UnsupportedOperatorError("a graph input or output has no name")
    in_index = {v: j for j, v in enumerate(in_values)}
    out_index: dict[ir.Value, int] = {}
    for j, v in enumerate(out_values):
        out_index.setdefault(v, j)

    # Storage: weights, graph inputs/outputs (caller's buffers), arena tensors by liveness.
    weights: list[ir.Value] = []
    first: dict[ir.Value, int] = {}
    last: dict[ir.Value, int] = {}
    for b, k in enumerate(kernels):
        for v in k.inputs:
            if is_constant(v):
                if v not in first:
                    weights.append(v)
                first.setdefault(v, b)
            last[v] = b
        for v in [*k.outputs, *k.scratch]:
            first[v] = b
            last.setdefault(v, b)
    produced = {v for k in kernels for v in k.outputs}
    for v in out_values:
        if v not in produced and v not in in_index and is_constant(v) and v not in first:
            weights.append(v)
            first[v] = last[v] = 0
    w_off, w_bytes = layout_weights(weights)
    inside = _placements(kernels, first, last)
    arena_vals = [
        v for v in first
        if v not in w_off and v not in in_index and v not in out_index and v not in inside
    ]
    over = _stored_over_residuals(kernels, set(arena_vals), last)
    intervals = [Interval(v, value_bytes(v), first[v], last[v])
                 for v in arena_vals if v not in over]
    a_off, a_bytes = plan_arena(intervals)
    for o, r in over.items():
        a_off[o] = a_off[r]

    def pointer(v: ir.Value) -> tuple[str, bool]:
        if v in inside:  # a Concat's input, inside the Concat's output
            holder, off = inside[v]
            return f"c->arena + {a_off[holder] + off}", True
        if v in w_off:
            return f"c->w + {w_off[v]}", False
        if v in in_index:
            return f"c->in[{in_index[v]}]", False
        if v in out_index:
            return f"c->out[{out_index[v]}]", True
        if v not in a_off:
            raise UnsupportedOperatorError(f"tensor {comment(v.name or '?')!r} has no producer")
        return f"c->arena + {a_off[v]}", True

    body: list[str] = []
    for k in kernels:
        ptrs = {v: pointer(v) for v in [*k.inputs, *k.outputs, *k.scratch]}
        body += k.emit(ptrs)
        body.append("")

    # Graph outputs no kernel writes: copies of inputs, weights or of an earlier output.
    copies: list[Stmt] = []
    for j, v in enumerate(out_values):
        n = value_bytes(v)
        if out_index[v] != j:
            copies.append(Expr(f"memcpy(out[{j}], out[{out_index[v]}], {n})"))
        elif v not in produced:
            if v in in_index:
                copies.append(Expr(f"memcpy(out[{j}], in[{in_index[v]}], {n})"))
            elif is_constant(v):
                copies.append(Expr(f"memcpy(out[{j}], m->map + {w_off[v]}, {n})"))
            else:
                raise UnsupportedOperatorError(
                    f"graph output {comment(v.name or '?')!r} is not computed by any node"
                )
    source = _assemble(kernels, body, copies, w_bytes, a_bytes)
    return GeneratedModel(
        source=source,
        kernels=kernels,
        inputs=[_spec(v) for v in in_values],
        outputs=[_spec(v) for v in out_values],
        weights=weights,
        weight_offsets=w_off,
        weights_bytes=w_bytes,
        arena_bytes=a_bytes,
        intermediate_bytes=sum(i.size for i in intervals),
    )


def _stored_over_residuals(kernels, arena: set[ir.Value],
                           last: dict[ir.Value, int]) -> dict[ir.Value, ir.Value]:
    """Block output -> the arena tensor it is stored over: a kernel's
    ``residual_storage`` (o, r) when both are arena tensors of the same size and the kernel is
    r's last reader (a ResNet shortcut that dies at its Add). A chain of them shares one
    tensor, the first ``r``, whose live range ``last`` extends to the last output's."""
    over: dict[ir.Value, ir.Value] = {}
    for b, k in enumerate(kernels):
        pair = getattr(k, "residual_storage", None)
        if pair is None:
            continue
        o, r = pair
        if o in arena and r in arena and last.get(r) == b and value_bytes(o) == value_bytes(r):
            root = over.get(r, r)
            over[o] = root
            last[root] = max(last[root], last[o])
    return over


def _placements(kernels, first: dict[ir.Value, int],
                last: dict[ir.Value, int]) -> dict[ir.Value, tuple[ir.Value, int]]:
    """Each input of a Concat in place -> (the arena tensor holding it, byte offset), chains
    followed to the outermost output; that tensor's live range grows to cover its parts'.
    (The planner only places computed tensors that are not graph outputs.)"""
    parent: dict[ir.Value, tuple[ir.Value, int]] = {}
    for k in kernels:
        if isinstance(k, ConcatViewKernel):
            for v, holder, off in k.placements():
                parent[v] = (holder, off)
    inside: dict[ir.Value, tuple[ir.Value, int]] = {}
    for v in parent:
        holder, off = parent[v]
        while holder in parent:
            up, more = parent[holder]
            holder, off = up, off + more
        inside[v] = (holder, off)
    for v, (holder, _) in inside.items():
        first[holder] = min(first[holder], first[v])
        last[holder] = max(last[holder], last[v])
    return inside


def _assemble(kernels, body, copies: list[Stmt], w_bytes, a_bytes) -> str:
    """model.c: the prelude, the helpers the kernels call, the kernels, the entry points with
    the call sequence (each block traced, stopped at its error, timed when asked)."""
    calls: list[Stmt] = []
    for i, k in enumerate(kernels):
        calls.append(If("trace", [Assign("*trace", str(i))], inline=True))
        if k.checked:  # stop at the first block reporting an error
            calls.append(If(f"(err = {k.name}(c)) != 0",
                            [Assign("m->err_block", str(i)), Expr("goto done")]))
        else:
            calls.append(Expr(f"{k.name}(c)"))
        calls.append(If("us", [Decl("double", "t1", "dnf_now_us()", const=False),
                               Assign(f"us[{i}]", "t1 - t0"), Assign("t0", "t1")]))
    checked = any(k.checked for k in kernels)
    head = fill(source.text("prelude.c"), {
        "ABI": ABI_VERSION, "WEIGHTS_BYTES": w_bytes, "ARENA_BYTES": a_bytes,
        "NUM_BLOCKS": len(kernels), "FIRST_ERROR_CODE": FIRST_CODE,
    })
    tail = fill(source.text("entry.c"), {
        "CALLS": "\n".join(render(calls, 1)),
        "COPIES": "\n".join(render(copies or [Expr("(void)out")], 1)),
        "DONE": "done:\n" if checked else "",  # where a run stopped by an error jumps
    })
    kernel_text = "\n".join(body)
    return head + "\n" + source.helpers_for(kernel_text) + kernel_text + "\n" + tail

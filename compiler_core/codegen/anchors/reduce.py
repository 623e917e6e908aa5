"""Reductions and Softmax: a parallel loop over the kept elements, an inner reduction loop
(``#pragma omp simd reduction``) that evaluates the fused prologue expression in place."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.attrs import attr, const_input, norm_axis, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, For, Omp, Raw, Stmt
from compiler_core.codegen.cnames import CType, ctype_of, float_literal, literal
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape
from compiler_core.ir.ops.spec import Reduction


def reduce_nest(
    ctx: KernelContext,
    in_shape: Sequence[int],
    axes: Sequence[int],
    outer_idx: ix.Index,
    body,
    simd: str | None,
) -> list[Stmt]:
    """Nested loops over ``axes`` of ``in_shape``; ``outer_idx`` gives the other axes (in
    order). ``body(full_index, gen)`` adds statements to ``gen``. ``simd`` is an OpenMP
    reduction clause for the innermost loop, e.g. ``reduction(+:t3)``."""
    loops = [a for a in axes if in_shape[a] != 1]
    vars_ = {a: ctx.names.fresh("i") for a in loops}
    outer = iter(outer_idx)
    full = tuple(
        (vars_.get(a, ix.ZERO) if a in axes else next(outer)) for a in range(len(in_shape))
    )
    g = ctx.gen(0)
    body(full, g)
    nest: list[Stmt] = [Raw(g.lines)]
    for k, a in enumerate(reversed(loops)):
        omp = Omp.SIMD if k == 0 and simd else Omp.SERIAL
        nest = [For(vars_[a], 0, in_shape[a], nest, omp=omp, clause=simd or "")]
    return nest


def _flat_loops(ctx: KernelContext, x: ir.Value, in_shape: Sequence[int],
                axes: Sequence[int]) -> list[int]:
    """The loop extents of the reduction: ``in_shape``, or when the reduced axes are the last
    ones of a plain buffer (no prologue evaluated in place), one loop over all their elements
    (the others extent 1: index 0), which are contiguous. The nest of short loops it replaces
    vectorized only whole vectors of each row: SqueezeNet's GlobalAveragePool (1000 planes of
    13 x 13) took 36 us on one Zen 5 core, now 9 (interleaved per-block profiles)."""
    rank = len(in_shape)
    # the loop runs on the last axis of more than one element (an index on an axis of one
    # element is read as 0: a broadcast), whose stride is 1 when the axes after it hold one
    wide = [a for a in axes if in_shape[a] != 1]
    if not ctx.in_buffer(x) or len(wide) < 2 or list(axes) != list(range(axes[0], rank)):
        return list(in_shape)
    out = list(in_shape)
    for a in axes:
        out[a] = 1
    out[wide[-1]] = math.prod(in_shape[a] for a in axes)
    return out


def _kept(idx: ix.Index, axes: Sequence[int], rank: int, keepdims: bool) -> ix.Index:
    """Indices of the non-reduced axes taken from the output index."""
    if keepdims:
        return tuple(idx[a] for a in range(rank) if a not in axes)
    return tuple(idx)


# The identity of an integer max / min: the type's own limits (a narrower type's cast of
# INT64_MIN / INT64_MAX would be 0 / -1).
_INT_LIMITS = {
    "int64_t": ("INT64_MIN", "INT64_MAX"),
    "int32_t": ("INT32_MIN", "INT32_MAX"),
    "int8_t": ("INT8_MIN", "INT8_MAX"),
    "uint8_t": ("0", "UINT8_MAX"),
}


def _int_limits(ct: CType) -> tuple[str, str]:
    if ct.np is np.bool_:
        return "0", "1"
    return _INT_LIMITS[ct.c]


class ReduceAnchor:
    """A reduction over any axes (constant ``axes`` input or attribute), ``keepdims`` either
    way; its C (start value, step, OpenMP clause, final value) is the operator row's
    :class:`~compiler_core.ir.ops.spec.Reduction`."""

    tiled_epilogue = False

    def __init__(self, reduction: Reduction) -> None:
        self.reduction = reduction

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        self._axes(node)
        return set()

    def _axes(self, node: ir.Node) -> tuple[list[int], bool]:
        rank = len(value_shape(node.inputs[0]))
        axes = const_input(node, 1) if len(node.inputs) > 1 else None
        axes = attr(node, "axes") if axes is None else axes.reshape(-1).tolist()
        if not axes:
            if attr(node, "noop_with_empty_axes", 0):
                raise unsupported(node, "noop_with_empty_axes is not supported")
            axes = list(range(rank))
        axes = sorted({norm_axis(node, int(a), rank) for a in axes})
        return axes, bool(attr(node, "keepdims", 1))

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, y = node.inputs[0], node.outputs[0]
        in_shape, out_shape = value_shape(x), value_shape(y)
        axes, keepdims = self._axes(node)
        ct = ctype_of(y)
        count = math.prod(in_shape[a] for a in axes)
        r = self.reduction
        if r.float_only and not ct.is_float:
            raise unsupported(node, "only float32 sums and means are supported")
        if r.init == "lowest":
            init = "(-INFINITY)" if ct.is_float else _int_limits(ct)[0]
        elif r.init == "highest":
            init = "INFINITY" if ct.is_float else _int_limits(ct)[1]
        else:
            init = literal(r.init, ct)
        clause = r.clause
        loop_shape = _flat_loops(ctx, x, in_shape, axes)

        def outer(idx: ix.Index) -> list[Stmt]:
            acc = ctx.names.fresh("a")

            def inner(full: ix.Index, g) -> None:
                g.line(r.step.format(acc=acc, v=g.at(x, full)))

            kept = _kept(idx, axes, len(in_shape), keepdims)
            return [
                Decl(ct.c, acc, init, const=False),
                *reduce_nest(ctx, loop_shape, axes, kept, inner, f"reduction({clause}:{acc})"),
                Assign(f"{ctx.ptr(y)}[{ix.linear(idx, out_shape)}]",
                       r.finish.format(acc=acc, n=float_literal(count))),
            ]

        return render(row_nest(ctx.names, out_shape, outer, inner=0, work_per_element=count), 1)


class SoftmaxAnchor:
    """Softmax / LogSoftmax along one axis: max, sum of exponentials (``dnf_expf``, so the
    loop vectorizes), normalize; LogSoftmax's one log per row is libm's ``logf``."""

    tiled_epilogue = False

    def __init__(self, log: bool) -> None:
        self.log = log

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        if not ctype_of(node.outputs[0]).is_float:
            raise unsupported(node, "only float32 is supported")
        return set()

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, y = node.inputs[0], node.outputs[0]
        shape = value_shape(x)
        axis = norm_axis(node, int(attr(node, "axis", -1)), len(shape))
        kept_shape = tuple(d for a, d in enumerate(shape) if a != axis)
        py = ctx.ptr(y)

        def outer(idx: ix.Index) -> list[Stmt]:
            mx, s = ctx.names.fresh("a"), ctx.names.fresh("a")

            def find_max(full, g):
                v = g.at(x, full)
                g.line(f"{mx} = {v} > {mx} ? {v} : {mx};")

            def exp_sum(full, g):
                v = g.at(x, full)
                if self.log:
                    g.line(f"{s} += dnf_expf({v} - {mx});")
                else:
                    e = g.temp(ctype_of(y), f"dnf_expf({v} - {mx})")
                    g.line(f"{py}[{ix.linear(full, shape)}] = {e};")
                    g.line(f"{s} += {e};")

            out: list[Stmt] = [
                Decl("float", mx, "-INFINITY", const=False),
                *reduce_nest(ctx, shape, [axis], idx, find_max, f"reduction(max:{mx})"),
                Decl("float", s, "0.0f", const=False),
                *reduce_nest(ctx, shape, [axis], idx, exp_sum, f"reduction(+:{s})"),
            ]
            if self.log:
                lse = ctx.names.fresh("a")
                out.append(Decl("float", lse, f"{mx} + logf({s})"))

                def write(full, g):
                    v = g.at(x, full)
                    g.line(f"{py}[{ix.linear(full, shape)}] = {v} - {lse};")
            else:
                inv = ctx.names.fresh("a")
                out.append(Decl("float", inv, f"1.0f / {s}"))

                def write(full, g):
                    g.line(f"{py}[{ix.linear(full, shape)}] *= {inv};")

            return [*out, *reduce_nest(ctx, shape, [axis], idx, write, "")]

        return render(row_nest(ctx.names, kept_shape, outer, inner=0,
                               work_per_element=shape[axis]), 1)

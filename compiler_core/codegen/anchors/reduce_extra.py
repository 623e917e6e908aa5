"""Reductions beyond one accumulator, on top of :class:`~.reduce.ReduceAnchor`:

- ``noop_with_empty_axes=1`` without axes (opset 18): nothing is reduced, as ONNX Runtime
  computes it (every reduction row's anchor is :class:`ReductionAnchor`, so each honours it);
- ReduceLogSumExp: ``max + log(sum(exp(x - max)))`` in two passes, as ONNX Runtime computes
  it, so large inputs do not overflow to infinity (an all ``-inf`` row gives ``-inf``); the
  exponentials by ``dnf_expf`` (vectorizes), the one log per output by libm's ``logf``.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.anchors.reduce import ReduceAnchor, _kept, reduce_nest
from compiler_core.codegen.attrs import attr, const_input, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, If, Stmt
from compiler_core.codegen.cnames import ctype_of
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape


def _noop(node: ir.Node) -> bool:
    """True when the node reduces nothing: ``noop_with_empty_axes=1`` and no axes."""
    if not attr(node, "noop_with_empty_axes", 0):
        return False
    axes = const_input(node, 1) if len(node.inputs) > 1 else None
    axes = attr(node, "axes") if axes is None else axes.reshape(-1).tolist()
    return not axes


class ReductionAnchor(ReduceAnchor):
    """:class:`ReduceAnchor` that also honours ``noop_with_empty_axes``: no axis is reduced,
    each element goes through the reduction's step and finish alone (ONNX Runtime's result:
    the identity for Sum/Mean/Max/Min/Prod, ``|x|`` for L1 and L2, ``x*x`` for SumSquare,
    ``log(x)`` for LogSum)."""

    def _axes(self, node: ir.Node) -> tuple[list[int], bool]:
        if _noop(node):
            return [], bool(attr(node, "keepdims", 1))
        return super()._axes(node)


class LogSumExpAnchor(ReductionAnchor):
    """ReduceLogSumExp over any axes, max-shifted (float32 only)."""

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, y = node.inputs[0], node.outputs[0]
        if not ctype_of(y).is_float:
            raise unsupported(node, "only float32 is supported")
        in_shape, out_shape = value_shape(x), value_shape(y)
        axes, keepdims = self._axes(node)
        count = math.prod(in_shape[a] for a in axes)

        def outer(idx: ix.Index) -> list[Stmt]:
            mx, s = ctx.names.fresh("a"), ctx.names.fresh("a")
            kept = _kept(idx, axes, len(in_shape), keepdims)

            def find_max(full, g):
                v = g.at(x, full)
                g.line(f"{mx} = {v} > {mx} ? {v} : {mx};")

            def exp_sum(full, g):
                g.line(f"{s} += dnf_expf({g.at(x, full)} - {mx});")

            head: list[Stmt] = [
                Decl("float", mx, "-INFINITY", const=False),
                *reduce_nest(ctx, in_shape, axes, kept, find_max, f"reduction(max:{mx})"),
                Decl("float", s, "0.0f", const=False),
            ]
            sums = reduce_nest(ctx, in_shape, axes, kept, exp_sum, f"reduction(+:{s})")
            return [
                *head,
                If(f"isinf({mx})", [Assign(s, "1.0f")], sums, inline=True),
                Assign(f"{ctx.ptr(y)}[{ix.linear(idx, out_shape)}]", f"{mx} + logf({s})"),
            ]

        return render(row_nest(ctx.names, out_shape, outer, inner=0,
                               work_per_element=2 * count), 1)

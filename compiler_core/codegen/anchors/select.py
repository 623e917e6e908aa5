"""ArgMax / ArgMin and TopK: per row along one axis, a serial scan keeping the best element(s).

- ArgMax/ArgMin: the first best index (``select_last_index=1``: the last), int64 output,
  ``keepdims`` either way. A NaN is never better than a number (ONNX Runtime's comparisons).
- TopK: the ``k`` best values and their int64 indices along ``axis``, ``largest`` or smallest,
  best first; equal values keep the smaller index first (ONNX Runtime). ``k`` is read at
  compile time and must lie in ``[0, n]``. The running list is kept in the outputs themselves
  (insertion into a sorted prefix: O(n·k) per row), so no scratch memory depends on ``k``.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.attrs import attr, const_input, norm_axis, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, Expr, For, If, Stmt, While
from compiler_core.codegen.cnames import ctype_of
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape


def _with_axis(idx: ix.Index, axis: int, var: str) -> ix.Index:
    return (*idx[:axis], var, *idx[axis:])


class ArgAnchor:
    """ArgMax (``largest=True``) or ArgMin."""

    tiled_epilogue = False

    def __init__(self, largest: bool) -> None:
        self.largest = largest

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        ctype_of(node.inputs[0])
        return {node.inputs[0]}

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, y = node.inputs[0], node.outputs[0]
        shape = value_shape(x)
        axis = norm_axis(node, int(attr(node, "axis", 0)), len(shape))
        n = shape[axis]
        if n == 0:
            raise unsupported(node, "an empty reduced axis")
        keep = bool(attr(node, "keepdims", 1))
        last = bool(attr(node, "select_last_index", 0))
        kept_shape = tuple(d for a, d in enumerate(shape) if a != axis)
        cmp = ">" if self.largest else "<"
        if last:
            cmp += "="
        ct = ctype_of(x)

        def outer(idx: ix.Index) -> list[Stmt]:
            best, at, i = ctx.names.fresh("a"), ctx.names.fresh("a"), ctx.names.fresh("i")
            first = ix.linear(_with_axis(idx, axis, "0"), shape)
            cur = ix.linear(_with_axis(idx, axis, i), shape)
            v = ctx.names.fresh("t")
            out_idx = _with_axis(idx, axis, "0") if keep else idx
            better = f"{v} {cmp} {best}"
            if ct.is_float:  # a NaN first element is replaced by the first number
                better = f"({better} || ({best} != {best} && {v} == {v}))"
            return [
                Decl(ct.c, best, f"{ctx.ptr(x)}[{first}]", const=False),
                Decl("int64_t", at, "0", const=False),
                For(i, 1, n, [
                    Decl(ct.c, v, f"{ctx.ptr(x)}[{cur}]"),
                    If(better, [Assign(best, v), Assign(at, i)], inline=True),
                ]),
                Assign(f"{ctx.ptr(y)}[{ix.linear(out_idx, value_shape(y))}]", at),
            ]

        return render(row_nest(ctx.names, kept_shape, outer, inner=0, work_per_element=n), 1)


class TopKAnchor:
    tiled_epilogue = False

    def _k(self, node: ir.Node) -> int:
        shape = value_shape(node.inputs[0])
        axis = norm_axis(node, int(attr(node, "axis", -1)), len(shape))
        k = const_input(node, 1, required=True).reshape(-1)
        if k.size != 1 or not 0 <= int(k[0]) <= shape[axis]:
            raise unsupported(node, f"k={k.tolist()} for an axis of size {shape[axis]}")
        return int(k[0])

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        self._k(node)
        ctype_of(node.inputs[0])
        # both outputs hold the running list, even one the model does not read
        return {node.inputs[0], *(v for v in node.outputs if v is not None)}

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x = node.inputs[0]
        vals, inds = node.outputs[0], node.outputs[1]
        shape = value_shape(x)
        axis = norm_axis(node, int(attr(node, "axis", -1)), len(shape))
        n, k = shape[axis], self._k(node)
        out_shape = value_shape(vals)
        if k == 0:
            return []
        ct = ctype_of(x)
        cmp = ">" if int(attr(node, "largest", 1)) else "<"
        kept_shape = tuple(d for a, d in enumerate(shape) if a != axis)

        def outer(idx: ix.Index) -> list[Stmt]:
            i, m, p_, v = (ctx.names.fresh(s) for s in ("i", "a", "a", "t"))
            pv, pi = ctx.ptr(vals), ctx.ptr(inds)

            def o(pos: str) -> str:
                return ix.linear(_with_axis(idx, axis, pos), out_shape)

            def better(pos: str) -> str:
                w = f"{pv}[{o(pos)}]"
                if ct.is_float:  # numbers before NaN
                    return f"({v} {cmp} {w} || ({w} != {w} && {v} == {v}))"
                return f"({v} {cmp} {w})"

            src = f"{ctx.ptr(x)}[{ix.linear(_with_axis(idx, axis, i), shape)}]"
            return [
                Decl("int64_t", m, "0", const=False),
                For(i, 0, n, [
                    Decl(ct.c, v, src),
                    If(f"{m} == {k} && !{better(str(k - 1))}", [Expr("continue")], inline=True),
                    Decl("int64_t", p_, f"{m} < {k} ? {m}++ : {k - 1}", const=False),
                    While(f"{p_} > 0 && {better(f'{p_} - 1')}", [
                        Assign(f"{pv}[{o(p_)}]", f"{pv}[{o(f'{p_} - 1')}]"),
                        Assign(f"{pi}[{o(p_)}]", f"{pi}[{o(f'{p_} - 1')}]"),
                        Expr(f"--{p_}"),
                    ]),
                    Assign(f"{pv}[{o(p_)}]", v),
                    Assign(f"{pi}[{o(p_)}]", i),
                ]),
            ]

        return render(row_nest(ctx.names, kept_shape, outer, inner=0,
                               work_per_element=n * k), 1)


class HardmaxAnchor:
    """Hardmax along ``axis``: 1 at the first largest element of each row, 0 elsewhere (a NaN
    is never the largest unless the row has no number)."""

    tiled_epilogue = False

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        if not ctype_of(node.inputs[0]).is_float:
            raise unsupported(node, "only float32 is supported")
        return {node.inputs[0]}

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, y = node.inputs[0], node.outputs[0]
        shape = value_shape(x)
        axis = norm_axis(node, int(attr(node, "axis", -1)), len(shape))
        n = shape[axis]
        kept_shape = tuple(d for a, d in enumerate(shape) if a != axis)
        if n == 0:
            return []

        def outer(idx: ix.Index) -> list[Stmt]:
            best, at, i, v = (ctx.names.fresh(s) for s in ("a", "a", "i", "t"))

            def off(pos: str) -> str:
                return ix.linear(_with_axis(idx, axis, pos), shape)

            return [
                Decl("float", best, f"{ctx.ptr(x)}[{off('0')}]", const=False),
                Decl("int64_t", at, "0", const=False),
                For(i, 1, n, [
                    Decl("float", v, f"{ctx.ptr(x)}[{off(i)}]"),
                    If(f"{v} > {best} || ({best} != {best} && {v} == {v})",
                       [Assign(best, v), Assign(at, i)], inline=True),
                ]),
                For(i, 0, n, [Assign(f"{ctx.ptr(y)}[{off(i)}]", f"{i} == {at} ? 1.0f : 0.0f")],
                    inline=True),
            ]

        return render(row_nest(ctx.names, kept_shape, outer, inner=0,
                               work_per_element=2 * n), 1)

"""ScatterElements and ScatterND: copy ``data`` to the output, then apply the updates in
order (serially, so duplicate indices end as ONNX Runtime leaves them: the last write wins, or
the ``reduction`` add/mul/max/min folds them in order).

Every index is checked: one outside ``[-n, n)`` (negative counts from the end) sets the
kernel's error flag (:data:`~compiler_core.target.abi.INDEX_OUT_OF_RANGE`; ONNX Runtime
reports an error too) and its update is skipped, so nothing is written outside the output.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.attrs import attr, norm_axis, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, For, If, Stmt
from compiler_core.codegen.checks import flag
from compiler_core.codegen.cnames import ctype_of, int_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape
from compiler_core.target.abi import INDEX_OUT_OF_RANGE


def _combine(node: ir.Node, dst: str, src: str) -> Assign:
    """The statement applying update ``src`` to ``dst`` under the ``reduction`` attribute."""
    red = attr(node, "reduction", "none")
    if red == "none":
        return Assign(dst, src)
    if red == "add":
        return Assign(dst, src, "+=")
    if red == "mul":
        return Assign(dst, src, "*=")
    if red in ("max", "min"):
        cmp = ">" if red == "max" else "<"
        return Assign(dst, f"({src} {cmp} {dst}) ? {src} : {dst}")
    raise unsupported(node, f"reduction={red!r}")


def _copy(ctx: KernelContext, data: ir.Value, out: ir.Value) -> list[Stmt]:
    shape = value_shape(out)

    def body(idx: ix.Index) -> list[Stmt]:
        off = ix.linear(idx, shape)
        return [Assign(f"{ctx.ptr(out)}[{off}]", f"{ctx.ptr(data)}[{off}]")]

    return row_nest(ctx.names, shape, body)


def _check_types(node: ir.Node) -> None:
    ct = ctype_of(node.outputs[0])
    if attr(node, "reduction", "none") in ("add", "mul") and not ct.is_float:
        raise unsupported(node, "integer add/mul reductions are not supported")
    _combine(node, "a", "b")


class _ScatterAnchor:
    """What both scatters share: they read data, indices and updates, and run no tiled epilogue."""

    tiled_epilogue = False

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        _check_types(node)
        return {v for v in list(node.inputs)[:3] if v is not None}


class ScatterElementsAnchor(_ScatterAnchor):
    """out = data; out[idx with idx[axis] := indices[idx]] (op)= updates[idx] for every idx of
    ``indices`` (same shape as ``updates``)."""

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        data, indices, updates = list(node.inputs)[:3]
        out = node.outputs[0]
        dshape, ishape = value_shape(data), value_shape(indices)
        if value_shape(updates) != ishape or len(ishape) != len(dshape):
            raise unsupported(node, f"indices {list(ishape)} and updates "
                                    f"{list(value_shape(updates))} for data {list(dshape)}")
        axis = norm_axis(node, int(attr(node, "axis", 0)), len(dshape))
        for a, (d, i) in enumerate(zip(dshape, ishape, strict=True)):
            if a != axis and i > d:
                raise unsupported(node, f"indices dimension {a} is {i}, larger than data's {d}")
        stmts = _copy(ctx, data, out)
        if math.prod(ishape) == 0:
            return render(stmts, 1)
        n = dshape[axis]
        ctx.checks.add(INDEX_OUT_OF_RANGE)
        vars_ = [ctx.names.fresh("i") for _ in ishape]
        k, j, bad = ctx.names.fresh("t"), ctx.names.fresh("t"), ctx.names.fresh("t")
        src = ix.linear(tuple(vars_), ishape)
        dst_idx = list(vars_)
        dst_idx[axis] = j
        dst = f"{ctx.ptr(out)}[{ix.linear(tuple(dst_idx), dshape)}]"
        upd = f"{ctx.ptr(updates)}[{src}]"
        nest: list[Stmt] = [
            Decl("int64_t", k, f"(int64_t){ctx.ptr(indices)}[{src}]"),
            Decl("int64_t", j, f"{k} < 0 ? {k} + {int_literal(n)} : {k}"),
            Decl("int", bad, f"({j} < 0) | ({j} >= {int_literal(n)})"),
            flag(bad, INDEX_OUT_OF_RANGE),
            If(f"!{bad}", [_combine(node, dst, upd)], inline=True),
        ]
        for v, d in reversed(list(zip(vars_, ishape, strict=True))):
            nest = [For(v, 0, d, nest)]
        return render([*stmts, *nest], 1)


class ScatterNDAnchor(_ScatterAnchor):
    """out = data; for every index prefix m of ``indices`` ([..., k]): the slice
    out[indices[m, 0..k-1], ...] (op)= updates[m, ...]."""

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        data, indices, updates = list(node.inputs)[:3]
        out = node.outputs[0]
        dshape, ishape, ushape = value_shape(data), value_shape(indices), value_shape(updates)
        if not ishape or not 1 <= ishape[-1] <= len(dshape):
            raise unsupported(node, f"indices {list(ishape)} for data of rank {len(dshape)}")
        k = ishape[-1]
        want = tuple(ishape[:-1]) + tuple(dshape[k:])
        if tuple(ushape) != want:
            raise unsupported(node, f"updates {list(ushape)}, expected {list(want)}")
        stmts = _copy(ctx, data, out)
        count, inner = math.prod(ishape[:-1]), math.prod(dshape[k:])
        if count == 0 or inner == 0:
            return render(stmts, 1)
        ctx.checks.add(INDEX_OUT_OF_RANGE)
        strides = ix.strides(dshape)
        m, off, bad = ctx.names.fresh("i"), ctx.names.fresh("t"), ctx.names.fresh("t")
        body: list[Stmt] = [Decl("int64_t", off, "0", const=False),
                            Decl("int", bad, "0", const=False)]
        for q in range(k):
            t = ctx.names.fresh("t")
            n = int_literal(dshape[q])
            body += [
                Decl("int64_t", t, f"(int64_t){ctx.ptr(indices)}[{m}*{k} + {q}]", const=False),
                If(f"{t} < 0", [Assign(t, n, "+=")], inline=True),
                Assign(bad, f"({t} < 0) | ({t} >= {n})", "|="),
                Assign(off, f"{t} * {int_literal(strides[q])}", "+="),
            ]
        s = ctx.names.fresh("i")
        dst = f"{ctx.ptr(out)}[{off} + {s}]"
        upd = f"{ctx.ptr(updates)}[{m}*{inner} + {s}]"
        body += [
            flag(bad, INDEX_OUT_OF_RANGE),
            If(f"!{bad}", [For(s, 0, inner, [_combine(node, dst, upd)], inline=True)],
               inline=True),
        ]
        return render([*stmts, For(m, 0, count, body)], 1)

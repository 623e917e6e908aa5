"""CumSum along one axis (read at compile time): per row, a serial running sum, forward or
``reverse``, ``exclusive`` (each output leaves its own element out) or inclusive. Integer sums
wrap around like ONNX Runtime's (computed in the unsigned type)."""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.attrs import attr, const_input, norm_axis, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, For, Stmt
from compiler_core.codegen.cnames import ctype_of
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape

_ACC = {"float": "float", "int32_t": "uint32_t", "int64_t": "uint64_t"}


class CumSumAnchor:
    tiled_epilogue = False

    def _axis(self, node: ir.Node) -> int:
        rank = len(value_shape(node.inputs[0]))
        a = const_input(node, 1, required=True).reshape(-1)
        if a.size != 1:
            raise unsupported(node, "axis must hold one value")
        return norm_axis(node, int(a[0]), rank)

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        self._axis(node)
        if ctype_of(node.outputs[0]).c not in _ACC:
            raise unsupported(node, f"dtype {ctype_of(node.outputs[0]).c}")
        return {node.inputs[0]}

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        x, y = node.inputs[0], node.outputs[0]
        shape = value_shape(x)
        axis = self._axis(node)
        n = shape[axis]
        ct = ctype_of(y)
        acc_t = _ACC[ct.c]
        rev, excl = int(attr(node, "reverse", 0)), int(attr(node, "exclusive", 0))
        kept_shape = tuple(d for a, d in enumerate(shape) if a != axis)

        def outer(idx: ix.Index) -> list[Stmt]:
            acc, i, j = ctx.names.fresh("a"), ctx.names.fresh("i"), ctx.names.fresh("i")
            off = ix.linear((*idx[:axis], j, *idx[axis:]), shape)
            step: list[Stmt] = [Assign(acc, f"({acc_t}){ctx.ptr(x)}[{off}]", "+="),
                                Assign(f"{ctx.ptr(y)}[{off}]", f"({ct.c}){acc}")]
            if excl:
                step.reverse()
            return [
                Decl(acc_t, acc, "0", const=False),
                For(i, 0, n, [Decl("int64_t", j, f"{n - 1} - {i}" if rev else i), *step]),
            ]

        return render(row_nest(ctx.names, kept_shape, outer, inner=0, work_per_element=n), 1)

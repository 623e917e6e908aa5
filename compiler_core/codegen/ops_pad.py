"""Pad as an index operator (One-to-Many for edge/reflect/wrap, a branch for constant).

Index algebra, per padded axis of size ``n`` with ``begin`` pads (negative pads crop): output
``i`` reads input ``j = i - begin`` when ``0 <= j < n``; otherwise ``constant`` gives the
value, ``edge`` reads ``clamp(j, 0, n-1)``, ``reflect`` reads ``-j`` below and ``2(n-1) - j``
above, ``wrap`` reads ``j mod n``.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, const_input, unsupported
from compiler_core.codegen.cnames import ctype_of, literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.codegen.ops_resize import I64
from compiler_core.ir.ecg import value_shape


def _pads(node: ir.Node) -> list[tuple[int, int]]:
    rank = len(value_shape(node.inputs[0]))
    pads = const_input(node, 1, required=True).reshape(-1).tolist()
    axes = const_input(node, 3) if len(node.inputs) > 3 and node.inputs[3] is not None else None
    axes = list(range(rank)) if axes is None else [
        a + rank if a < 0 else a for a in axes.reshape(-1).tolist()
    ]
    if len(pads) != 2 * len(axes):
        raise unsupported(node, f"{len(pads)} pads for {len(axes)} axes")
    out = [(0, 0)] * rank
    for k, a in enumerate(axes):
        out[a] = (int(pads[k]), int(pads[len(axes) + k]))
    return out


def emit_pad(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    mode = attr(node, "mode", "constant")
    x = node.inputs[0]
    shape = value_shape(x)
    src, conds = [], []
    for i, n, (b, e) in zip(idx, shape, _pads(node), strict=True):
        j = ix.add(i, -b)
        if b <= 0 and e <= 0:  # only cropping: always inside
            src.append(j)
            continue
        if mode == "constant":
            conds.append(f"{j} >= 0 && {j} < {n}" if b > 0 and e > 0 else
                         (f"{j} >= 0" if b > 0 else f"{j} < {n}"))
            src.append(j)
        elif mode == "edge":
            src.append(f"({j} < 0 ? 0 : ({j} >= {n} ? {n - 1} : {j}))")
        elif mode == "reflect":
            if n == 1:
                src.append("0")
                continue
            if b >= n or e >= n:
                raise unsupported(node, "reflect pads must be smaller than the axis")
            t = g.temp(I64, f"({j} < 0 ? -({j}) : {j})")
            src.append(f"({t} >= {n} ? {2 * (n - 1)} - {t} : {t})")
        elif mode == "wrap":
            src.append(f"((({j}) % {n} + {n}) % {n})")
        else:
            raise unsupported(node, f"mode={mode!r}")
    if not conds:
        return g.at(x, tuple(src))
    inputs = list(node.inputs) + [None] * 3
    fill = inputs[2]
    ct = ctype_of(node.outputs[0])
    value = g.at(fill, ("0",) * len(value_shape(fill))) if fill is not None else literal(0, ct)
    res = g.declare(ct)
    g.open_scope(f"if ({' && '.join(conds)}) {{")
    g.line(f"{res} = {g.at(x, tuple(src))};")
    g.close_scope()
    g.open_scope("else {")
    g.line(f"{res} = {value};")
    g.close_scope()
    return res


"""More index operators as index arithmetic: GatherElements and Tile.

GatherElements reads ``data`` at the output index with the ``axis`` coordinate replaced by the
index tensor's element; an index outside ``[-n, n)`` sets the kernel's error flag
(:data:`~compiler_core.target.abi.INDEX_OUT_OF_RANGE`, as ONNX Runtime reports an error) and
reads a clamped position, so nothing outside the tensor is ever read. Tile reads the input at
the output index modulo the input's shape.
"""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, const_input, norm_axis, unsupported
from compiler_core.codegen.cnames import ctype_of, int_literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.ir.ecg import value_shape
from compiler_core.target.abi import INDEX_OUT_OF_RANGE


def checked_index(g: ExprGen, indices: ir.Value, k: str, n: int) -> str:
    """Index ``k`` into an axis of size ``n`` (negative counts from the end): a value outside
    ``[-n, n)`` sets the error flag; the result is clamped to ``[0, n)`` either way."""
    ct = ctype_of(indices)
    t = g.temp(ct, f"({k} < 0 ? {k} + {int_literal(n)} : {k})")
    g.check(f"({t} < 0) | ({t} >= {int_literal(n)})", INDEX_OUT_OF_RANGE)
    return g.temp(ct, f"({t} < 0 ? 0 : ({t} >= {int_literal(n)} ? {int_literal(n - 1)} : {t}))")


# GatherElements: out[idx] = data[idx with idx[axis] := indices[idx]].
def emit_gather_elements(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    data, indices = node.inputs[0], node.inputs[1]
    dshape, ishape = value_shape(data), value_shape(indices)
    if len(dshape) != len(ishape) or len(dshape) == 0:
        raise unsupported(node, f"indices of rank {len(ishape)} for data of rank {len(dshape)}")
    axis = norm_axis(node, int(attr(node, "axis", 0)), len(dshape))
    for a, (d, i) in enumerate(zip(dshape, ishape, strict=True)):
        if a != axis and i > d:  # ONNX Runtime refuses it too; reading there is out of bounds
            raise unsupported(node, f"indices dimension {a} is {i}, larger than data's {d}")
    if dshape[axis] == 0:
        raise unsupported(node, "gathering from an empty axis")
    j = checked_index(g, indices, g.at(indices, idx), dshape[axis])
    src = list(idx)
    src[axis] = j
    return g.at(data, tuple(src))


# Tile: out[idx] = in[idx % in_shape] (the repeats input is read at compile time).
def emit_tile(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape = value_shape(node.inputs[0])
    repeats = const_input(node, 1, required=True).reshape(-1).tolist()
    if len(repeats) != len(in_shape) or any(r < 0 for r in repeats):
        raise unsupported(node, f"repeats {repeats} for an input of rank {len(in_shape)}")
    src = tuple(i if r == 1 or d == 1 else f"(({i}) % {d})"
                for i, d, r in zip(idx, in_shape, repeats, strict=True))
    return g.at(node.inputs[0], src)


def _block(node: ir.Node, shape) -> int:
    b = int(attr(node, "blocksize", 0))
    if len(shape) != 4 or b <= 0:
        raise unsupported(node, f"blocksize {b} for a tensor of rank {len(shape)}")
    return b


# DepthToSpace: out[n, c, h*b + i, w*b + j] = in[n, chan, h, w] with chan = (i*b + j)*C' + c
# (mode DCR) or c*b*b + i*b + j (mode CRD), C' = C / b^2.
def emit_depth_to_space(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape = value_shape(node.inputs[0])
    b = _block(node, in_shape)
    cp = in_shape[1] // (b * b)
    n, c, y, x = idx
    h, i, w, j = f"(({y}) / {b})", f"(({y}) % {b})", f"(({x}) / {b})", f"(({x}) % {b})"
    if attr(node, "mode", "DCR") == "CRD":
        chan = f"(({c}) * {b * b} + {i} * {b} + {j})"
    else:
        chan = f"(({i} * {b} + {j}) * {cp} + ({c}))"
    return g.at(node.inputs[0], (n, chan, h, w))


# SpaceToDepth: out[n, (i*b + j)*C + c, h, w] = in[n, c, h*b + i, w*b + j].
def emit_space_to_depth(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape = value_shape(node.inputs[0])
    b = _block(node, in_shape)
    ch = in_shape[1]
    n, k, h, w = idx
    c, q = f"(({k}) % {ch})", f"(({k}) / {ch})"
    i, j = f"({q} / {b})", f"({q} % {b})"
    return g.at(node.inputs[0], (n, c, f"(({h}) * {b} + {i})", f"(({w}) * {b} + {j})"))

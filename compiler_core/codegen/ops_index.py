"""Index operators as pure index arithmetic: each row maps an output index to an input index.

No buffer is written for them inside a block (paper §4.4: Reorganize and Shuffle operators
cost no memory traffic).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, const_input, norm_axis, unsupported
from compiler_core.codegen.cnames import ctype_of, int_literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.ir.ecg import value_shape


def _shapes(node: ir.Node, pos: int = 0):
    return value_shape(node.inputs[0]), value_shape(node.outputs[pos])


# Reshape, Flatten, Squeeze, Unsqueeze: in[unravel(linear(idx))] by groups of equal products.
def emit_reshape(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape, out_shape = _shapes(node)
    return g.at(node.inputs[0], ix.reshape(idx, out_shape, in_shape))


# Transpose: out[idx] = in[j] with j[perm[k]] = idx[k].
def emit_transpose(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape, _ = _shapes(node)
    perm = attr(node, "perm") or list(range(len(in_shape)))[::-1]
    src = ["0"] * len(in_shape)
    for k, p in enumerate(perm):
        src[p] = idx[k]
    return g.at(node.inputs[0], tuple(src))


# Expand: numpy broadcasting of the input to the output shape.
def emit_expand(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape, out_shape = _shapes(node)
    return g.at(node.inputs[0], ix.broadcast(idx, in_shape, out_shape))


# Slice: in[start + step*idx] on the sliced axes.
def emit_slice(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape, _ = _shapes(node)
    rank = len(in_shape)
    starts = const_input(node, 1, required=True).reshape(-1)
    ends = const_input(node, 2, required=True).reshape(-1)
    axes = const_input(node, 3)
    steps = const_input(node, 4)
    axes = list(range(len(starts))) if axes is None else axes.reshape(-1).tolist()
    steps = [1] * len(starts) if steps is None else steps.reshape(-1).tolist()
    src = list(idx)
    for s, e, a, st in zip(starts.tolist(), ends.tolist(), axes, steps, strict=True):
        a = norm_axis(node, int(a), rank)
        if st == 0:
            raise unsupported(node, "step 0")
        start, _, step = slice(int(s), int(e), int(st)).indices(in_shape[a])
        src[a] = ix.add(ix.mul(idx[a], step), start)
    return g.at(node.inputs[0], tuple(src))


# Concat: the input whose range along axis holds idx[axis], read at idx[axis] - offset.
def emit_concat(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    _, out_shape = _shapes(node)
    axis = norm_axis(node, int(attr(node, "axis")), len(out_shape))
    parts = [v for v in node.inputs if v is not None and value_shape(v)[axis] > 0]
    res = g.declare(ctype_of(node.outputs[0]))
    off = 0
    for k, v in enumerate(parts):
        size = value_shape(v)[axis]
        if k == len(parts) - 1:
            header = "{" if k == 0 else "else {"
        else:
            header = f"{'if' if k == 0 else 'else if'} ({idx[axis]} < {off + size}) {{"
        g.open_scope(header)
        src = list(idx)
        src[axis] = ix.add(idx[axis], -off)
        g.line(f"{res} = {g.at(v, tuple(src))};")
        g.close_scope()
        off += size
    return res


# Split: output pos reads in[idx + offset of pos along axis].
def emit_split(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    in_shape, _ = _shapes(node)
    axis = norm_axis(node, int(attr(node, "axis", 0)), len(in_shape))
    off = sum(value_shape(v)[axis] for v in list(node.outputs)[:pos])
    src = list(idx)
    src[axis] = ix.add(idx[axis], off)
    return g.at(node.inputs[0], tuple(src))


# Gather: out[i..., j..., k...] = data[i..., clamp(indices[j...]), k...].
def emit_gather(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    data, indices = node.inputs[0], node.inputs[1]
    dshape, ishape = value_shape(data), value_shape(indices)
    axis = norm_axis(node, int(attr(node, "axis", 0)), len(dshape))
    n = dshape[axis]
    r = len(ishape)
    k = g.at(indices, tuple(idx[axis : axis + r]))
    if indices.const_value is not None and np.size(indices.const_value.numpy()) == 1:
        kk = int(indices.const_value.numpy().reshape(-1)[0])
        kk = min(max(kk + n if kk < 0 else kk, 0), n - 1)
        j = str(kk)
    else:
        # Negative indices count from the end; out-of-range ones are clamped (never read
        # outside the tensor; ONNX Runtime reports an error for them).
        t = g.temp(ctype_of(indices), f"({k} < 0 ? {k} + {int_literal(n)} : {k})")
        j = g.temp(
            ctype_of(indices),
            f"({t} < 0 ? 0 : ({t} >= {int_literal(n)} ? {int_literal(n - 1)} : {t}))",
        )
    src = tuple(idx[:axis]) + (j,) + tuple(idx[axis + r :])
    return g.at(data, src)


def _clamped_index(g: ExprGen, indices: ir.Value, k: str, n: int) -> str:
    """Index ``k`` (negative counts from the end) clamped to [0, n): never reads outside."""
    t = g.temp(ctype_of(indices), f"({k} < 0 ? {k} + {int_literal(n)} : {k})")
    return g.temp(
        ctype_of(indices),
        f"({t} < 0 ? 0 : ({t} >= {int_literal(n)} ? {int_literal(n - 1)} : {t}))",
    )


# GatherND: out[b..., i..., rest...] = data[b..., indices[b..., i..., 0..k-1], rest...].
def emit_gather_nd(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    data, indices = node.inputs[0], node.inputs[1]
    dshape, ishape = value_shape(data), value_shape(indices)
    b = int(attr(node, "batch_dims", 0))
    r, k = len(ishape), ishape[-1]
    lead = tuple(idx[: r - 1])
    picked = [
        _clamped_index(g, indices, g.at(indices, (*lead, str(j))), dshape[b + j])
        for j in range(k)
    ]
    return g.at(data, (*lead[:b], *picked, *idx[r - 1 :]))

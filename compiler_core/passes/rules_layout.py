"""Clean-ups of data-movement chains (Reorganize and Shuffle operators, paper Table 2).

Shapes are static, so any chain of Reshape / Flatten / Squeeze / Unsqueeze is one Reshape to
the final shape, and nothing at all when that shape is the input's.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops import specs
from compiler_core.passes import matcher as mt
from compiler_core.passes.expr import Const, E
from compiler_core.passes.match import Match
from compiler_core.passes.nomatch import require
from compiler_core.passes.rule import Exactness, Kind, rule

K = Kind.CLEANUP
# The Reorganize operators (their registry rows: Reshape, Flatten, Squeeze, Unsqueeze).
REORGANIZE = tuple(r.name for r in specs() if r.mapping is MappingType.REORGANIZE)


def _perm(node: ir.Node) -> list[int]:
    perm = mt.attr(node, "perm")
    rank = len(mt.shape(node.inputs[0]))
    return list(perm) if perm is not None else list(reversed(range(rank)))


# Transpose(Transpose(x, p), q) -> Transpose(x, p∘q), or x when p∘q is the identity
@rule(
    "transpose_transpose",
    "Transpose(Transpose(x, p), q) -> Transpose(x, p[q])",
    K,
    Exactness.EXACT,
    "Transpose",
)
def transpose_transpose(node: ir.Node, ctx) -> Match:
    inner = mt.expect(node.inputs[0], "Transpose")
    p, q = _perm(inner), _perm(node)
    composed = [p[i] for i in q]
    x = inner.inputs[0]
    if composed == list(range(len(composed))):
        return Match(node, [node, inner], [x])
    return Match(
        node, [node, inner], [E("Transpose", x, perm=composed, shape=mt.shape(node.outputs[0]))]
    )


# Transpose(x, identity) -> x
@rule("transpose_noop", "Transpose(x, 0..r-1) -> x", K, Exactness.EXACT, "Transpose")
def transpose_noop(node: ir.Node, ctx) -> Match:
    perm = _perm(node)
    require(perm == list(range(len(perm))), "not the identity permutation")
    return Match(node, [node], [node.inputs[0]])


def _static_reshape(x: ir.Value, target: tuple[int, ...]):
    if mt.shape(x) == target:
        return x
    require(0 not in target, "empty tensor")
    return E("Reshape", x, Const(np.asarray(target, dtype=np.int64)), shape=target)


# Reorganize(Reorganize(x)) -> Reshape(x, final shape), or x when the shape is x's
# (covers Reshape∘Reshape and Squeeze/Unsqueeze pairs that cancel)
@rule(
    "reorganize_chain",
    "Reshape(Reshape(x)) -> Reshape(x); Unsqueeze(Squeeze(x)) -> x",
    K,
    Exactness.EXACT,
    " ".join(REORGANIZE),
)
def reorganize_chain(node: ir.Node, ctx) -> Match:
    inner = mt.expect(node.inputs[0], *REORGANIZE)
    target = mt.shape(node.outputs[0])
    return Match(node, [node, inner], [_static_reshape(inner.inputs[0], target)])


# Reshape(x) to x's own shape -> x (also Squeeze/Unsqueeze/Flatten that change nothing)
@rule("reshape_noop", "Reshape(x, shape(x)) -> x", K, Exactness.EXACT, " ".join(REORGANIZE))
def reshape_noop(node: ir.Node, ctx) -> Match:
    require(mt.shape(node.inputs[0]) == mt.shape(node.outputs[0]), "changes the shape")
    return Match(node, [node], [node.inputs[0]])


RULES = [transpose_noop, transpose_transpose, reshape_noop, reorganize_chain]

"""The cost model the greedy rewriter compares matches with (paper §4.2 counts FLOPs).

An element-wise operator costs one operation per output element, a reduction one per input
element (the paper's Table 4 counts ``ReduceSum`` of an m×n tensor as mn), pure data movement
(Reorganize / Shuffle, Identity) costs nothing, and a node whose inputs are all constant costs
nothing (it is folded). Other operators use the ECG's estimate. ``reads`` counts the elements a
node loads from non-constant inputs (each distinct input once): the tie-breaker that makes the
paper's "A loaded once" rules worth applying when FLOPs are equal.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.ir.ecg import estimate_flops, value_shape
from compiler_core.ir.ops import REGISTRY


def op_flops(
    op: str,
    in_shapes: list[tuple[int, ...]],
    out_shape: tuple[int, ...],
    all_constant: bool,
) -> int | None:
    """FLOPs of a default-domain operator from shapes (the row's ``flops``); ``None`` when the
    model has no formula for it."""
    if all_constant and in_shapes:
        return 0
    row = REGISTRY.get(op)
    if row is None or row.flops is None:
        return None
    return row.flops.count(in_shapes, out_shape)


def node_flops(node: ir.Node, is_constant) -> int:
    """FLOPs of an existing node (``is_constant``: value -> bool)."""
    ins = [v for v in node.inputs if v is not None]
    in_shapes = [value_shape(v) for v in ins]
    out_shape = value_shape(node.outputs[0])
    got = op_flops(node.op_type, in_shapes, out_shape, all(is_constant(v) for v in ins))
    return estimate_flops(node) if got is None else got


def node_reads(node: ir.Node, is_constant) -> int:
    """Elements loaded from distinct non-constant inputs."""
    seen: list[ir.Value] = []
    for v in node.inputs:
        if v is not None and not is_constant(v) and all(v is not s for s in seen):
            seen.append(v)
    return sum(math.prod(value_shape(v)) for v in seen)

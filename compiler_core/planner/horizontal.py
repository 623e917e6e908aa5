"""Sibling GEMMs reading the same input (issue #13, "beyond the floor"): Q, K, V projections.

Each ``MatMul(X, W_i)`` with a constant 2-D ``W_i`` is a Many-to-Many operator, so the floor
gives each its own kernel: X is packed once per kernel and each kernel opens its own parallel
region. :func:`find_horizontal` finds the planned blocks that are such a MatMul plus an
element-wise epilogue (its output read only inside the block) and share X; the planner makes
one block of kind ``"horizontal"`` of them (:mod:`compiler_core.planner.beyond`) and the code
generator one ``sgemm`` on the weights concatenated at compile time
(:mod:`compiler_core.codegen.horizontal`), each epilogue running on its columns per row tile.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.ir.ecg import ECG, is_constant, value_shape
from compiler_core.planner.blocks import BlockGraph


@dataclass(frozen=True)
class Horizontal:
    """``x``: the shared input ``[..., M, K]``; ``matmuls``: the sibling MatMul node indices
    (node order); ``groups``: each sibling's node indices (its MatMul and epilogue)."""

    x: ir.Value
    matmuls: tuple[int, ...]
    groups: tuple[tuple[int, ...], ...]

    @property
    def nodes(self) -> tuple[int, ...]:
        return tuple(sorted(i for g in self.groups for i in g))

    @property
    def floor_blocks(self) -> int:
        """Kernels the floor needs: one per MatMul."""
        return len(self.matmuls)


def _sibling(ecg: ECG, bg: BlockGraph, i: int, x: ir.Value) -> tuple[int, ...] | None:
    """The members of MatMul ``i``'s block when it is ``MatMul(x, W)`` (W constant 2-D float)
    followed only by element-wise operators of its output's shape, its output read inside."""
    node = ecg.nodes[i]
    if node.op_type != "MatMul" or node.inputs[0] is not x or len(node.inputs) != 2:
        return None
    w, y = node.inputs[1], node.outputs[0]
    if w is None or not is_constant(w) or w.const_value is None or w.shape is None:
        return None
    if len(value_shape(w)) != 2 or w.dtype != ir.DataType.FLOAT:
        return None
    g = bg.group_of[i]
    if g in bg.special:
        return None
    members = bg.sorted_members(g)
    if y in ecg.graph_outputs or any(bg.group_of[c] != g for c in ecg.value_consumers.get(y, [])):
        return None
    shape = value_shape(y)
    for m in members:
        if m == i:
            continue
        n = ecg.nodes[m]
        if m < i or ecg.info[m].mapping_type.value not in ("One-to-One", "One-to-Many"):
            return None
        if any(o is None or o.shape is None or value_shape(o) != shape
               or o.dtype != ir.DataType.FLOAT for o in n.outputs):
            return None
    return tuple(members)


def find_horizontal(ecg: ECG, bg: BlockGraph) -> list[Horizontal]:
    """Sets of at least two sibling blocks (see :func:`_sibling`) per shared input."""
    found = []
    seen: set[int] = set()
    for i, node in enumerate(ecg.nodes):
        if node.op_type != "MatMul" or i in seen or node.inputs[0] is None:
            continue
        x = node.inputs[0]
        if x.dtype != ir.DataType.FLOAT or x.shape is None or len(value_shape(x)) < 2:
            continue
        sibs: list[tuple[int, tuple[int, ...]]] = []
        k = value_shape(x)[-1]
        for c in sorted(set(ecg.value_consumers.get(x, []))):
            members = _sibling(ecg, bg, c, x)
            if members is not None and value_shape(ecg.nodes[c].inputs[1])[0] == k:
                sibs.append((c, members))
                seen.add(c)
        # siblings are independent: none reads what another one computes
        owner = {m: c for c, members in sibs for m in members}
        sibs = [(c, members) for c, members in sibs
                if all(owner.get(p, c) == c for m in members for p in ecg.producers[m])]
        if len(sibs) >= 2:
            found.append(Horizontal(x, tuple(c for c, _ in sibs), tuple(m for _, m in sibs)))
    return found

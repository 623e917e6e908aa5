"""What a set of nodes reads and writes: one block's boundary, for every stage that asks.

The planner's constraint check (inputs a kernel keeps open), its cost model (bytes moved),
the plan report (each block's tensors) and code generation (which values get pointers) all call
:func:`boundary`, so they agree on what a fused block is.

Semantics [ours]: a constant a kernel never reads is not an input. Shape, axes, pads and
scales tensors (the operator row's ``const_inputs``) are consumed when the C is generated, and
one-element constants feeding an element-wise or index operator are inlined as C literals;
both are *parameters*. Everything else produced outside the block and read by a member is an
*input* (graph inputs, other blocks' outputs, weights).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.ir.ecg import ECG, is_constant, value_shape
from compiler_core.ir.ops import lookup


@dataclass(frozen=True)
class Boundary:
    """The tensors of one block (``ir.Value`` objects; each list without duplicates).

    ``inputs``: produced outside the block and read by the kernel, in the order members first
    read them (node order, then input position); weights included (see :attr:`weights`).
    ``params``: constants only needed at compile time (never read by the kernel).
    ``outputs``: produced inside and read by a node outside or graph outputs (written to
    memory), in node order then output position. ``internal``: produced inside and read only
    inside (or by nobody): intermediate results (IRS) the block removes; code generation may
    still keep some in a scratch buffer.
    """

    inputs: tuple[ir.Value, ...]
    params: tuple[ir.Value, ...]
    outputs: tuple[ir.Value, ...]
    internal: tuple[ir.Value, ...]

    @property
    def weights(self) -> tuple[ir.Value, ...]:
        """The constant tensors among :attr:`inputs` (read element by element)."""
        return tuple(v for v in self.inputs if is_constant(v))


def compile_time_use(node: ir.Node, pos: int, value: ir.Value) -> bool:
    """True when ``node`` consumes its input ``pos`` (= ``value``) when the C is generated
    instead of reading it at run time: a constant at one of the row's ``const_inputs``, or a
    one-element constant of an operator without an anchor (inlined as a literal)."""
    if not is_constant(value):
        return False
    row = lookup(node.domain, node.op_type)
    if row is not None and pos in row.const_inputs:
        return True
    if row is not None and row.anchor is not None:
        return False  # anchors read their operands through pointers
    return value.const_value is not None and math.prod(value_shape(value)) == 1


def boundary(ecg: ECG, members: Collection[int]) -> Boundary:
    """The boundary of the block made of ``members`` (node indices into ``ecg.nodes``; any
    order, they are visited in topological order)."""
    order = sorted(members)
    inside = set(order)
    produced = {v for i in order for v in ecg.nodes[i].outputs}
    inputs: dict[ir.Value, None] = {}
    params: dict[ir.Value, None] = {}
    outputs: list[ir.Value] = []
    internal: list[ir.Value] = []
    for i in order:
        node = ecg.nodes[i]
        for pos, v in enumerate(node.inputs):
            if v is None or v in produced or v in inputs:
                continue
            if is_constant(v) and compile_time_use(node, pos, v):
                params.setdefault(v, None)
            else:
                inputs[v] = None
        for v in node.outputs:
            if v in ecg.graph_outputs or not inside.issuperset(ecg.value_consumers[v]):
                outputs.append(v)
            else:
                internal.append(v)
    return Boundary(
        inputs=tuple(inputs),
        params=tuple(v for v in params if v not in inputs),
        outputs=tuple(outputs),
        internal=tuple(internal),
    )

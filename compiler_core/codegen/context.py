"""What one block's code generation knows: its nodes, which values have buffers, names."""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx_ir as ir

from compiler_core.codegen.cnames import Names
from compiler_core.codegen.expr import Buffer, ExprGen
from compiler_core.codegen.ops import emit_node
from compiler_core.ir.ops import REGISTRY
from compiler_core.target.abi import Check

RECOMPUTE_LIMIT = 4  # a virtual value costing this much per element is worth a buffer when
# it is read several times


@dataclass
class KernelContext:
    """``producer``: in-block producing node of each value computed in the block;
    ``materialized``: values that get a buffer; ``buffers``: their C pointers (set when the
    kernel is emitted); ``workspace``: the anchor's per-thread scratch slots, if any (see
    :mod:`compiler_core.codegen.anchors.tiles`); ``checks``: the run-time checks its code
    makes (:mod:`compiler_core.codegen.checks`; empty for float code)."""

    names: Names
    nodes: list[ir.Node]
    producer: dict[ir.Value, ir.Node]
    materialized: set[ir.Value] = field(default_factory=set)
    buffers: dict[ir.Value, Buffer] = field(default_factory=dict)
    workspace: ir.Value | None = None
    checks: set[Check] = field(default_factory=set)
    # constants the anchor derives from its weights at compile time (e.g. weights packed for
    # a micro-kernel), by role; they are block inputs and go to weights.bin
    derived: dict[str, ir.Value] = field(default_factory=dict)
    # GEMM anchors may read a constant B packed at compile time (anchors/gemm_packed.py):
    # on x86-64 targets
    packed_gemm: bool = False

    def gen(self, indent: int) -> ExprGen:
        return ExprGen(self.names, self.buffers, self.producer, emit_node, indent, self.checks)

    def ptr(self, value: ir.Value) -> str:
        return self.buffers[value].ptr

    def in_buffer(self, v: ir.Value) -> bool:
        """``v`` is read from a buffer (materialized in the block, or computed outside it),
        not evaluated in place from its producer's inputs."""
        return v in self.materialized or v not in self.producer

    def only_reader(self, node: ir.Node, v: ir.Value) -> bool:
        """No node of the block but ``node`` reads ``v`` (an anchor may then replace ``v`` by
        a derived form of it, see ``replaces`` in anchors/base.py)."""
        return all(n is node for n in self.nodes if v in n.inputs)

    def cost(self, v: ir.Value) -> int:
        """Operations evaluating ``v`` from its producer costs per element, down to
        materialized values (index operators are free)."""
        total, stack, seen = 0, [v], set()
        while stack:
            u = stack.pop()
            if u in seen or u not in self.producer or (u is not v and u in self.materialized):
                continue
            seen.add(u)
            node = self.producer[u]
            total += REGISTRY[node.op_type].cost  # the row's cost: 0 index, 4 expensive
            stack += [w for w in node.inputs if w is not None]
        return total

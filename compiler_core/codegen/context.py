"""What one block's code generation knows: its nodes, which values have buffers, names."""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx_ir as ir

from compiler_core.codegen.cnames import Names
from compiler_core.codegen.expr import Buffer, ExprGen
from compiler_core.codegen.ops import emit_node


@dataclass
class KernelContext:
    """``producer``: in-block producing node of each value computed in the block;
    ``materialized``: values that get a buffer; ``buffers``: their C pointers (set when the
    kernel is emitted)."""

    names: Names
    nodes: list[ir.Node]
    producer: dict[ir.Value, ir.Node]
    materialized: set[ir.Value] = field(default_factory=set)
    buffers: dict[ir.Value, Buffer] = field(default_factory=dict)

    def gen(self, indent: int) -> ExprGen:
        return ExprGen(self.names, self.buffers, self.producer, emit_node, indent)

    def ptr(self, value: ir.Value) -> str:
        return self.buffers[value].ptr

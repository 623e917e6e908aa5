"""The per-operator emitter table (element-wise + index operators) and its dispatcher."""

from __future__ import annotations

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen import ops_elementwise, ops_index
from compiler_core.codegen.attrs import unsupported
from compiler_core.codegen.expr import ExprGen

EMITTERS = {**ops_elementwise.EMITTERS, **ops_index.EMITTERS}
INDEX_OPS = ops_index.INDEX_OPS
REPEATING_OPS = ops_index.REPEATING_OPS


def emit_node(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    """C expression of output ``pos`` of ``node`` at ``idx``."""
    fn = EMITTERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
    if fn is None:
        raise unsupported(node, "no code generator for this operator yet")
    return fn(g, node, pos, idx)


def check_supported(node: ir.Node, anchors) -> None:
    """Raise :class:`UnsupportedOperatorError` for a node no emitter handles."""
    if node.domain not in ("", "ai.onnx"):
        raise unsupported(node, "operator outside the default ONNX domain")
    if node.op_type not in EMITTERS and node.op_type not in anchors:
        raise unsupported(node, "no code generator for this operator yet")

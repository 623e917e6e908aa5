"""The element-wise and index emitters, looked up from the operators' registry rows, and
their dispatcher.

A row names its emitter ``"module:function"`` relative to this package (the registry sits
below code generation and never imports it); :data:`EMITTERS` resolves them once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import unsupported
from compiler_core.codegen.expr import ExprGen
from compiler_core.ir.ops import ONNX_DOMAINS, specs

Emitter = Callable[[ExprGen, ir.Node, int, ix.Index], str]


def resolve(target: str, package: str = "compiler_core.codegen"):
    """The object a registry reference ``"module:name"`` (relative to ``package``) names."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(f"{package}.{module}"), name)


EMITTERS: dict[str, Emitter] = {r.name: resolve(r.emitter) for r in specs() if r.emitter}
# Operators that only move data (never worth a scratch buffer of their own).
INDEX_OPS = frozenset(r.name for r in specs() if r.index)
# Index operators reading an input element several times (a costly input is worth a buffer).
REPEATING_OPS = frozenset(r.name for r in specs() if r.repeats)


def emit_node(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    """C expression of output ``pos`` of ``node`` at ``idx``."""
    fn = EMITTERS.get(node.op_type) if node.domain in ONNX_DOMAINS else None
    if fn is None:
        raise unsupported(node, "no code generator for this operator yet")
    return fn(g, node, pos, idx)


def check_supported(node: ir.Node, anchors) -> None:
    """Raise :class:`UnsupportedOperatorError` for a node no emitter handles."""
    if node.domain not in ONNX_DOMAINS:
        raise unsupported(node, "operator outside the default ONNX domain")
    if node.op_type not in EMITTERS and node.op_type not in anchors:
        raise unsupported(node, "no code generator for this operator yet")

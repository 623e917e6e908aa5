"""The operator registry: one :class:`OpSpec` row per ONNX operator, and its lookups.

Rows live in per-family modules (``elementwise``, ``reduce``, ``linear``, ``layout``,
``opaque``); every stage of the compiler asks this registry instead of keeping its own table.
Adding an operator is one row in the module of its family (see ``spec.py`` for the fields),
plus a test. Only the default ONNX domain has rows (:data:`ONNX_DOMAINS`); an operator of any
other domain, or one without a row, is Opaque, has no algebraic properties and no code
generator.
"""

from __future__ import annotations

from collections.abc import Iterator

from compiler_core.ir.mapping import MappingType
from compiler_core.ir.ops import (
    activations,
    elementwise,
    indexing,
    layout,
    linear,
    opaque,
    reduce,
    selection,
)
from compiler_core.ir.ops.spec import ONNX_DOMAINS, AnchorRef, Flops, OpSpec, Prop, Rule


def _build() -> dict[str, OpSpec]:
    table: dict[str, OpSpec] = {}
    for family in (elementwise, reduce, linear, layout, opaque, activations, indexing,
                   selection):
        for row in family.ROWS:
            if row.name in table:
                raise ValueError(f"operator {row.name} has two rows ({family.__name__})")
            table[row.name] = row
    return table


REGISTRY: dict[str, OpSpec] = _build()


def lookup(domain: str, op_type: str) -> OpSpec | None:
    """The row of an operator; ``None`` outside the default domain or without a row."""
    if domain not in ONNX_DOMAINS:
        return None
    return REGISTRY.get(op_type)


def specs() -> Iterator[OpSpec]:
    """Every row."""
    return iter(REGISTRY.values())


def op_rule(domain: str, op_type: str) -> tuple[Rule, MappingType]:
    """The mapping-type rule of an operator; unknown domains and operators are Opaque."""
    row = lookup(domain, op_type)
    if row is None:
        return Rule.FIXED, MappingType.OPAQUE
    return row.rule, row.mapping


def op_properties(domain: str, op_type: str) -> Prop:
    """Algebraic properties of an operator (paper §4.2); ``Prop.NONE`` cuts rewrite sub-graphs."""
    row = lookup(domain, op_type)
    return Prop.NONE if row is None else row.props


def is_elementwise(op_type: str) -> bool:
    """True for default-domain operators whose output element i depends only on input
    elements at index i (after broadcasting)."""
    row = REGISTRY.get(op_type)
    return row is not None and row.elementwise


def const_inputs(domain: str, op_type: str) -> tuple[int, ...]:
    """Input positions read at compile time (shape, axes, pads…), never by the kernel."""
    row = lookup(domain, op_type)
    return () if row is None else row.const_inputs


__all__ = [
    "ONNX_DOMAINS",
    "REGISTRY",
    "AnchorRef",
    "Flops",
    "OpSpec",
    "Prop",
    "Rule",
    "const_inputs",
    "is_elementwise",
    "lookup",
    "op_properties",
    "op_rule",
    "specs",
]

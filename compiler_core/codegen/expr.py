"""The index-expression layer: "value v at multi-index idx" as a C expression (paper §4.4).

Inside a block every value is MATERIALIZED (it has a buffer: block inputs, weights, block
outputs, the anchor's outputs, scratch values) or VIRTUAL (computed on the fly from its inputs'
expressions by the emitter of its producer, see :mod:`compiler_core.codegen.ops`). One
:class:`ExprGen` builds the body of one loop nest: each value at each index becomes one local
variable, generated once (common sub-expressions are shared), so ``Transpose``, ``Reshape`` and
friends cost only index arithmetic and no memory traffic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.c.affine import Affine
from compiler_core.codegen.c.stmt import Decl
from compiler_core.codegen.checks import flag_line
from compiler_core.codegen.cnames import CType, Names, ctype_of, literal
from compiler_core.ir.ecg import value_shape
from compiler_core.target.abi import Check

_LOCAL = re.compile(r"t[0-9]+")


@dataclass(frozen=True)
class Buffer:
    """A materialized value: ``ptr`` is a C pointer variable of the kernel."""

    ptr: str
    shape: tuple[int, ...]
    ctype: CType


def declare_buffers(
    names: Names,
    pointers: dict[ir.Value, tuple[str, bool]],
    inputs: list[ir.Value] | tuple[ir.Value, ...],
    outputs: list[ir.Value] | tuple[ir.Value, ...],
    scratch: list[ir.Value] | tuple[ir.Value, ...],
) -> tuple[list[Decl], dict[ir.Value, Buffer]]:
    """A kernel's pointer declarations, one ``T* restrict p = (T*)(addr);`` per buffer in the
    order inputs, outputs, scratch (``pointers[v]`` = (C address, writable); inputs and
    non-writable values are ``const``), and the :class:`Buffer` each value became."""
    decls: list[Decl] = []
    buffers: dict[ir.Value, Buffer] = {}
    for v in [*inputs, *outputs, *scratch]:
        ct = ctype_of(v)
        p = names.fresh("p")
        addr, writable = pointers[v]
        qual = "" if writable and v not in inputs else "const "
        decls.append(Decl(f"{qual}{ct.c}* restrict", p, f"({qual}{ct.c}*)({addr})", const=False))
        buffers[v] = Buffer(p, value_shape(v), ct)
    return decls, buffers


class ExprGen:
    """Generates the statements of one loop body.

    ``buffers``: materialized values of the block; ``producer``: in-block producing node of each
    virtual value; ``emit_node(gen, node, out_pos, idx)`` returns the C expression of
    ``node.outputs[out_pos]`` at ``idx``. ``reads`` logs every buffer read (value, index), which
    lets the kernel builder check that an epilogue reads the anchor element-aligned.
    ``checks``: the kernel's set of run-time checks (shared by its generators), which
    :meth:`check` adds to.
    """

    def __init__(
        self,
        names: Names,
        buffers: dict[ir.Value, Buffer],
        producer: dict[ir.Value, ir.Node],
        emit_node: Callable[[ExprGen, ir.Node, int, ix.Index], str],
        indent: int = 0,
        checks: set[Check] | None = None,
    ) -> None:
        self.names = names
        self.buffers = buffers
        self.producer = producer
        self._emit_node = emit_node
        self.lines: list[str] = []
        self.indent = indent
        self._scopes: list[dict[tuple, str]] = [{}]
        self.reads: list[tuple[ir.Value, ix.Index]] = []
        self._types: dict[str, str] = {}
        self.checks: set[Check] = set() if checks is None else checks

    # -- statements ---------------------------------------------------------------------
    def line(self, text: str) -> None:
        self.lines.append("    " * self.indent + text)

    def temp(self, ctype: CType, expr: str) -> str:
        name = self.names.fresh("t")
        self.line(f"const {ctype.c} {name} = {expr};")
        self._types[name] = ctype.c
        return name

    def _named(self, ctype: CType, expr: str) -> str:
        """``expr`` itself when it is already a local of the right type (index operators
        return their input's variable), else a new local holding it."""
        if _LOCAL.fullmatch(expr) and self._types.get(expr) == ctype.c:
            return expr
        return self.temp(ctype, expr)

    def check(self, cond: str, check: Check) -> None:
        """Set ``check``'s bit in the kernel's error flag when the C condition ``cond`` holds
        (see :mod:`compiler_core.codegen.checks`)."""
        self.line(flag_line(cond, check))
        self.checks.add(check)

    def declare(self, ctype: CType) -> str:
        name = self.names.fresh("t")
        self.line(f"{ctype.c} {name};")
        return name

    def table(self, ctype: CType, values) -> str:
        """A ``static const`` array of compile-time ``values`` (declared once per scope)."""
        vals = tuple(values)
        key = ("table", ctype.c, vals)
        hit = self._cached(key)
        if hit is not None:
            return hit
        name = self.names.fresh("tab")
        items = ", ".join(literal(v, ctype) if ctype.is_float else str(int(v)) for v in vals)
        self.line(f"static const {ctype.c} {name}[{len(vals)}] = {{{items}}};")
        self._scopes[-1][key] = name
        return name

    def open_scope(self, header: str) -> None:
        """``header`` is e.g. ``if (i3 < 4) {``; temps made inside stay inside."""
        self.line(header)
        self.indent += 1
        self._scopes.append({})

    def close_scope(self, trailer: str = "}") -> None:
        self._scopes.pop()
        self.indent -= 1
        self.line(trailer)

    def _cached(self, key: tuple) -> str | None:
        for scope in reversed(self._scopes):
            if key in scope:
                return scope[key]
        return None

    # -- values -------------------------------------------------------------------------
    def at(self, value: ir.Value, idx: ix.Index) -> str:
        """C expression (a literal or a local variable) of ``value`` at ``idx``."""
        shape = value_shape(value)
        assert len(idx) == len(shape), (value.name, idx, shape)
        idx = _canonical(idx, shape)
        const = scalar_constant(value)
        if const is not None:
            return const
        key = (id(value), idx)
        hit = self._cached(key)
        if hit is not None:
            return hit
        ct = ctype_of(value)
        if value in self.buffers:
            buf = self.buffers[value]
            self.reads.append((value, idx))
            name = self.temp(ct, f"{buf.ptr}[{ix.linear(idx, buf.shape)}]")
        else:
            node = self.producer[value]
            pos = list(node.outputs).index(value)
            name = self._named(ct, self._emit_node(self, node, pos, idx))
        self._scopes[-1][key] = name
        return name

    def compute(self, value: ir.Value, idx: ix.Index) -> str:
        """Like :meth:`at` but evaluates ``value`` from its producer even if it has a buffer
        (used to fill that buffer)."""
        node = self.producer[value]
        pos = list(node.outputs).index(value)
        name = self.temp(ctype_of(value), self._emit_node(self, node, pos, idx))
        shape = value_shape(value)
        key = (id(value), _canonical(idx, shape))
        self._scopes[-1][key] = name
        return name

    def at_broadcast(self, value: ir.Value, idx: ix.Index, out_shape) -> str:
        """``value`` read with numpy broadcasting at ``idx`` of ``out_shape``."""
        return self.at(value, ix.broadcast(idx, value_shape(value), out_shape))


def _canonical(idx, shape) -> ix.Index:
    """``idx`` as affine expressions, 0 on the axes of size 1 (the key of a cached read)."""
    return tuple(ix.ZERO if d == 1 else Affine.of(i) for i, d in zip(idx, shape, strict=True))


def scalar_constant(value: ir.Value) -> str | None:
    """A C literal for a one-element constant (initializer or folded value), else ``None``."""
    tensor = value.const_value
    if tensor is None or math.prod(value_shape(value)) != 1:
        return None
    return literal(tensor.numpy().reshape(-1)[0], ctype_of(value))

"""Einsum: one loop nest over the output letters (parallel rows) around the summed letters,
accumulating the product of the operands; covers every form (matmul-like, batched, transpose,
diagonal, reduction, outer and inner products), ellipsis included.

The equation is parsed at compile time; a letter whose sizes disagree between operands is
refused (a size-1 ellipsis dimension broadcasts). The iteration count (the product of all
letters' sizes) is bounded by :data:`MAX_ITERATIONS` before any code is generated.
"""

from __future__ import annotations

import math
import string

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Decl, For, Stmt
from compiler_core.codegen.cnames import ctype_of, literal
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape

MAX_ITERATIONS = 1 << 40
_ELLIPSIS_LETTERS = "".join(c for c in string.ascii_uppercase + string.ascii_lowercase)


def parse(node: ir.Node, shapes: list[tuple[int, ...]]) -> tuple[list[str], str, dict[str, int]]:
    """(letters of each operand, letters of the output, size of each letter); ellipses are
    expanded into fresh upper-case-free letters."""
    eq = str(attr(node, "equation", "")).replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise unsupported(node, f"equation {eq!r} names {len(terms)} operands, not {len(shapes)}")
    used = set(eq)
    spare = [c for c in _ELLIPSIS_LETTERS if c not in used]
    ell_rank = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes,
                   strict=True) if "..." in t), default=0)
    ell = "".join(spare[:ell_rank])
    operands: list[str] = []
    sizes: dict[str, int] = {}
    for t, shape in zip(terms, shapes, strict=True):
        if "..." in t:
            own = len(shape) - len(t.replace("...", ""))
            t = t.replace("...", ell[ell_rank - own:] if own > 0 else "")
        if len(t) != len(shape) or not all(c.isalpha() for c in t):
            raise unsupported(node, f"term {t!r} for an operand of rank {len(shape)}")
        for c, d in zip(t, shape, strict=True):
            prev = sizes.get(c)
            if prev is None or prev == 1:
                sizes[c] = d
            elif d not in (1, prev):
                raise unsupported(node, f"letter {c!r} has sizes {prev} and {d}")
        operands.append(t)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        once = sorted(c for c in sizes if c not in ell and "".join(operands).count(c) == 1)
        out = ell + "".join(once)
    if len(set(out)) != len(out) or any(c not in sizes for c in out):
        raise unsupported(node, f"output term {out!r}")
    return operands, out, sizes


class EinsumAnchor:
    tiled_epilogue = False

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        if not ctype_of(node.outputs[0]).is_float:
            raise unsupported(node, "only float32 is supported")
        _, _, sizes = parse(node, [value_shape(v) for v in node.inputs])
        if math.prod(sizes.values()) > MAX_ITERATIONS:
            raise unsupported(node, f"{math.prod(sizes.values())} iterations")
        return set(node.inputs)

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        ins = list(node.inputs)
        shapes = [value_shape(v) for v in ins]
        terms, out, sizes = parse(node, shapes)
        y = node.outputs[0]
        summed = [c for c in sizes if c not in out]
        ct = ctype_of(y)
        work = math.prod(sizes[c] for c in summed)

        def body(idx: ix.Index) -> list[Stmt]:
            var = dict(zip(out, idx, strict=True))
            acc = ctx.names.fresh("a")
            loops = []
            for c in summed:
                var[c] = ctx.names.fresh("i")
                loops.append((var[c], sizes[c]))
            factors = []
            for v, t, s in zip(ins, terms, shapes, strict=True):
                pos = tuple("0" if d == 1 else var[c] for c, d in zip(t, s, strict=True))
                factors.append(f"{ctx.ptr(v)}[{ix.linear(pos, s)}]")
            nest: list[Stmt] = [Assign(acc, " * ".join(factors), "+=")]
            for i, n in reversed(loops):
                nest = [For(i, 0, n, nest)]
            return [
                Decl("float", acc, literal(0, ct), const=False),
                *nest,
                Assign(f"{ctx.ptr(y)}[{ix.linear(idx, value_shape(y))}]", acc),
            ]

        return render(row_nest(ctx.names, value_shape(y), body, inner=0,
                               work_per_element=max(work, 1)), 1)

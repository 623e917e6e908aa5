"""Resize with ``mode="cubic"`` (the other modes: :mod:`.ops_resize`, which this delegates to).

Per resized axis with input coordinate ``x`` (the same ``coordinate_transformation_mode``
maps as linear), the output reads the four inputs ``floor(x)-1 .. floor(x)+2`` (indices
clamped to the axis: edge padding, as the ONNX reference pads) with the cubic convolution
weights of ``r = x - floor(x)`` and ``A = cubic_coeff_a`` (default -0.75; Keys' kernel, the
formula ONNX Runtime and the ONNX reference share); ``exclude_outside=1`` zeroes the taps
outside the axis and renormalizes. Weights and indices are compile-time tables (every size is
static); k resized axes read 4^k inputs. ``antialias=1`` is refused.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen import ops_resize as base
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.cnames import ctype_of
from compiler_core.codegen.expr import ExprGen


def cubic_weights(r: float, a: float) -> list[float]:
    """Weights of the taps at distances ``1+r, r, 1-r, 2-r`` (``0 <= r < 1``)."""
    def near(d: float) -> float:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: float) -> float:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(1 + r), near(r), near(1 - r), far(2 - r)]


def emit_resize(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    if attr(node, "mode", "nearest") != "cubic":
        return base.emit_resize(g, node, pos, idx)
    ctm = attr(node, "coordinate_transformation_mode", "half_pixel")
    if ctm not in base.TRANSFORMS:
        raise unsupported(node, f"coordinate_transformation_mode={ctm!r}")
    if attr(node, "antialias", 0):
        raise unsupported(node, "antialias=1")
    x = node.inputs[0]
    if not ctype_of(x).is_float:
        raise unsupported(node, "cubic mode needs float32")
    a = float(attr(node, "cubic_coeff_a", -0.75))
    exclude = bool(attr(node, "exclude_outside", 0))
    ins, outs, scales = base._scales(node)
    src: list = []
    taps: list[tuple[int, list[str], list[str]]] = []  # (axis, 4 index exprs, 4 weight exprs)
    for ax, (n, m, s) in enumerate(zip(ins, outs, scales, strict=True)):
        if n == m and s == base.F(1.0):
            src.append(idx[ax])
            continue
        index_tabs: list[list[int]] = [[], [], [], []]
        weight_tabs: list[list] = [[], [], [], []]
        for i in range(m):
            c = float(base._coord(ctm, i, s, n, m))
            lo = math.floor(c)
            ws = cubic_weights(c - lo, a)
            pts = [lo - 1 + k for k in range(4)]
            if exclude:
                ws = [w if 0 <= p < n else 0.0 for w, p in zip(ws, pts, strict=True)]
                total = sum(ws)
                ws = [w / total for w in ws] if total else ws
            for k in range(4):
                index_tabs[k].append(min(max(pts[k], 0), n - 1))
                weight_tabs[k].append(np.float32(ws[k]))
        src.append("")
        taps.append((ax,
                     [base._index_expr(g, idx[ax], t, n, m) for t in index_tabs],
                     [base._weight_expr(g, idx[ax], t) for t in weight_tabs]))
    if not taps:
        return g.at(x, tuple(src))
    terms = []
    for combo in itertools.product(range(4), repeat=len(taps)):
        pos_idx = list(src)
        weights = []
        for (ax, ixs, wts), k in zip(taps, combo, strict=True):
            pos_idx[ax] = ixs[k]
            weights.append(wts[k])
        terms.append(" * ".join([*weights, g.at(x, tuple(pos_idx))]))
    return "(" + " + ".join(terms) + ")"

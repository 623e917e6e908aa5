"""Resize as an index operator (One-to-Many): every output element reads 1 (nearest) or up to
2^k (linear over k resized axes) input elements.

Index algebra, per axis with input size ``n``, output size ``m`` and scale ``s`` (given, or
``m/n`` from ``sizes``): the output index ``i`` maps to the input coordinate
``x = f(i)`` of ``coordinate_transformation_mode`` (asymmetric ``i/s``; half_pixel
``(i+0.5)/s - 0.5``; pytorch_half_pixel the same but 0 when ``m == 1``; align_corners
``i*(n-1)/(m-1)``; half_pixel_symmetric). Nearest reads ``clamp(round_mode(x), 0, n-1)``;
linear reads ``x1 = floor(clamp(x, 0, n-1))``, ``x2 = min(x1+1, n-1)`` with weights
``|x - x2|`` and ``|x - x1|`` (0.5 each when ``x1 == x2``) — exactly ONNX Runtime's float32
arithmetic, evaluated here at compile time since every size is static. The per-axis maps
become closed forms (``i / 2``) when one fits, else small ``static const`` tables.
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.attrs import attr, const_input, unsupported
from compiler_core.codegen.cnames import CType, ctype_of, float_literal
from compiler_core.codegen.expr import ExprGen
from compiler_core.ir.ecg import value_shape

F = np.float32
I64 = CType("int64_t", np.int64, "tensor(int64)", False)
F32C = CType("float", np.float32, "tensor(float)", True)

MODES = ("nearest", "linear")
TRANSFORMS = ("asymmetric", "half_pixel", "pytorch_half_pixel", "align_corners",
              "half_pixel_symmetric")
NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
LENGTH_MODES = ("align_corners", "pytorch_half_pixel")  # read the resized length


def _scales(node: ir.Node) -> tuple[list[int], list[int], list[float]]:
    """Input sizes, output sizes and float32 scales of every axis."""
    x, y = node.inputs[0], node.outputs[0]
    ins, outs = value_shape(x), value_shape(y)
    rank = len(ins)
    inputs = list(node.inputs) + [None] * 4
    scales = const_input(node, 2) if inputs[2] is not None else None
    sizes = const_input(node, 3) if inputs[3] is not None else None
    axes = attr(node, "axes") or list(range(rank))
    axes = [a + rank if a < 0 else a for a in axes]
    full = [F(1.0)] * rank
    if scales is not None and scales.size:
        for a, sc in zip(axes, scales.reshape(-1).tolist(), strict=True):
            full[a] = F(sc)
    elif sizes is not None and sizes.size:
        ratios = [F(F(sz) / F(ins[a])) for a, sz in zip(axes, sizes.reshape(-1).tolist(),
                                                         strict=True)]
        policy = attr(node, "keep_aspect_ratio_policy", "stretch")
        if policy in ("not_larger", "not_smaller"):  # one scale for all the given axes
            ratios = [(min if policy == "not_larger" else max)(ratios)] * len(ratios)
        elif policy != "stretch":
            raise unsupported(node, f"keep_aspect_ratio_policy={policy!r}")
        for a, r in zip(axes, ratios, strict=True):
            full[a] = r
    else:
        raise unsupported(node, "neither scales nor sizes is given")
    if attr(node, "coordinate_transformation_mode", "half_pixel") in LENGTH_MODES:
        for a in axes:
            if outs[a] != ins[a] and F(F(ins[a]) * full[a]) != F(outs[a]):
                # The transform uses the resized length: ONNX Runtime takes the output size,
                # the ONNX reference input*scale; they differ here, so refuse.
                raise unsupported(node, f"axis {a}: input*scale is not the output size, where "
                                        "ONNX Runtime and the ONNX reference disagree")
    return list(ins), list(outs), full


def _coord(mode: str, i: int, s: F, n: int, m: int) -> F:
    """Input coordinate of output index ``i`` (float32, as ONNX Runtime computes it)."""
    fi, fn, fm = F(i), F(n), F(m)
    if mode == "asymmetric":
        return F(fi / s)
    if mode == "half_pixel":
        return F(F(F(fi + F(0.5)) / s) - F(0.5))
    if mode == "pytorch_half_pixel":
        return F(F(F(fi + F(0.5)) / s) - F(0.5)) if m > 1 else F(0.0)
    if mode == "align_corners":
        return F(0.0) if m == 1 else F(F(fi * F(fn - F(1))) / F(fm - F(1)))
    # half_pixel_symmetric
    adjustment = F(fm / F(s * fn))
    center = F(fn / F(2))
    offset = F(center * F(F(1) - adjustment))
    return F(F(offset + F(F(fi + F(0.5)) / s)) - F(0.5))


def _nearest(mode: str, x: F) -> int:
    if mode == "floor":
        return int(np.floor(x))
    if mode == "ceil":
        return int(np.ceil(x))
    if mode == "round_prefer_floor" and x == F(int(x)) + F(0.5):
        return int(np.floor(x))
    return int(np.sign(x) * np.floor(np.abs(x) + 0.5))  # std::round: half away from zero


def _index_expr(g: ExprGen, i: str, table: list[int], n: int, m: int) -> str:
    """C expression of ``table[i]``: a closed form when one fits, else a static table."""
    if m == 1:
        return str(table[0])
    if all(t == k for k, t in enumerate(table)):
        return i
    if all(t == k * n // m for k, t in enumerate(table)):
        return f"({i} / {m // n})" if m % n == 0 else f"(({i}*{n}) / {m})"
    return f"{g.table(I64, table)}[{i}]"


def _weight_expr(g: ExprGen, i: str, weights: list) -> str:
    if all(w == weights[0] for w in weights):
        return float_literal(weights[0])
    return f"{g.table(F32C, weights)}[{i}]"


def emit_resize(g: ExprGen, node: ir.Node, pos: int, idx: ix.Index) -> str:
    mode = attr(node, "mode", "nearest")
    ctm = attr(node, "coordinate_transformation_mode", "half_pixel")
    nmode = attr(node, "nearest_mode", "round_prefer_floor")
    if mode not in MODES:
        raise unsupported(node, f"mode={mode!r} (nearest and linear are supported)")
    if ctm not in TRANSFORMS:
        raise unsupported(node, f"coordinate_transformation_mode={ctm!r}")
    if mode == "nearest" and nmode not in NEAREST:
        raise unsupported(node, f"nearest_mode={nmode!r}")
    if attr(node, "antialias", 0):
        raise unsupported(node, "antialias=1")
    x = node.inputs[0]
    ins, outs, scales = _scales(node)
    src: list[str] = []
    corners: list[tuple[str, str, str, str]] = []  # linear axes: (x1, x2, w1, w2)
    lin_axes: list[int] = []
    for a, (n, m, s) in enumerate(zip(ins, outs, scales, strict=True)):
        if n == m and s == F(1.0):
            src.append(idx[a])  # every transform maps i -> i when nothing is resized
            continue
        coords = [_coord(ctm, i, s, n, m) for i in range(m)]
        if mode == "nearest":
            table = [min(max(_nearest(nmode, c), 0), n - 1) for c in coords]
            src.append(_index_expr(g, idx[a], table, n, m))
            continue
        x1s, x2s, w1s, w2s = [], [], [], []  # w1 weighs x1 (= |x - x2|), w2 weighs x2
        for c in coords:
            c = F(max(F(0.0), min(c, F(n - 1))))
            x1 = min(int(c), n - 1)
            x2 = min(x1 + 1, n - 1)
            w1, w2 = (F(0.5), F(0.5)) if x1 == x2 else (F(abs(c - F(x2))), F(abs(c - F(x1))))
            x1s.append(x1)
            x2s.append(x2)
            w1s.append(w1)
            w2s.append(w2)
        lin_axes.append(a)
        src.append("")
        corners.append((
            _index_expr(g, idx[a], x1s, n, m),
            _index_expr(g, idx[a], x2s, n, m),
            _weight_expr(g, idx[a], w1s),
            _weight_expr(g, idx[a], w2s),
        ))
    if not lin_axes:
        return g.at(x, tuple(src))
    if not ctype_of(x).is_float:
        raise unsupported(node, "linear mode needs float32")
    terms = []
    last = len(lin_axes) - 1
    for bits in range(1 << len(lin_axes)):  # the last axis varies fastest, as in ORT's sum
        pos_idx = list(src)
        weights = []
        for k, a in enumerate(lin_axes):
            x1, x2, w1, w2 = corners[k]
            hi = bits >> (last - k) & 1
            pos_idx[a] = x2 if hi else x1
            weights.append(w2 if hi else w1)
        terms.append(" * ".join([*weights[::-1], g.at(x, tuple(pos_idx))]))
    return "(" + " + ".join(terms) + ")"


"""Index arithmetic on C expressions: multi-indices are tuples of C expression strings.

Small helpers simplify constant terms so generated code stays readable
(``i0*768 + i1`` rather than ``((i0)*(768))+((i1)*(1))+0``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

Index = tuple[str, ...]


def _int(s: str) -> int | None:
    try:
        return int(s)
    except ValueError:
        return None


def add(a: str, b: str | int) -> str:
    b = str(b)
    ia, ib = _int(a), _int(b)
    if ia is not None and ib is not None:
        return str(ia + ib)
    if ib == 0:
        return a
    if ia == 0:
        return b
    if ib is not None and ib < 0:
        return f"({a} - {-ib})"
    return f"({a} + {b})"


def _atomic(a: str) -> bool:
    """True when ``a`` binds tighter than ``*`` (a name, a number, a call or ``(...)``)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+", a):
        return True
    start = a.find("(")
    if start < 0 or not a.endswith(")") or not re.fullmatch(r"[A-Za-z0-9_]*", a[:start]):
        return False
    depth = 0
    for k, ch in enumerate(a[start:], start):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return k == len(a) - 1
    return False


def paren(a: str) -> str:
    return a if _atomic(a) else f"({a})"


def mul(a: str, c: int) -> str:
    ia = _int(a)
    if ia is not None:
        return str(ia * c)
    if c == 0:
        return "0"
    if c == 1:
        return a
    return f"{paren(a)}*{c}" if c > 0 else f"({paren(a)}*({c}))"


def strides(shape: Sequence[int]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def linear(idx: Index, shape: Sequence[int]) -> str:
    """Row-major offset of ``idx`` in a contiguous tensor of ``shape``."""
    assert len(idx) == len(shape), (idx, shape)
    terms = [mul(i, s) for i, s, d in zip(idx, strides(shape), shape, strict=True) if d != 1]
    terms = [t for t in terms if t != "0"]
    if not terms:
        return "0"
    out = terms[0]
    for t in terms[1:]:
        out = f"{out} + {t}"
    return out


def unravel(flat: str, shape: Sequence[int]) -> Index:
    """Multi-index of the row-major offset ``flat`` in ``shape``."""
    out = []
    st = strides(shape)
    for d, s in zip(shape, st, strict=True):
        if d == 1:
            out.append("0")
            continue
        q = flat if s == 1 else f"({paren(flat)} / {s})"
        out.append(q if s * d >= math.prod(shape) else f"({paren(q)} % {d})")
    return tuple(out)


def broadcast(idx: Index, in_shape: Sequence[int], out_shape: Sequence[int]) -> Index:
    """The index into ``in_shape`` read by numpy broadcasting at ``idx`` of ``out_shape``."""
    lead = len(out_shape) - len(in_shape)
    assert lead >= 0, (in_shape, out_shape)
    return tuple("0" if d == 1 else idx[lead + k] for k, d in enumerate(in_shape))


def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        dims = {s[k - rank + len(s)] for s in shapes if k - rank + len(s) >= 0} - {1}
        assert len(dims) <= 1, shapes
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def reshape(idx: Index, out_shape: Sequence[int], in_shape: Sequence[int]) -> Index:
    """The index into ``in_shape`` holding element ``idx`` of its reshape to ``out_shape``.

    Dimensions are matched in groups of equal products (like numpy's copy-free reshape check),
    so ``[1,128,768] -> [1,128,12,64]`` costs one multiply-add instead of a full unravel.
    """
    if 0 in out_shape or 0 in in_shape:
        return ("0",) * len(in_shape)  # an empty tensor: no element is ever read
    out_nz = [(k, d) for k, d in enumerate(out_shape) if d != 1]
    in_nz = [(k, d) for k, d in enumerate(in_shape) if d != 1]
    res = ["0"] * len(in_shape)
    a = b = 0
    while a < len(out_nz) or b < len(in_nz):
        ga, gb = [out_nz[a]], [in_nz[b]]
        a, b = a + 1, b + 1
        pa, pb = ga[0][1], gb[0][1]
        while pa != pb:
            if pa < pb:
                ga.append(out_nz[a])
                pa *= out_nz[a][1]
                a += 1
            else:
                gb.append(in_nz[b])
                pb *= in_nz[b][1]
                b += 1
        if len(ga) == 1 and len(gb) == 1:
            res[gb[0][0]] = idx[ga[0][0]]
            continue
        flat = linear(tuple(idx[k] for k, _ in ga), [d for _, d in ga])
        parts = unravel(flat, [d for _, d in gb])
        for (k, _), p in zip(gb, parts, strict=True):
            res[k] = p
    return tuple(res)

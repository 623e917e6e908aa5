"""Index arithmetic: a multi-index is a tuple of affine expressions
(:class:`~compiler_core.codegen.c.affine.Affine`), printed to C only where it is used.

``linear(("i0", "i1"), (128, 768))`` is ``i0*768 + i1``; a slice's ``start + step*i`` stays
``{i: step} + start`` and folds into the stride arithmetic of the read it feeds. Division and
remainder (unravelling a flat offset) are opaque atoms (``(r0 / 12)``) of the affine form.
Emitters may pass plain ints and generator-made names; :meth:`Affine.of` takes both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from compiler_core.codegen.c.affine import Affine, atom

Index = tuple[Affine, ...]
IndexLike = Affine | int | str
ZERO = Affine()


def add(a: IndexLike, b: IndexLike) -> Affine:
    return Affine.of(a) + Affine.of(b)


def mul(a: IndexLike, c: int) -> Affine:
    return Affine.of(a) * c


def strides(shape: Sequence[int]) -> list[int]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= d
    return out[::-1]


def offset(idx: Sequence[IndexLike], shape: Sequence[int]) -> Affine:
    """Row-major offset of ``idx`` in a contiguous tensor of ``shape``."""
    assert len(idx) == len(shape), (idx, shape)
    out = ZERO
    for i, s, d in zip(idx, strides(shape), shape, strict=True):
        if d != 1:
            out = out + Affine.of(i) * s
    return out


def linear(idx: Sequence[IndexLike], shape: Sequence[int]) -> str:
    """C text of :func:`offset` (for a subscript)."""
    return offset(idx, shape).c()


def unravel(flat: IndexLike, shape: Sequence[int]) -> Index:
    """Multi-index of the row-major offset ``flat`` in ``shape``."""
    flat = Affine.of(flat)
    out: list[Affine] = []
    for d, s in zip(shape, strides(shape), strict=True):
        if d == 1:
            out.append(ZERO)
            continue
        q = flat if s == 1 else Affine.of(atom(f"{flat} / {s}"))
        out.append(q if s * d >= math.prod(shape) else Affine.of(atom(f"{q} % {d}")))
    return tuple(out)


def broadcast(idx: Sequence[IndexLike], in_shape: Sequence[int],
              out_shape: Sequence[int]) -> Index:
    """The index into ``in_shape`` read by numpy broadcasting at ``idx`` of ``out_shape``."""
    lead = len(out_shape) - len(in_shape)
    assert lead >= 0, (in_shape, out_shape)
    return tuple(ZERO if d == 1 else Affine.of(idx[lead + k]) for k, d in enumerate(in_shape))


def broadcast_shape(*shapes: Sequence[int]) -> tuple[int, ...]:
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(rank):
        dims = {s[k - rank + len(s)] for s in shapes if k - rank + len(s) >= 0} - {1}
        assert len(dims) <= 1, shapes
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def reshape(idx: Sequence[IndexLike], out_shape: Sequence[int],
            in_shape: Sequence[int]) -> Index:
    """The index into ``in_shape`` holding element ``idx`` of its reshape to ``out_shape``.

    Dimensions are matched in groups of equal products (like numpy's copy-free reshape check),
    so ``[1,128,768] -> [1,128,12,64]`` costs one multiply-add instead of a full unravel.
    """
    if 0 in out_shape or 0 in in_shape:
        return (ZERO,) * len(in_shape)  # an empty tensor: no element is ever read
    out_nz = [(k, d) for k, d in enumerate(out_shape) if d != 1]
    in_nz = [(k, d) for k, d in enumerate(in_shape) if d != 1]
    res: list[Affine] = [ZERO] * len(in_shape)
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
            res[gb[0][0]] = Affine.of(idx[ga[0][0]])
            continue
        flat = offset(tuple(idx[k] for k, _ in ga), [d for _, d in ga])
        parts = unravel(flat, [d for _, d in gb])
        for (k, _), p in zip(gb, parts, strict=True):
            res[k] = p
    return tuple(res)

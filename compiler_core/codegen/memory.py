"""Static memory plan: every intermediate tensor gets an offset in one arena, reused by
liveness (a buffer lives from the block writing it to the last block reading it; block scratch
lives during its block). Greedy by size, first fit between overlapping live ranges."""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 64


def align(n: int, a: int = ALIGN) -> int:
    return (n + a - 1) // a * a


@dataclass(frozen=True)
class Interval:
    key: object
    size: int
    first: int  # first block using it
    last: int  # last block using it


def plan_arena(intervals: list[Interval]) -> tuple[dict[object, int], int]:
    """Offsets per key and the arena size (peak bytes, 64-byte aligned)."""
    placed: list[tuple[int, int, Interval]] = []  # (offset, end, interval)
    offsets: dict[object, int] = {}
    peak = 0
    for iv in sorted(intervals, key=lambda i: (-i.size, i.first)):
        size = align(max(iv.size, 1))
        busy = sorted(
            (off, end) for off, end, o in placed if o.first <= iv.last and iv.first <= o.last
        )
        off = 0
        for b0, b1 in busy:
            if off + size <= b0:
                break
            off = max(off, b1)
        placed.append((off, off + size, iv))
        offsets[iv.key] = off
        peak = max(peak, off + size)
    return offsets, peak

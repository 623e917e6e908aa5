"""The constraint check of Listing 1 (paper: "excessive register spills", threshold unpublished).

[ours] A block is bounded by the number of distinct tensors its kernel reads from outside
(pointers and streams it keeps open: the inputs of :func:`compiler_core.ir.boundary.boundary`;
shape tensors and other compile-time parameters do not count) and by the largest number of intermediate values live at once when
its operators are evaluated in topological order (values a fused loop keeps in registers).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from compiler_core.ir.boundary import boundary
from compiler_core.ir.ecg import ECG


@dataclass(frozen=True)
class Constraints:
    """Limits of one fused block. ``max_inputs``: distinct tensors the kernel reads from outside
    (weights included, compile-time parameters not); ``max_live``: intermediate values live at once."""

    max_inputs: int = 32
    max_live: int = 16
    max_operators: int | None = None  # 1: no fusion at all (the ablation's baseline)


def max_live_values(ecg: ECG, members: Collection[int]) -> int:
    """Most intermediate values alive at once in topological evaluation of ``members``."""
    inside = members if isinstance(members, (set, frozenset)) else set(members)
    events: list[tuple[int, int]] = []
    for i in inside:
        for v in ecg.nodes[i].outputs:
            last = max((u for u in ecg.value_consumers[v] if u in inside), default=None)
            if last is not None:
                events.append((i, 1))
                events.append((last, -1))
    live = peak = 0
    for _, delta in sorted(events):
        live += delta
        peak = max(peak, live)
    return peak


def check_constraints(ecg: ECG, members: Collection[int], limits: Constraints) -> str | None:
    """``None`` when the block fits, else a reason such as ``"inputs 40 > 32"``."""
    if limits.max_operators is not None and len(members) > limits.max_operators:
        return f"operators {len(members)} > {limits.max_operators} (fusion off)"
    n_in = len(boundary(ecg, members).inputs)
    if n_in > limits.max_inputs:
        return f"inputs {n_in} > {limits.max_inputs}"
    live = max_live_values(ecg, members)
    if live > limits.max_live:
        return f"live values {live} > {limits.max_live}"
    return None

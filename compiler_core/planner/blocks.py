"""Fusion blocks under construction, kept acyclic as a quotient graph.

Every node starts in its own group. Merging two groups is legal only when no path of two or
more group edges connects them: otherwise the merged block would depend on itself through a
kernel outside it (a path that leaves the block and re-enters, shared/dnnfusion.md §4 "convex";
acyclicity of the block graph is the stronger condition code generation needs).

The check is local thanks to a topological order of the groups maintained under merges
(Pearce & Kelly, "A dynamic topological sort algorithm for directed acyclic graphs", 2006):
any path between two groups only visits groups ordered between them.
"""

from __future__ import annotations

from collections.abc import Iterable

from compiler_core.ir.ecg import ECG
from compiler_core.ir.mapping import MappingType


class BlockGraph:
    """Partition of ``ecg.nodes`` into groups with a maintained topological order.

    ``group_of[i]`` is the group id of node ``i``; ``members[g]`` its node indices;
    ``mtype[g]`` the accumulated mapping type; ``seeded[g]`` whether the group was formed by the
    planner (a node in an unseeded singleton group is still "unfused"); ``special[g]`` the
    pattern of a block below the mapping-type floor (:mod:`compiler_core.planner.beyond`).
    """

    def __init__(self, ecg: ECG) -> None:
        self.ecg = ecg
        n = len(ecg.nodes)
        self.group_of = list(range(n))
        self.members: dict[int, list[int]] = {i: [i] for i in range(n)}
        self.order: dict[int, int] = {i: i for i in range(n)}
        self.mtype: dict[int, MappingType] = {i: ecg.info[i].mapping_type for i in range(n)}
        self.seeded: dict[int, bool] = {i: False for i in range(n)}
        # groups below the mapping-type floor: group id -> the pattern the code generator
        # emits as one kernel (compiler_core.planner.beyond)
        self.special: dict[int, object] = {}

    # -- adjacency on groups -------------------------------------------------------------
    def succ_groups(self, g: int) -> set[int]:
        gof, cons = self.group_of, self.ecg.consumers
        return {gof[c] for i in self.members[g] for c in cons[i]} - {g}

    def pred_groups(self, g: int) -> set[int]:
        gof, prods = self.group_of, self.ecg.producers
        return {gof[p] for i in self.members[g] for p in prods[i]} - {g}

    # -- the acyclicity check ------------------------------------------------------------
    def _forward(self, start: int, stop: int) -> tuple[set[int], bool]:
        """Groups reachable from ``start`` (excluding the direct edge to ``stop``) with order
        below ``stop``'s; the flag says whether ``stop`` was reached through another group."""
        limit = self.order[stop]
        seen: set[int] = set()
        stack = [s for s in self.succ_groups(start) if s != stop and self.order[s] < limit]
        while stack:
            g = stack.pop()
            if g in seen:
                continue
            seen.add(g)
            for s in self.succ_groups(g):
                if s == stop:
                    return seen, True
                if s not in seen and self.order[s] < limit:
                    stack.append(s)
        return seen, False

    def _backward(self, start: int, stop: int) -> set[int]:
        """Groups ordered after ``stop`` from which ``start`` is reachable (without ``stop``)."""
        limit = self.order[stop]
        seen: set[int] = set()
        stack = [p for p in self.pred_groups(start) if p != stop and self.order[p] > limit]
        while stack:
            g = stack.pop()
            if g in seen:
                continue
            seen.add(g)
            stack.extend(
                p for p in self.pred_groups(g) if p not in seen and self.order[p] > limit
            )
        return seen

    def can_merge(self, a: int, b: int) -> bool:
        """True when merging groups ``a`` and ``b`` keeps the group graph acyclic."""
        if a == b:
            return True
        if self.order[a] > self.order[b]:
            a, b = b, a
        _, cyclic = self._forward(a, b)
        return not cyclic

    def merge(self, a: int, b: int, mtype: MappingType) -> int:
        """Merge group ``b`` into ``a`` (caller checked :meth:`can_merge`); returns ``a``."""
        if a == b:
            self.mtype[a] = mtype
            return a
        lo, hi = (a, b) if self.order[a] < self.order[b] else (b, a)
        forward, cyclic = self._forward(lo, hi)
        if cyclic:  # pragma: no cover - guarded by can_merge
            raise AssertionError("merge would create a cycle between blocks")
        backward = self._backward(hi, lo)
        slots = sorted(self.order[g] for g in (*backward, lo, hi, *forward))
        ordered = sorted(backward, key=self.order.__getitem__) + [a]
        ordered += sorted(forward, key=self.order.__getitem__)
        for g, slot in zip(ordered, slots, strict=False):
            self.order[g] = slot
        for i in self.members[b]:
            self.group_of[i] = a
        self.members[a].extend(self.members.pop(b))
        del self.order[b], self.mtype[b], self.seeded[b]
        self.mtype[a] = mtype
        return a

    # -- views ---------------------------------------------------------------------------
    def groups_in_order(self) -> list[int]:
        return sorted(self.members, key=self.order.__getitem__)

    def sorted_members(self, g: int) -> list[int]:
        return sorted(self.members[g])

    def is_unfused(self, i: int) -> bool:
        g = self.group_of[i]
        return not self.seeded[g] and len(self.members[g]) == 1

    def external_edges(self) -> Iterable[tuple[int, int]]:
        """Producer → consumer node pairs that cross between two groups, in topological order."""
        gof = self.group_of
        for i, cons in enumerate(self.ecg.consumers):
            for c in cons:
                if gof[i] != gof[c]:
                    yield i, c

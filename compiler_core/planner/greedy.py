"""Fusion plan generation (DNNFusion §4.3, Listing 1) with the project's decisions [ours].

1. Seed: the unfused One-to-One operator with the smallest intermediate result (ties: earlier in
   topological order).
2. Successors, recursively: Table 3 (block type, consumer type) → acyclicity → constraints →
   profitability for "profile" cells → absorb, update the block's type.
3. Predecessors, the same with (producer type, block type).
4. Steps 2-3 repeat until the block stops growing; then the next seed.

[ours] extensions, each marked where it happens: when no One-to-One seed is left, the other
unfused non-Opaque operators seed in the same order (otherwise a Reshape between two GEMMs, which
no One-to-One operator reaches, could never fuse); after seeding, adjacent blocks are merged where
the same checks allow; every edge left between blocks gets the reason of its refusal.

``prefer_epilogue`` (default on) [ours]: on a block's first growth pass its Many-to-Many
consumers wait until its predecessors have been tried. With the paper's successors-first order a
seed such as the Relu after a Conv takes the *next* Conv (O2O -> M2M is green), so the Relu
becomes that Conv's prologue; the code generator must then materialize the activated input
before im2col/GEMM packing, an extra pass over every activation. Trying predecessors first
makes it the epilogue of its own Conv, applied per output tile while in cache. The number of
blocks is the same (Inception-v2: 84 = floor either way); measured with
``python -m bench.latency``: Inception-v2 42.9 -> 37.2 ms, DenseNet-121 60.5 -> 56.8 ms.
On the producer side the same option keeps a Many-to-Many block from taking a prologue whose
result is read outside the block too, or that an unfused Many-to-Many operator upstream can
take as its epilogue (:meth:`GreedyPlanner._escaping_prologue`): ResNet-50's residual
Add + Relu became the next Conv's prologue (a pass over the sum, written either way, plus one
over the first Conv's output). Block counts are the same or lower (GPT-2 98 -> 87).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from compiler_core.ir.ecg import ECG
from compiler_core.ir.mapping import MappingType
from compiler_core.planner.blocks import BlockGraph
from compiler_core.planner.constraints import Constraints, check_constraints
from compiler_core.planner.cost import CostModel, Profitability
from compiler_core.planner.table3 import Decision, fusion_cell

O2O, OPAQUE = MappingType.ONE_TO_ONE, MappingType.OPAQUE
EPILOGUE_TYPES = (O2O, MappingType.REORGANIZE, MappingType.SHUFFLE)


@dataclass(frozen=True)
class Refusal:
    """Why two groups were not fused.

    ``code``: ``opaque`` | ``never_pair`` (a red cell of Table 3) | ``not_convex`` (a path
    between them through another block) | ``constraint`` | ``unprofitable`` (with both latency
    estimates in µs).
    """

    code: str
    detail: str
    fused_us: float | None = None
    separate_us: float | None = None
    source: str | None = None
    entry_id: int | None = None


@dataclass(frozen=True)
class ProfileDecision:
    """One "profile" cell the cost model decided during planning: node indices of the producer
    side ``first`` and the consumer side ``second``, and the answer."""

    first: tuple[int, ...]
    second: tuple[int, ...]
    fused: bool
    profitability: Profitability


@dataclass
class PlanStats:
    seeds: int = 0
    extra_seeds: int = 0  # non-One-to-One seeds [ours]
    block_merges: int = 0  # merges of whole blocks in the final pass [ours]
    profiled: int = 0  # "profile" cells evaluated by the cost model
    profiled_fused: int = 0
    profiled_measured: int = 0  # decided by an exact profiling-database entry
    profiled_nearest: int = 0  # decided by the entry of the nearest measured shapes


class GreedyPlanner:
    """Runs Listing 1 over an ECG; read the result from ``self.blocks`` after :meth:`run`."""

    def __init__(
        self,
        ecg: ECG,
        cost_model: CostModel,
        constraints: Constraints,
        *,
        prefer_epilogue: bool = True,
    ) -> None:
        self.prefer_epilogue = prefer_epilogue
        self.ecg = ecg
        self.cost = cost_model
        self.limits = constraints
        self.blocks = BlockGraph(ecg)
        self.stats = PlanStats()
        self.decisions: list[ProfileDecision] = []

    # -- the legality + profitability check ---------------------------------------------
    def check(self, first: int, second: int, *, count: bool = True) -> Refusal | None:
        """Can group ``first`` (producer side) fuse with group ``second`` (consumer side)?

        ``count``: add cost-model evaluations to ``stats`` (off for after-the-fact reasons).
        """
        bg = self.blocks
        t1, t2 = bg.mtype[first], bg.mtype[second]
        if OPAQUE in (t1, t2):
            return Refusal("opaque", "an Opaque operator never fuses")
        cell = fusion_cell(t1, t2)
        if cell.decision is Decision.NEVER:
            return Refusal("never_pair", f"{t1.short} -> {t2.short} is never fused (Table 3)")
        if not bg.can_merge(first, second):
            return Refusal("not_convex", "a path between the blocks runs through another block")
        members = set(bg.members[first]) | set(bg.members[second])
        problem = check_constraints(self.ecg, members, self.limits)
        if problem is not None:
            return Refusal("constraint", problem)
        if cell.decision is Decision.PROFILE:
            self.stats.profiled += count
            prof = self.cost.profitability(self.ecg, bg.members[first], bg.members[second])
            if count:
                self.decisions.append(ProfileDecision(
                    tuple(sorted(bg.members[first])), tuple(sorted(bg.members[second])),
                    prof.profitable, prof))
                self.stats.profiled_measured += prof.source == "measured"
                self.stats.profiled_nearest += prof.source == "nearest"
            if not prof.profitable:
                return Refusal(
                    "unprofitable",
                    f"{prof.source}: fused {prof.fused_us:.1f} us >= separate "
                    f"{prof.separate_us:.1f} us",
                    prof.fused_us,
                    prof.separate_us,
                    prof.source,
                    prof.entry_id,
                )
            self.stats.profiled_fused += count
        return None

    def _fuse(self, block: int, other: int, other_is_producer: bool) -> bool:
        first, second = (other, block) if other_is_producer else (block, other)
        if self.check(first, second) is not None:
            return False
        result = fusion_cell(self.blocks.mtype[first], self.blocks.mtype[second]).result
        assert result is not None
        self.blocks.merge(block, other, result)
        return True

    # -- Listing 1 -----------------------------------------------------------------------
    def _grow(self, g: int) -> None:
        bg, ecg, info = self.blocks, self.ecg, self.ecg.info
        # [ours] prefer_epilogue: on the first pass, Many-to-Many consumers wait until the
        # predecessors have been tried, so an element-wise chain between two anchors becomes
        # the epilogue of its producer rather than the prologue of its consumer.
        defer_anchors = self.prefer_epilogue
        grew = True
        while grew:
            grew = False
            for neighbours, producer_side in ((ecg.consumers, False), (ecg.producers, True)):
                heap = sorted({j for i in bg.members[g] for j in neighbours[i]})
                while heap:
                    j = heapq.heappop(heap)
                    if not bg.is_unfused(j) or bg.group_of[j] == g:
                        continue
                    if defer_anchors and not producer_side and (
                        info[j].mapping_type is MappingType.MANY_TO_MANY
                    ):
                        continue
                    if producer_side and self._escaping_prologue(g, j):
                        continue
                    if self._fuse(g, bg.group_of[j], producer_side):
                        grew = True
                        for k in neighbours[j]:
                            heapq.heappush(heap, k)
            if defer_anchors:
                defer_anchors, grew = False, True  # one more pass, anchors allowed

    def _escaping_prologue(self, g: int, j: int) -> bool:
        """[ours] prefer_epilogue, producer side: a Many-to-Many block does not take as its
        prologue an operator whose result is also read outside the block (or is a graph
        output). That result is written either way, so the prologue saves nothing, and the
        operator is left to a later seed, which can make it the epilogue of its own producer
        (ResNet-50's residual Add + Relu: read by the next Conv and by the next Add; as the
        next Conv's prologue it cost a pass over the sum plus one over the first Conv's
        output; as the epilogue of the Conv producing it, neither). Nor one that an unfused
        Many-to-Many operator upstream can take as its epilogue (:meth:`_epilogue_home`: the
        Relu between two Convs). The final merge pass still fuses it with the block when no
        other block took it."""
        if not self.prefer_epilogue or self.blocks.mtype[g] is not MappingType.MANY_TO_MANY:
            return False
        if self.ecg.info[j].mapping_type is MappingType.MANY_TO_MANY:
            return False
        node, inside = self.ecg.nodes[j], set(self.blocks.members[g])
        if any(v in self.ecg.graph_outputs for v in node.outputs) or any(
                c not in inside for c in self.ecg.consumers[j]):
            return True
        return self._epilogue_home(j, 4)

    def _epilogue_home(self, j: int, depth: int) -> bool:
        """An unfused Many-to-Many operator upstream of ``j`` through unfused One-to-One,
        Reorganize or Shuffle operators (up to ``depth`` of them; after a Many-to-Many block
        Table 3 fuses One-to-One and profiles the other two): a later seed can make ``j`` its
        epilogue."""
        for q in self.ecg.producers[j]:
            if not self.blocks.is_unfused(q):
                continue
            t = self.ecg.info[q].mapping_type
            if t is MappingType.MANY_TO_MANY:
                return True
            if depth > 0 and t in EPILOGUE_TYPES and self._epilogue_home(q, depth - 1):
                return True
        return False

    def _seed_and_grow(self, candidates: list[int]) -> int:
        bg, info = self.blocks, self.ecg.info
        count = 0
        for i in sorted(candidates, key=lambda k: (info[k].irs_bytes, k)):
            if not bg.is_unfused(i):
                continue
            g = bg.group_of[i]
            bg.seeded[g] = True
            count += 1
            self._grow(g)
        return count

    def _merge_blocks(self) -> None:
        """[ours] Merge adjacent blocks wherever the same checks allow, to a fixpoint."""
        bg = self.blocks
        merged = True
        while merged:
            merged = False
            for p, c in list(bg.external_edges()):
                gp, gc = bg.group_of[p], bg.group_of[c]
                if gp != gc and self._fuse(gp, gc, other_is_producer=False):
                    self.stats.block_merges += 1
                    merged = True

    def run(self) -> BlockGraph:
        info = self.ecg.info
        n = len(info)
        self.stats.seeds = self._seed_and_grow(
            [i for i in range(n) if info[i].mapping_type is O2O]
        )
        # [ours] second round: unfused non-Opaque operators of other types seed too.
        self.stats.extra_seeds = self._seed_and_grow(
            [i for i in range(n) if info[i].mapping_type is not OPAQUE]
        )
        for i in range(n):  # Opaque operators stay single-operator blocks
            if self.blocks.is_unfused(i):
                self.blocks.seeded[self.blocks.group_of[i]] = True
        self._merge_blocks()
        return self.blocks

    def edge_refusal(self, producer: int, consumer: int) -> Refusal:
        """Reason the edge ``producer → consumer`` (node indices) crosses two blocks."""
        gp, gc = self.blocks.group_of[producer], self.blocks.group_of[consumer]
        refusal = self.check(gp, gc, count=False)
        if refusal is None:  # pragma: no cover - the merge pass leaves no fusable edge
            return Refusal("not_attempted", "the planner did not consider this pair")
        return refusal

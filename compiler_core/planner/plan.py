"""The fusion plan: blocks, the reasons edges stay unfused, and the summary numbers.

``FusionPlan.to_dict()`` is the ``PLAN.json`` format (schema below, version 1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from compiler_core.ir.boundary import boundary
from compiler_core.ir.ecg import ECG, value_shape
from compiler_core.ir.mapping import MappingType
from compiler_core.planner.beyond import kind as special_kind
from compiler_core.planner.blocks import BlockGraph
from compiler_core.planner.greedy import GreedyPlanner, PlanStats, Refusal

PLAN_SCHEMA_VERSION = 1


@dataclass
class FusedBlock:
    """One fused block = one kernel (its :func:`~compiler_core.ir.boundary.boundary`).
    ``nodes``/``ops`` in topological order; ``inputs`` are the tensors its kernel reads from
    outside (weights included), ``params`` the constants only needed at compile time (shape,
    axes, pads tensors; one-element constants inlined as literals), ``outputs`` the tensors it
    writes (read by another block or graph outputs), ``removed`` the intermediate results (IRS)
    it keeps internal, ``removed_bytes`` their size in bytes. ``shapes[i]``: the static shapes
    of node ``nodes[i]``'s outputs (absent optional outputs left out). ``kind``: ``"fused"``
    (a block of the greedy planner) or a block below the mapping-type floor
    (:mod:`compiler_core.planner.beyond`): ``"attention"`` or ``"horizontal"``, or
    ``"concat_in_place"`` (a Concat whose producers write into its output: no kernel runs,
    ``output_bytes`` 0);
    ``floor_blocks``: the kernels the mapping-type floor counts for its operators (its
    Many-to-Many and Opaque operators: 3 for an attention block, one per GEMM for a
    horizontal block; such a block replaces them by one)."""

    id: int
    mapping_type: str
    nodes: list[str]
    ops: list[str]
    inputs: list[str]
    params: list[str]
    outputs: list[str]
    removed: list[str]
    removed_bytes: int
    output_bytes: int
    shapes: list[list[list[int]]] = field(default_factory=list)
    kind: str = "fused"
    floor_blocks: int = 0


@dataclass
class UnfusedEdge:
    """A producer → consumer edge between two blocks and why it was not fused."""

    producer: str
    consumer: str
    tensors: list[str]
    reason: str
    detail: str
    producer_block: int
    consumer_block: int
    fused_us: float | None = None
    separate_us: float | None = None
    source: str | None = None  # for "unprofitable": measured | nearest | analytic
    entry_id: int | None = None  # the profiling-database entry that decided, if any


@dataclass
class ProfileDecision:
    """A "profile" cell of Table 3 the cost model decided: the producer side ``first`` and the
    consumer side ``second`` (node names, topological order), their ops (``"MatMul | Relu"``),
    whether they fused, who decided (``source``: measured | nearest | analytic), both
    latencies in µs and the profiling-database entry (measured and nearest)."""

    first: list[str]
    second: list[str]
    ops: str
    fused: bool
    source: str
    fused_us: float
    separate_us: float
    entry_id: int | None = None


@dataclass
class FusionPlan:
    """Result of :func:`compiler_core.plan_model`.

    Node counts exclude Constant nodes. ``floor``: Many-to-Many plus Opaque operators after
    rewriting, the fewest blocks a plan respecting Table 3 can have. ``intermediate_bytes_*``:
    bytes written to memory by all kernels (every operator output before fusion, every block
    output after). Times in milliseconds.
    """

    model: str
    original_nodes: int
    rewritten_nodes: int
    floor: int
    blocks: list[FusedBlock]
    unfused_edges: list[UnfusedEdge]
    rewrites: dict[str, int]
    mapping_types: dict[str, int]
    intermediate_bytes_before: int
    intermediate_bytes_after: int
    stats: dict[str, int]
    options: dict[str, object]
    timings_ms: dict[str, float] = field(default_factory=dict)
    profile_decisions: list[ProfileDecision] = field(default_factory=list)
    device_class: str | None = None  # whose measurements decided the "profile" cells
    schema_version: int = PLAN_SCHEMA_VERSION

    @property
    def fused_blocks(self) -> int:
        """Blocks that run a kernel (a ``"concat_in_place"`` block runs none)."""
        return sum(b.kind != "concat_in_place" for b in self.blocks)

    @property
    def fusion_rate(self) -> float:
        """Original operators per fused block (paper §6)."""
        return self.original_nodes / max(1, self.fused_blocks)

    def reason_counts(self) -> list[tuple[str, int]]:
        """Unfused-edge reasons, most common first."""
        return Counter(e.reason for e in self.unfused_edges).most_common()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fused_blocks"] = self.fused_blocks
        d["fusion_rate"] = round(self.fusion_rate, 3)
        d["unfused_reasons"] = dict(self.reason_counts())
        return d


def node_name(ecg: ECG, i: int) -> str:
    node = ecg.nodes[i]
    return node.name or f"{node.op_type}_{i}"


def _names(values) -> list[str]:
    return list(dict.fromkeys(v.name or "" for v in values))


def collect_blocks(ecg: ECG, bg: BlockGraph) -> tuple[list[FusedBlock], dict[int, int]]:
    """Blocks in topological order with their boundary tensors; returns the block list and a
    map from group id to block id."""
    blocks: list[FusedBlock] = []
    block_id: dict[int, int] = {}
    for g in bg.groups_in_order():
        members = bg.sorted_members(g)
        b = boundary(ecg, members)
        block_id[g] = len(blocks)
        special = bg.special.get(g)
        blocks.append(
            FusedBlock(
                id=len(blocks),
                mapping_type=bg.mtype[g].value,
                nodes=[node_name(ecg, i) for i in members],
                ops=[ecg.nodes[i].op_type for i in members],
                inputs=_names(b.inputs),
                params=_names(b.params),
                outputs=_names(b.outputs),
                removed=_names(b.internal),
                removed_bytes=sum(ecg.value_bytes[v] for v in b.internal),
                output_bytes=(0 if special_kind(special) == "concat_in_place" else
                              sum(ecg.value_bytes[v] for v in b.outputs)),
                shapes=[[list(value_shape(v)) for v in ecg.nodes[i].outputs
                         if v is not None and v.shape is not None] for i in members],
                kind="fused" if special is None else special_kind(special),
                floor_blocks=(special.floor_blocks if special is not None else
                              sum(ecg.info[i].mapping_type in _FLOOR_TYPES for i in members)),
            )
        )
    return blocks, block_id


_FLOOR_TYPES = (MappingType.MANY_TO_MANY, MappingType.OPAQUE)


def collect_unfused_edges(
    ecg: ECG, planner: GreedyPlanner, block_id: dict[int, int]
) -> list[UnfusedEdge]:
    bg = planner.blocks
    edges = []
    for p, c in bg.external_edges():
        consumer_inputs = {id(v) for v in ecg.nodes[c].inputs if v is not None}
        tensors = [v.name or "" for v in ecg.nodes[p].outputs if id(v) in consumer_inputs]
        specials = [bg.special.get(bg.group_of[x]) for x in (p, c)]
        if any(sp is not None for sp in specials):
            k = next(special_kind(sp) for sp in specials if sp is not None)
            r = Refusal("beyond_floor", f"an edge of a block of kind {k!r}: its kernel reads "
                                        "and writes whole tensors")
            if k == "concat_in_place":
                r = Refusal("beyond_floor", "a Concat in place: its inputs are written "
                                            "straight into its output, which is read from there")
        else:
            r = planner.edge_refusal(p, c)
        edges.append(
            UnfusedEdge(
                producer=node_name(ecg, p),
                consumer=node_name(ecg, c),
                tensors=tensors,
                reason=r.code,
                detail=r.detail,
                producer_block=block_id[bg.group_of[p]],
                consumer_block=block_id[bg.group_of[c]],
                fused_us=None if r.fused_us is None else round(r.fused_us, 3),
                separate_us=None if r.separate_us is None else round(r.separate_us, 3),
                source=r.source,
                entry_id=r.entry_id,
            )
        )
    return edges


def collect_profile_decisions(ecg: ECG, planner: GreedyPlanner) -> list[ProfileDecision]:
    out = []
    for d in planner.decisions:
        p = d.profitability
        out.append(ProfileDecision(
            first=[node_name(ecg, i) for i in d.first],
            second=[node_name(ecg, i) for i in d.second],
            ops=" | ".join("+".join(ecg.nodes[i].op_type for i in side)
                           for side in (d.first, d.second)),
            fused=d.fused,
            source=p.source,
            fused_us=round(p.fused_us, 3),
            separate_us=round(p.separate_us, 3),
            entry_id=p.entry_id,
        ))
    return out


def stats_dict(stats: PlanStats) -> dict[str, int]:
    return asdict(stats)

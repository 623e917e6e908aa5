"""The report page's data: the fused graph and one block (from the artifact's PLAN.json and
model.c). Sizes in bytes, times in microseconds."""

from __future__ import annotations

from pydantic import BaseModel


class GraphBlock(BaseModel):
    id: int
    mapping_type: str
    ops: list[str]  # operator types, topological order
    nodes: list[str]  # node names, same order
    removed_bytes: int  # intermediate results kept inside the block
    output_bytes: int  # what the block writes
    kind: str = "fused"  # or "attention" | "horizontal" | "concat_in_place" (beyond.kind)
    floor_blocks: int = 0  # kernels the mapping-type floor counts for its operators


class GraphEdge(BaseModel):
    """Data flowing from block ``source`` to block ``target`` (every such pair is an unfused
    edge); ``reasons`` counts the refusal codes of its operator edges."""

    source: int
    target: int
    reasons: dict[str, int]


class GraphPublic(BaseModel):
    model: str
    original_nodes: int | None
    rewritten_nodes: int | None
    fused_blocks: int
    blocks: list[GraphBlock]
    edges: list[GraphEdge]


class UnfusedEdgePublic(BaseModel):
    producer: str
    consumer: str
    producer_block: int
    consumer_block: int
    tensors: list[str]
    reason: str
    detail: str
    fused_us: float | None = None
    separate_us: float | None = None
    source: str | None = None  # measured | nearest | analytic, for "unprofitable"


class BlockOp(BaseModel):
    op: str
    node: str
    shapes: list[list[int]] | None = None  # output shapes, when the plan records them


class BlockPublic(BaseModel):
    id: int
    mapping_type: str
    ops: list[BlockOp]
    inputs: list[str]
    outputs: list[str]
    removed: list[str]
    removed_bytes: int
    output_bytes: int
    unfused_edges: list[UnfusedEdgePublic]  # edges into or out of this block
    source: str | None  # the block's C (model.c), None when the artifact has none
    kind: str = "fused"  # or "attention" | "horizontal" | "concat_in_place" (beyond.kind)
    floor_blocks: int = 0  # kernels the mapping-type floor counts for its operators

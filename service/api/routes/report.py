"""/compilations/{id}/graph and /blocks/{n}: the fused graph and one block, for the report page
(and scripts). Read from the stored artifact (service.artifact_view)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request

from dnfstore.objectstore import ObjectMissing
from service.api.deps import CurrentUser, SessionDep, StorageDep
from service.api.responses import errors
from service.api.routes.compilations import _own, _stored_file
from service.artifact_view import ArtifactUnreadable, ArtifactView, ArtifactViews
from service.schemas.common import ErrorPublic
from service.schemas.report import (
    BlockOp,
    BlockPublic,
    GraphBlock,
    GraphEdge,
    GraphPublic,
    UnfusedEdgePublic,
)

router = APIRouter(prefix="/compilations", tags=["compilations"])

_ERRORS = {404: {"model": ErrorPublic}, 409: {"model": ErrorPublic}, **errors(503)}
BlockId = Path(ge=0, le=10_000_000, description="block number (PLAN.json blocks[].id)")


def _views(request: Request) -> ArtifactViews:
    views = getattr(request.app.state, "artifact_views", None)
    if views is None:
        views = request.app.state.artifact_views = ArtifactViews()
    return views


def _view(request: Request, session, user, storage, compilation_id) -> ArtifactView:
    job = _own(session, user, compilation_id)
    key = _stored_file(job, job.artifact_path, "artifact")
    try:
        return _views(request).get(storage.objects, key)
    except ObjectMissing:
        raise HTTPException(404, "the artifact of this compilation is no longer stored") from None
    except ArtifactUnreadable as err:
        raise HTTPException(409, str(err)) from None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


@router.get("/{compilation_id}/graph", response_model=GraphPublic, responses=_ERRORS)
def read_graph(
    compilation_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    storage: StorageDep,
) -> GraphPublic:
    """The fused blocks (ops, node names, bytes) and the block-to-block edges with their
    refusal reasons, from the artifact's PLAN.json."""
    view = _view(request, session, user, storage, compilation_id)
    plan = view.plan
    blocks = [
        GraphBlock(id=_int(b.get("id")), mapping_type=str(b.get("mapping_type", "")),
                   ops=_strs(b.get("ops")), nodes=_strs(b.get("nodes")),
                   removed_bytes=_int(b.get("removed_bytes")),
                   output_bytes=_int(b.get("output_bytes")),
                   kind=str(b.get("kind") or "fused"), floor_blocks=_int(b.get("floor_blocks")))
        for b in plan["blocks"] if isinstance(b, dict)
    ]
    reasons: dict[tuple[int, int], Counter[str]] = {}
    for e in plan.get("unfused_edges") or []:
        if isinstance(e, dict):
            pair = (_int(e.get("producer_block")), _int(e.get("consumer_block")))
            reasons.setdefault(pair, Counter())[str(e.get("reason", ""))] += 1
    edges = [GraphEdge(source=s, target=t, reasons=dict(c)) for (s, t), c in reasons.items()]
    return GraphPublic(
        model=str(plan.get("model", "")).replace("\\", "/").rsplit("/", 1)[-1],
        original_nodes=plan.get("original_nodes"),
        rewritten_nodes=plan.get("rewritten_nodes"),
        fused_blocks=len(blocks),
        blocks=blocks,
        edges=edges,
    )


def _ops(block: dict[str, Any]) -> list[BlockOp]:
    ops, nodes = _strs(block.get("ops")), _strs(block.get("nodes"))
    shapes = block.get("shapes")
    shapes = shapes if isinstance(shapes, list) and len(shapes) == len(ops) else [None] * len(ops)
    return [BlockOp(op=o, node=n, shapes=s) for o, n, s in zip(ops, nodes, shapes, strict=False)]


@router.get("/{compilation_id}/blocks/{block_id}", response_model=BlockPublic,
            responses=_ERRORS)
def read_block(
    compilation_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    storage: StorageDep,
    block_id: int = BlockId,
) -> BlockPublic:
    """One fused block: its operators (type, node name, output shapes when recorded), boundary
    tensors, the unfused edges into or out of it with their reasons, and its generated C."""
    view = _view(request, session, user, storage, compilation_id)
    block = next((b for b in view.plan["blocks"]
                  if isinstance(b, dict) and b.get("id") == block_id), None)
    if block is None:
        raise HTTPException(404, f"block {block_id} not found in this compilation")
    edges = [
        UnfusedEdgePublic.model_validate(e) for e in view.plan.get("unfused_edges") or []
        if isinstance(e, dict) and block_id in (e.get("producer_block"), e.get("consumer_block"))
    ]
    return BlockPublic(
        id=block_id,
        mapping_type=str(block.get("mapping_type", "")),
        ops=_ops(block),
        inputs=_strs(block.get("inputs")),
        outputs=_strs(block.get("outputs")),
        removed=_strs(block.get("removed")),
        removed_bytes=_int(block.get("removed_bytes")),
        output_bytes=_int(block.get("output_bytes")),
        unfused_edges=edges,
        source=view.block_source(block_id),
        kind=str(block.get("kind") or "fused"),
        floor_blocks=_int(block.get("floor_blocks")),
    )

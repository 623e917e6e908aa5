"""Endpoints for device agents (agent keys only). The real lease/report endpoints come later."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import CurrentAgent
from service.schemas.agent import AgentPingPublic

router = APIRouter(prefix="/agent", tags=["agent"])


@router.get("/ping", response_model=AgentPingPublic)
def ping(agent: CurrentAgent) -> AgentPingPublic:
    user, key = agent
    return AgentPingPublic(pong=True, user_id=user.id, key_kind=key.kind)

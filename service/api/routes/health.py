from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from service.api.deps import SessionDep
from service.schemas.common import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic)
def health(session: SessionDep) -> HealthPublic:
    """Liveness and database reachability; needs no key."""
    session.execute(text("SELECT 1"))
    return HealthPublic(status="ok")

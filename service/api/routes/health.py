from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.api.deps import SessionDep
from service.api.responses import errors
from service.schemas.common import HealthPublic

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/health", response_model=HealthPublic,
            responses=errors(s503="the database does not answer"))
def health(session: SessionDep) -> HealthPublic:
    """Liveness and database reachability; needs no key. 503 when the database does not
    answer."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as err:
        log.error("health: database unreachable: %s", err)
        raise HTTPException(503, "the database does not answer") from None
    return HealthPublic(status="ok")

"""Request dependencies: settings, DB session, storage, dispatcher, and the API-key checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from dnfstore import logs
from dnfstore.models import ApiKey, User
from dnfstore.settings import Settings
from dnfstore.storage import Storage
from service.crud.users import authenticate
from service.dashboard.session import cookie_user
from service.dispatch import Dispatcher

# Paging of the list endpoints; bounded so the OFFSET always fits the database's integer type.
MAX_SKIP = 2**31 - 1
Skip = Annotated[int, Query(ge=0, le=MAX_SKIP, description="rows to skip")]
Limit = Annotated[int, Query(ge=1, le=100, description="rows to return")]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


def get_storage(request: Request) -> Storage:
    return request.app.state.storage


def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
StorageDep = Annotated[Storage, Depends(get_storage)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def _key_owner(session: Session, token: str | None) -> tuple[User, ApiKey]:
    if not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing X-API-Key header",
            headers={"WWW-Authenticate": "APIKey"},
        )
    found = authenticate(session=session, token=token)
    session.commit()  # a short transaction: an upload may stream for minutes after this
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid API key", headers={"WWW-Authenticate": "APIKey"}
        )
    return found


def get_current_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(api_key_header)]
) -> User:
    """The owner of the ``X-API-Key``; without that header, of the dashboard's session cookie
    (a state-changing request then needs its CSRF token, service.dashboard.session)."""
    if not token and (user := cookie_user(request, session)) is not None:
        logs.bind(user_id=user.id)  # this request's log lines name the user
        return user
    user, key = _key_owner(session, token)
    logs.bind(user_id=user.id)
    if key.kind != "user":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "a device-agent key is good only for /api/v1/agent"
        )
    return user


def get_current_agent(
    session: SessionDep, token: Annotated[str | None, Depends(api_key_header)]
) -> tuple[User, ApiKey]:
    user, key = _key_owner(session, token)
    logs.bind(user_id=user.id)
    if key.kind != "agent":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this endpoint needs a device-agent key")
    return user, key


CurrentUser = Annotated[User, Depends(get_current_user)]
CurrentAgent = Annotated[tuple[User, ApiKey], Depends(get_current_agent)]

"""First start of an embedded service: create a first user and key if there are no users."""

from __future__ import annotations

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from dnfstore.db import make_engine, make_sessionmaker
from dnfstore.settings import Settings
from service.crud.users import count_users, create_api_key, create_user

FIRST_USER = "admin"


def schema_ready(settings: Settings) -> bool:
    engine = make_engine(settings)
    try:
        return inspect(engine).has_table("users")
    finally:
        engine.dispose()


def ensure_first_user(*, session: Session, name: str = FIRST_USER) -> str | None:
    """Create ``name`` and a user key when the database has no users; returns the key token
    (to print once), or None when users exist already."""
    if count_users(session=session) > 0:
        return None
    user = create_user(session=session, name=name)
    _, token = create_api_key(session=session, user=user, kind="user")
    return token


def first_user_key(settings: Settings) -> str | None:
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine)() as session:
            return ensure_first_user(session=session)
    finally:
        engine.dispose()

"""Users and their API keys."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dnfstore.models import ApiKey, User
from service.security import hash_key, new_key


def create_user(*, session: Session, name: str) -> User:
    user = User(name=name)
    session.add(user)
    session.commit()
    return user


def get_user_by_name(*, session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def count_users(*, session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def create_api_key(*, session: Session, user: User, kind: str = "user") -> tuple[ApiKey, str]:
    """Create a key; returns the row and the token (the only time the token is known)."""
    token, key_hash = new_key(kind)
    key = ApiKey(user_id=user.id, kind=kind, key_hash=key_hash, prefix=token[:10])
    session.add(key)
    session.commit()
    return key, token


def authenticate(*, session: Session, token: str) -> tuple[User, ApiKey] | None:
    """The user and key a token belongs to, or None for an unknown or revoked token."""
    row = session.execute(
        select(User, ApiKey)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash == hash_key(token), ApiKey.revoked_at.is_(None))
    ).first()
    return (row[0], row[1]) if row else None

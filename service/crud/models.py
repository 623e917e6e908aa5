"""Uploaded models. A user sees only their own; the same bytes twice give the same model."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dnfstore.models import Model


def create_model(
    *,
    session: Session,
    model_id: uuid.UUID,
    owner_id: uuid.UUID,
    name: str,
    sha256: str,
    size_bytes: int,
    upload_format: str,
    storage_path: str,
    model_file: str,
    opset: int | None,
    inputs: list[dict[str, Any]],
) -> Model:
    """Insert and commit; raises ``IntegrityError`` if this owner already has these bytes."""
    model = Model(
        id=model_id,
        owner_id=owner_id,
        name=name,
        sha256=sha256,
        size_bytes=size_bytes,
        upload_format=upload_format,
        storage_path=storage_path,
        model_file=model_file,
        opset=opset,
        inputs=inputs,
    )
    session.add(model)
    session.commit()
    return model


def get_model(*, session: Session, owner_id: uuid.UUID, model_id: uuid.UUID) -> Model | None:
    return session.scalar(select(Model).where(Model.id == model_id, Model.owner_id == owner_id))


def get_model_by_sha256(*, session: Session, owner_id: uuid.UUID, sha256: str) -> Model | None:
    return session.scalar(select(Model).where(Model.owner_id == owner_id, Model.sha256 == sha256))


def list_models(
    *, session: Session, owner_id: uuid.UUID, skip: int, limit: int
) -> tuple[Sequence[Model], int]:
    where = Model.owner_id == owner_id
    count = session.scalar(select(func.count()).select_from(Model).where(where)) or 0
    rows = session.scalars(
        select(Model)
        .where(where)
        .order_by(Model.created_at.desc(), Model.id)
        .offset(skip)
        .limit(limit)
    ).all()
    return rows, count

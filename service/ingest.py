"""From a received upload to a stored, validated model (or a one-line reason why not).

Steps: same bytes already stored for this user -> that model; otherwise sniff the format, put
the file (or the safely extracted archive) in a staging directory, validate the .onnx there,
store the staging directory as ``models/<id>`` (a rename in the local directory, an upload to
S3: ``dnfstore.objectstore``) and insert the row. A refused upload never touches ``models/``;
a store that fails raises ``StoreUnavailable`` (503). A race between two identical uploads is
settled by the unique (owner, sha256) constraint and the loser's files are removed.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dnfstore.models import Model, User
from dnfstore.settings import Settings
from dnfstore.storage import Storage, model_key
from service import quotas
from service.archive import ArchiveError, Limits, extract_archive, sniff_format
from service.crud import models as crud
from service.text import short
from service.upload import ReceivedFile, UploadError
from service.validation import ModelRejected, inspect_model

_MAX_MODEL_PATH = 1024  # models.model_file is a VARCHAR(1024)
_validations: dict[int, threading.BoundedSemaphore] = {}


def _validation_slots(limit: int) -> threading.BoundedSemaphore:
    """At most ``limit`` models are loaded for validation at once in this process."""
    return _validations.setdefault(limit, threading.BoundedSemaphore(limit))


def store_model(
    *, session: Session, storage: Storage, settings: Settings, owner: User, received: ReceivedFile
) -> tuple[Model, bool]:
    """Returns ``(model, created)``; raises :class:`UploadError` (422) when refused and
    ``dnfstore.objectstore.StoreUnavailable`` when the model cannot be stored."""
    existing = crud.get_model_by_sha256(session=session, owner_id=owner.id, sha256=received.sha256)
    session.commit()  # end the read transaction: validation can take a while
    if existing is not None:
        return existing, False

    fmt = sniff_format(received.path)
    staging = storage.new_staging_dir()
    try:
        model_file = _stage(received.path, staging, fmt, settings)
        with _validation_slots(settings.max_concurrent_validations):
            shown = received.filename if fmt == "onnx" else None
            facts = inspect_model(staging / model_file, root=staging, shown_as=shown)
    except (ArchiveError, ModelRejected) as err:
        storage.discard(staging)
        raise UploadError(422, str(err)) from None
    except BaseException:
        storage.discard(staging)
        raise

    model_id = uuid.uuid4()
    key = model_key(model_id)
    try:
        storage.objects.put_dir(staging, key)  # a rename locally, an upload to S3
    finally:
        storage.discard(staging)  # gone after a rename; what a failed upload left
    try:
        quotas.reserve_upload(session, settings, owner, received)  # 429; locks until commit
        model = crud.create_model(
            session=session,
            model_id=model_id,
            owner_id=owner.id,
            name=received.filename,
            sha256=received.sha256,
            size_bytes=received.size,
            upload_format=fmt,
            storage_path=key,
            model_file=model_file.as_posix(),
            opset=facts.opset,
            inputs=facts.inputs,
        )
    except IntegrityError:  # the same bytes were stored by a concurrent request
        session.rollback()
        storage.objects.delete(key)
        existing = crud.get_model_by_sha256(
            session=session, owner_id=owner.id, sha256=received.sha256
        )
        if existing is None:
            raise
        return existing, False
    except BaseException:
        session.rollback()
        storage.objects.delete(key)
        raise
    return model, True


def _stage(upload: Path, staging: Path, fmt: str, settings: Settings) -> Path:
    """Put the model's files in ``staging``; returns the .onnx path relative to it."""
    if fmt == "onnx":
        os.replace(upload, staging / "model.onnx")
        return Path("model.onnx")
    limits = Limits(
        max_total_bytes=settings.max_extracted_bytes,
        max_ratio=settings.max_compression_ratio,
        max_members=settings.max_archive_members,
    )
    files = extract_archive(upload, staging, fmt, limits)
    models = [f.relative_to(staging) for f in files if f.suffix.lower() == ".onnx"]
    if len(models) != 1:
        found = ", ".join(short(repr(m.as_posix())) for m in models[:5]) or "none"
        raise ArchiveError(f"the archive must hold exactly one .onnx file (found: {found})")
    if len(models[0].as_posix()) > _MAX_MODEL_PATH:
        raise ArchiveError(
            f"the .onnx file's path {short(repr(models[0].as_posix()))} is longer than "
            f"{_MAX_MODEL_PATH} characters"
        )
    return models[0]

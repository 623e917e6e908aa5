"""The storage directory of one host, and the object store behind it.

``Storage.objects`` (``dnfstore.objectstore``) holds what is *stored*: models and artifacts, by
key (``models/<model id>/...``, ``compilations/<job id>/artifact.tar.gz`` and ``report.json``);
with the local backend that is this same directory, with S3 a bucket every host shares.
The directory itself is this host's scratch, on its own disk (one filesystem, so renames are
atomic)::

    tmp/                    uploads in progress and staging directories
    work/<job id>-<attempt> a worker's compiler output while it runs
    cache/models/<id>/      models a worker fetched from S3 (``workers.model_cache``)
    models/, compilations/  the stored objects themselves, with the local backend only

Everything becomes visible under its final name by a rename, never by writing in place, so a
crash or a refused upload leaves at most a stray entry in tmp/ and never a half-written model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from dnfstore.objectstore import LocalObjectStore, ObjectStore, open_object_store
from dnfstore.settings import Settings


def model_key(model_id: uuid.UUID) -> str:
    """The key prefix of a stored model's files (the models.storage_path column)."""
    return f"models/{model_id}"


def artifact_key(compilation_id: uuid.UUID) -> str:
    return f"compilations/{compilation_id}/artifact.tar.gz"


def report_key(compilation_id: uuid.UUID) -> str:
    return f"compilations/{compilation_id}/report.json"


class Storage:
    """This host's storage directory ``root`` and the store ``objects`` (default: the local
    directory store on ``root``)."""

    def __init__(self, root: Path, objects: ObjectStore | None = None) -> None:
        self.root = Path(root).absolute()
        self.objects = objects if objects is not None else LocalObjectStore(self.root)

    @property
    def tmp_dir(self) -> Path:
        path = self.root / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def new_tmp_file(self, suffix: str = "") -> Path:
        """A fresh empty file under tmp/ (the caller moves or deletes it)."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, suffix=suffix)
        os.close(fd)
        return Path(name)

    def new_staging_dir(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.tmp_dir, prefix="stage-"))

    def work_dir(self, compilation_id: uuid.UUID, attempt: int) -> Path:
        """An empty directory for one attempt of a job (an older one of that name removed)."""
        path = self.root / "work" / f"{compilation_id}-{attempt}"
        self.discard(path)
        path.mkdir(parents=True)
        return path

    @staticmethod
    def discard(path: Path | None) -> None:
        if path is None:
            return
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def open_storage(settings: Settings) -> Storage:
    """This process's storage: ``settings.storage_root`` and the configured object store."""
    return Storage(settings.storage_root, open_object_store(settings))

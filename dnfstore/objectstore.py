"""Where stored models and artifacts live: one interface, two backends.

A stored object is named by a *key*, a relative POSIX path such as ``models/<id>/model.onnx``
or ``compilations/<id>/artifact.tar.gz``; the database keeps keys, never a host's path. A
"directory" is a key prefix: ``models/<id>`` holds the files of one model.

* :class:`LocalObjectStore` (the embedded default): one directory on this host's disk, each
  object a file; objects appear under their final name by a rename, never by writing in place.
* ``dnfstore.s3store.S3ObjectStore``: a bucket of an S3-compatible store (boto3), shared by an
  API and workers on different hosts.

``open_object_store(settings)`` picks one from ``DNNFUSION_STORAGE_BACKEND``. Errors: a key that
is not a plain relative path raises :class:`BadKey`; an object that is not there,
:class:`ObjectMissing`; a store that cannot be reached or refuses the request,
:class:`StoreUnavailable` (the API answers 503, a worker fails the job with that line).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from dnfstore.settings import Settings

MAX_KEY_CHARS = 1024  # the database's path columns are VARCHAR(1024)


class StoreError(Exception):
    """Base of the object store's errors; ``str()`` is one line meant for users."""


class ObjectMissing(StoreError):
    """The key names no stored object."""


class StoreUnavailable(StoreError):
    """The store could not be reached or refused the request (network, credentials, bucket)."""


class BadKey(ValueError):
    """A key that is not a plain relative path inside the store (``..``, absolute, empty)."""


def check_key(key: str) -> str:
    """``key`` if it is a plain relative POSIX path that stays inside the store; else raises
    :class:`BadKey` naming it."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        raise BadKey(f"stored key {str(key)[:80]!r} is empty or too long")
    parts = key.split("/")
    if (key.startswith("/") or "\\" in key or "\x00" in key
            or any(p in ("", ".", "..") for p in parts)):
        raise BadKey(f"stored key {key[:200]!r} leaves the store")
    return key


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its size in bytes and a tag that changes when it is rewritten
    (the file's mtime in ns locally, the ETag in S3)."""

    size: int
    tag: str


class ObjectStore(ABC):
    """Stored objects by key. ``put_*`` take ownership of the local file or directory they
    are given (moved or uploaded, then removed); every method raises :class:`BadKey` for a
    bad key and :class:`StoreUnavailable` when the backend fails."""

    @abstractmethod
    def put_file(self, path: Path, key: str) -> None:
        """Store the file at ``path`` as ``key`` (replacing an older object), all at once."""

    @abstractmethod
    def put_dir(self, path: Path, prefix: str) -> None:
        """Store every file under the directory ``path`` as ``prefix/<its relative path>``.
        ``prefix`` must hold nothing yet."""

    @abstractmethod
    def get_to_path(self, key: str, dest: Path) -> None:
        """Copy object ``key`` to the file ``dest`` (written under a temp name, then renamed).
        Raises :class:`ObjectMissing`."""

    @abstractmethod
    def list_keys(self, prefix: str) -> list[str]:
        """The keys under ``prefix/``, sorted (empty when there are none)."""

    @abstractmethod
    def open_stream(self, key: str) -> BinaryIO:
        """A readable binary stream of object ``key`` (the caller closes it). Raises
        :class:`ObjectMissing`."""

    @abstractmethod
    def info(self, key: str) -> ObjectInfo:
        """Size and version tag of ``key``. Raises :class:`ObjectMissing`."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove object ``key`` and every object under ``key/``; nothing there is no error."""

    def size(self, key: str) -> int:
        """Bytes of object ``key``. Raises :class:`ObjectMissing`."""
        return self.info(key).size

    def get_dir(self, prefix: str, dest: Path) -> list[Path]:
        """Copy every object under ``prefix/`` into the directory ``dest`` (created), keeping
        their relative paths; returns the files written. Raises :class:`ObjectMissing` when
        ``prefix`` holds nothing."""
        check_key(prefix)
        keys = self.list_keys(prefix)
        if not keys:
            raise ObjectMissing(f"nothing is stored under {prefix!r}")
        written = []
        for key in keys:
            target = dest / check_key(key[len(prefix) + 1:])
            target.parent.mkdir(parents=True, exist_ok=True)
            self.get_to_path(key, target)
            written.append(target)
        return written

    def local_path(self, key: str) -> Path | None:
        """The file or directory of ``key`` on this host when the store is a local directory
        (read it in place), else None (fetch it)."""
        return None

    def presigned_url(self, key: str, *, filename: str, content_type: str) -> str | None:
        """A time-limited URL anyone can GET ``key`` from (served as the attachment
        ``filename``), or None when the backend has none (then stream it)."""
        return None


@contextmanager
def replace_via_part_file(final: Path, tmp_dir: Path, prefix: str | None = None) -> Iterator[str]:
    """A new empty file ``<prefix><random>.part`` in ``tmp_dir`` (its path, a str) for the
    body to write; then it replaces ``final`` by a rename (``tmp_dir`` must be on ``final``'s
    file system). When the body or the rename raises, the part file is removed and the error
    propagates (``final`` is left as it was)."""
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix=prefix, suffix=".part")
    os.close(fd)
    try:
        yield name
        os.replace(name, final)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


class LocalObjectStore(ObjectStore):
    """Objects as files under ``root``. Files arrive through ``root/tmp`` (same file system)
    and are renamed into place, so a crash leaves at most a stray file in tmp/."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BadKey(f"stored key {key[:200]!r} leaves the storage directory")
        return path

    def _tmp(self) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    def _move_in(self, src: Path, final: Path) -> None:
        """Rename ``src`` to ``final``; from another file system, copy into tmp/ first."""
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, final)
            return
        except OSError as err:
            if err.errno != errno.EXDEV:  # not the same file system
                raise
        with replace_via_part_file(final, self._tmp()) as name:
            shutil.copyfile(src, name)
        Path(src).unlink(missing_ok=True)

    def put_file(self, path: Path, key: str) -> None:
        final = self._path(key)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
        self._move_in(Path(path), final)

    def put_dir(self, path: Path, prefix: str) -> None:
        final = self._path(prefix)
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(path, final)  # fails if ``final`` exists and is not empty
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            staging = Path(tempfile.mkdtemp(dir=self._tmp(), prefix="stage-"))
            shutil.copytree(path, staging, dirs_exist_ok=True)
            os.rename(staging, final)
            shutil.rmtree(path, ignore_errors=True)

    def get_to_path(self, key: str, dest: Path) -> None:
        src = self._path(key)
        if not src.is_file():
            raise ObjectMissing(f"{key!r} is not stored")
        dest = Path(dest)
        with replace_via_part_file(dest, dest.parent, prefix=f".{dest.name}.") as name:
            shutil.copyfile(src, name)

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.is_dir():
            return []
        return sorted(
            f"{prefix}/{p.relative_to(base).as_posix()}" for p in base.rglob("*") if p.is_file()
        )

    def open_stream(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")  # noqa: SIM115 - the caller closes it
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectMissing(f"{key!r} is not stored") from None

    def info(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise ObjectMissing(f"{key!r} is not stored")
        st = path.stat()
        return ObjectInfo(size=st.st_size, tag=str(st.st_mtime_ns))

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)


def open_object_store(settings: Settings) -> ObjectStore:
    """The store ``settings`` name: the storage directory (``local``) or the S3 bucket
    (``s3``; boto3 is imported only then). One S3 client per process and configuration."""
    if settings.storage_backend == "s3":
        from dnfstore.s3store import shared_s3_store

        return shared_s3_store(settings)
    return LocalObjectStore(settings.storage_root)

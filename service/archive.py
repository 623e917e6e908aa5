"""Safe extraction of an uploaded .zip or .tar.gz holding a model and its external data.

Refused, with a one-line reason: members with absolute paths, ``..``, links (symbolic or hard),
devices and FIFOs, duplicate names, more than ``max_members`` members, more than
``max_total_bytes`` uncompressed, or a total compression ratio above ``max_ratio`` (zip bombs).
Sizes are counted on the bytes actually written, not only on what the headers claim, and a tar
is read as a stream so a bomb is stopped as soon as it crosses a limit.
"""

from __future__ import annotations

import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

_RATIO_FLOOR = 1 << 20  # below 1 MiB uncompressed the ratio is not meaningful
_COPY_CHUNK = 1 << 20


class ArchiveError(Exception):
    """The archive is refused; ``str(err)`` says why."""


@dataclass(frozen=True)
class Limits:
    max_total_bytes: int
    max_ratio: float
    max_members: int


def sniff_format(path: Path) -> str:
    """``zip``, ``tar.gz`` or ``onnx`` (anything else is handed to the ONNX validator)."""
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b":
        return "tar.gz"
    return "onnx"


def safe_member_path(name: str) -> PurePosixPath:
    """The relative path a member may be extracted to, or :class:`ArchiveError`."""
    text = name.replace("\\", "/")
    if not text or "\x00" in text:
        raise ArchiveError(f"archive member {name!r}: empty or invalid name")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ArchiveError(f"archive member {name!r}: absolute paths are not allowed")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"archive member {name!r}: '..' would leave the archive")
    if not parts:
        raise ArchiveError(f"archive member {name!r}: empty path")
    return PurePosixPath(*parts)


class _Budget:
    """Counts members and written bytes against the limits."""

    def __init__(self, limits: Limits, archive_bytes: int) -> None:
        self.limits = limits
        self.archive_bytes = max(archive_bytes, 1)
        self.members = 0
        self.total = 0
        self.seen: set[PurePosixPath] = set()

    def member(self, rel: PurePosixPath, declared_size: int) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise ArchiveError(f"archive has more than {self.limits.max_members} members")
        if rel in self.seen:
            raise ArchiveError(f"archive member {rel.as_posix()!r} appears twice")
        self.seen.add(rel)
        self.add(declared_size, check_only=True)

    def add(self, n: int, *, check_only: bool = False) -> None:
        total = self.total + n
        if total > self.limits.max_total_bytes:
            raise ArchiveError(f"archive expands to more than {self.limits.max_total_bytes} bytes")
        if total > _RATIO_FLOOR and total / self.archive_bytes > self.limits.max_ratio:
            raise ArchiveError(
                f"archive compression ratio exceeds {self.limits.max_ratio:g} (possible zip bomb)"
            )
        if not check_only:
            self.total = total


def _copy(src: BinaryIO, dest: Path, budget: _Budget) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "xb") as out:  # x: never follow or replace anything already there
        while chunk := src.read(_COPY_CHUNK):
            budget.add(len(chunk))
            out.write(chunk)


def _extract_zip(path: Path, dest: Path, budget: _Budget) -> None:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ArchiveError(f"not a valid zip archive: {err}") from None
    with zf:
        infos = zf.infolist()
        for info in infos:  # check everything before writing anything
            rel = safe_member_path(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveError(f"archive member {info.filename!r}: links are not allowed")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no type recorded
                raise ArchiveError(f"archive member {info.filename!r}: not a regular file")
            budget.member(rel, 0 if info.is_dir() else info.file_size)
        budget.add(sum(i.file_size for i in infos if not i.is_dir()), check_only=True)
        for info in infos:
            target = dest / safe_member_path(info.filename)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            try:
                with zf.open(info) as src:
                    _copy(src, target, budget)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
                raise ArchiveError(f"archive member {info.filename!r}: corrupt ({err})") from None


def _extract_tar(path: Path, dest: Path, budget: _Budget) -> None:
    try:
        with tarfile.open(path, mode="r|gz") as tf:  # a stream: members are read as they come
            for member in tf:
                rel = safe_member_path(member.name)
                if member.issym() or member.islnk():
                    raise ArchiveError(f"archive member {member.name!r}: links are not allowed")
                if not (member.isreg() or member.isdir()):
                    raise ArchiveError(f"archive member {member.name!r}: not a regular file")
                budget.member(rel, 0 if member.isdir() else member.size)
                target = dest / rel
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                src = tf.extractfile(member)
                if src is None:  # pragma: no cover - isreg() members always have data
                    raise ArchiveError(f"archive member {member.name!r}: no data")
                _copy(src, target, budget)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise ArchiveError(f"not a valid .tar.gz archive: {err}") from None


def extract_archive(path: Path, dest: Path, fmt: str, limits: Limits) -> list[Path]:
    """Extract ``path`` (``zip`` or ``tar.gz``) into the empty directory ``dest``; returns the
    regular files written. On :class:`ArchiveError` ``dest`` is left empty."""
    budget = _Budget(limits, path.stat().st_size)
    try:
        if fmt == "zip":
            _extract_zip(path, dest, budget)
        elif fmt == "tar.gz":
            _extract_tar(path, dest, budget)
        else:
            raise ValueError(f"not an archive format: {fmt!r}")
    except BaseException:
        for child in dest.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        raise
    return sorted(p for p in dest.rglob("*") if p.is_file() and not p.is_symlink())

"""Safe extraction of an uploaded .zip or .tar.gz holding a model and its external data.

Refused, with a one-line reason: members with absolute paths, ``..``, links (symbolic or hard),
devices and FIFOs, duplicate names, more than ``max_members`` members, more than
``max_total_bytes`` uncompressed, or a total compression ratio above ``max_ratio`` (zip bombs).
Sizes are counted on the bytes actually written, not only on what the headers claim, and a tar
is read as a stream so a bomb is stopped as soon as it crosses a limit.

Every size an archive claims about its own metadata is checked before memory is spent on it:
a tar is read by :mod:`service.tarstream` (GNU long-name and PAX records capped at 64 KiB before
they are read; see there why not ``tarfile`` or libarchive), and a zip's end-of-central-
directory record is read first so a central directory larger than ``max_members`` entries can
hold is refused before ``zipfile`` loads it. Member names must be UTF-8 and at most 4096 bytes;
messages show them escaped and cut (:func:`service.text.short`), never with a server path.
"""

from __future__ import annotations

import gzip
import re
import shutil
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from service.tarstream import TarFormatError, TarReader
from service.text import short

_RATIO_FLOOR = 1 << 20  # below 1 MiB uncompressed the ratio is not meaningful
_COPY_CHUNK = 1 << 20
MAX_NAME_BYTES = 4096  # PATH_MAX
MAX_RECORD_BYTES = 64 * 1024  # a tar GNU long-name or PAX record
_ZIP_DIRECTORY_BYTES_PER_MEMBER = 512  # central-directory budget: 46-byte entry + name + extras


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
    shown = short(repr(name))
    text = name.replace("\\", "/")
    if not text or "\x00" in text:
        raise ArchiveError(f"archive member {shown}: empty or invalid name")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ArchiveError(f"archive member {shown}: name longer than {MAX_NAME_BYTES} bytes")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise ArchiveError(f"archive member {shown}: absolute paths are not allowed")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"archive member {shown}: '..' would leave the archive")
    if not parts:
        raise ArchiveError(f"archive member {shown}: empty path")
    if any(len(p.encode("utf-8", "surrogatepass")) > 255 for p in parts):
        raise ArchiveError(f"archive member {shown}: a path component is longer than 255 bytes")
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
            raise ArchiveError(f"archive member {short(repr(rel.as_posix()))} appears twice")
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


def _make_dir(target: Path, name: str) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a file of the same name, or a file as a parent
        raise ArchiveError(
            f"archive member {short(repr(name))}: conflicts with another member ({err.strerror})"
        ) from None


def _copy(src: BinaryIO, dest: Path, budget: _Budget, name: str) -> None:
    _make_dir(dest.parent, name)
    try:
        out = open(dest, "xb")  # noqa: SIM115 - x: never follow or replace anything already there
    except OSError as err:
        raise ArchiveError(
            f"archive member {short(repr(name))}: conflicts with another member ({err.strerror})"
        ) from None
    with out:
        while chunk := src.read(_COPY_CHUNK):
            budget.add(len(chunk))
            out.write(chunk)


def _zip_directory(path: Path) -> tuple[int, int] | None:
    """``(entries, central directory bytes)`` as ``zipfile`` will read them: from the
    end-of-central-directory record, or from the zip64 record when a zip64 locator precedes it
    (``zipfile`` then trusts that one, whatever the first says). ``None`` when there is no
    record (``zipfile`` then says what is wrong)."""
    eocd = b"PK\x05\x06"
    size = path.stat().st_size
    with open(path, "rb") as f:
        tail_len = min(size, 22 + 0xFFFF)  # the record + the longest comment
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        if tail[-22:-18] == eocd and tail[-2:] == b"\0\0":  # no comment: zipfile looks here first
            pos = len(tail) - 22
        else:
            pos = tail.rfind(eocd)
        if pos < 0 or len(tail) - pos < 22:
            return None
        entries, cd_bytes = struct.unpack("<HI", tail[pos + 10 : pos + 16])
        record_at = size - tail_len + pos  # the record's offset in the file
        if record_at < 20 + 56:
            return entries, cd_bytes
        f.seek(record_at - 20)
        locator = f.read(20)
        if locator[:4] != b"PK\x06\x07":
            return entries, cd_bytes
        f.seek(record_at - 20 - 56)  # zipfile reads the zip64 record right before the locator
        record = f.read(56)
        if record[:4] != b"PK\x06\x06":
            return entries, cd_bytes
        return struct.unpack("<QQ", record[32:48])


def _extract_zip(path: Path, dest: Path, budget: _Budget) -> None:
    directory = _zip_directory(path)
    if directory is not None:
        entries, cd_bytes = directory
        max_members = budget.limits.max_members
        if entries > max_members:
            raise ArchiveError(f"archive has more than {max_members} members")
        cap = max_members * _ZIP_DIRECTORY_BYTES_PER_MEMBER + 64 * 1024
        if cd_bytes > cap:
            raise ArchiveError(
                f"zip central directory of {cd_bytes} bytes exceeds the limit of {cap} bytes"
            )
    try:
        zf = zipfile.ZipFile(path)
    except UnicodeDecodeError as err:  # the UTF-8 flag is set on a name that is not UTF-8
        raw = err.object if isinstance(err.object, bytes) else b""
        shown = short(repr(raw.decode("utf-8", "backslashreplace")))
        raise ArchiveError(f"archive member {shown}: name is not valid UTF-8") from None
    except (zipfile.BadZipFile, OSError, ValueError, struct.error) as err:
        raise ArchiveError(f"not a valid zip archive: {short(str(err), 200)}") from None
    with zf:
        infos = zf.infolist()
        for info in infos:  # check everything before writing anything
            rel = safe_member_path(info.filename)
            shown = short(repr(info.filename))
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ArchiveError(f"archive member {shown}: links are not allowed")
            if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no type recorded
                raise ArchiveError(f"archive member {shown}: not a regular file")
            if info.flag_bits & 0x1:
                raise ArchiveError(f"archive member {shown}: encrypted members are not supported")
            budget.member(rel, 0 if info.is_dir() else info.file_size)
        budget.add(sum(i.file_size for i in infos if not i.is_dir()), check_only=True)
        for info in infos:
            target = dest / safe_member_path(info.filename)
            if info.is_dir():
                _make_dir(target, info.filename)
                continue
            try:
                with zf.open(info) as src:
                    _copy(src, target, budget, info.filename)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as err:
                raise ArchiveError(
                    f"archive member {short(repr(info.filename))}: corrupt or unsupported "
                    f"({short(str(err), 200)})"
                ) from None


def _extract_tar(path: Path, dest: Path, budget: _Budget) -> None:
    try:
        with gzip.open(path, "rb") as stream:
            reader = TarReader(stream, max_record=MAX_RECORD_BYTES, max_name=MAX_NAME_BYTES)
            for member in reader:  # a stream: members are read as they come
                rel = safe_member_path(member.name)
                shown = short(repr(member.name))
                if member.kind == "link":
                    raise ArchiveError(f"archive member {shown}: links are not allowed")
                if member.kind == "other":
                    raise ArchiveError(f"archive member {shown}: not a regular file")
                if member.kind == "dir" and member.size:
                    raise ArchiveError(f"archive member {shown}: a directory with data")
                budget.member(rel, member.size)
                target = dest / rel
                if member.kind == "dir":
                    _make_dir(target, member.name)
                    continue
                _copy(reader, target, budget, member.name)
    except TarFormatError as err:
        raise ArchiveError(str(err)) from None
    except (EOFError, OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise ArchiveError(f"not a valid .tar.gz archive: {short(str(err), 200)}") from None


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

"""A streaming tar reader whose every claimed size is checked before memory is spent on it.

Why not ``tarfile``: it reads a GNU long-name (``L``/``K``) or PAX (``x``/``g``) record whole,
whatever size its header claims (a 519 KB .tar.gz claiming a 512 MiB long name cost 1 GB of
RSS), recurses once per chained extension header, and expands GNU sparse maps into lists.
Why not libarchive (``libarchive-c``): it is sound here - libarchive 3.6.2 refuses a special
header over 1 MiB ("Special header too large"; RSS grew 5 MB on the two crafted files above,
against 1044 MB and 523 MB with ``tarfile``) - but it would add a C library to the API image
and a Python dependency for a format this small. So this module reads the headers itself:

* one 512-byte header block at a time, checksum verified;
* ``L``/``K``/``x``/``g`` records are read only if their size field is at most
  ``max_record`` (64 KiB by default), at most ``max_chain`` of them before one member;
* member names longer than ``max_name`` bytes, or not UTF-8, are refused (named escaped);
* member data is handed out in chunks by :meth:`TarReader.read`; what the caller leaves unread
  is skipped in chunks, never buffered.

Only the member kinds the service accepts are decoded (regular files and directories); links,
devices, FIFOs, GNU sparse files and every other type are reported by their type so the caller
can refuse them. Errors are :class:`TarFormatError` with a one-line reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from service.text import short

BLOCK = 512
KiB = 1024
_CHUNK = 1 << 20

_FILE_TYPES = (b"0", b"\x00", b"7")  # regular, old-style regular, contiguous
_LINK_TYPES = (b"1", b"2")
_EXTENSIONS = (b"L", b"K", b"x", b"g")


class TarFormatError(Exception):
    """The stream is not a tar this reader accepts; ``str(err)`` says why (one line)."""


@dataclass(frozen=True)
class Member:
    """One archive member: ``kind`` is ``file``, ``dir``, ``link`` or ``other`` (``typeflag``
    says which); ``size`` is the byte count of its data in the stream."""

    name: str
    kind: str
    typeflag: bytes
    size: int


def _number(field: bytes, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 (first byte 0x80)."""
    if field[:1] == b"\x80":
        return int.from_bytes(field[1:], "big")
    if field[:1] == b"\xff":
        raise TarFormatError(f"negative {what} in a tar header")
    text = field.split(b"\x00", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarFormatError(f"invalid {what} {short(repr(text), 40)} in a tar header") from None


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156], "checksum")
    except TarFormatError:
        return False
    unsigned = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    signed = unsigned - 2 * sum(b for b in block[:148] + block[156:] if b > 127)
    return stored in (unsigned, signed)


def _nts(field: bytes) -> bytes:
    return field.split(b"\x00", 1)[0]


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """``"<length> <key>=<value>\\n"`` records of a PAX header (already size-checked)."""
    out: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data) and data[pos : pos + 1] not in (b"\x00", b""):
        space = data.find(b" ", pos, pos + 20)
        try:
            length = int(data[pos:space]) if space > pos else 0
        except ValueError:
            length = 0
        record = data[pos : pos + length]
        if length <= space - pos + 1 or len(record) < length or not record.endswith(b"\n"):
            raise TarFormatError("malformed PAX extended header record")
        key, eq, value = record[space - pos + 1 : -1].partition(b"=")
        if not eq:
            raise TarFormatError("malformed PAX extended header record")
        out[key] = value
        pos += length
    return out


class TarReader:
    """Iterate the members of an uncompressed tar stream ``stream`` (e.g. a ``GzipFile``).

    ``for member in reader:`` yields :class:`Member`; between two steps, :meth:`read` returns
    the current member's data. ``consumed`` counts every byte taken from ``stream``.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        max_record: int = 64 * KiB,
        max_name: int = 4 * KiB,
        max_chain: int = 8,
    ) -> None:
        self._stream = stream
        self.max_record = max_record
        self.max_name = max_name
        self.max_chain = max_chain
        self.consumed = 0
        self._left = 0  # data bytes of the current member not yet read
        self._pad = 0  # padding after them

    def _take(self, n: int) -> bytes:
        data = self._stream.read(n)
        self.consumed += len(data)
        if len(data) != n:
            raise TarFormatError("truncated tar archive")
        return data

    def _skip(self, n: int) -> None:
        while n > 0:
            step = min(n, _CHUNK)
            self._take(step)
            n -= step

    def read(self, n: int = _CHUNK) -> bytes:
        """Up to ``n`` more bytes of the current member's data (``b""`` at its end)."""
        n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._take(n)
        self._left -= n
        return data

    def _record(self, block: bytes, size: int) -> bytes:
        kind = {b"L": "GNU long-name", b"K": "GNU long-link"}.get(block[156:157], "PAX header")
        if size > self.max_record:
            raise TarFormatError(
                f"tar {kind} record of {size} bytes exceeds the limit of {self.max_record} bytes"
            )
        data = self._take(size)
        self._skip(-size % BLOCK)
        return data

    def _name(self, raw: bytes) -> str:
        if len(raw) > self.max_name:
            raise TarFormatError(
                f"archive member {short(repr(raw))}: name longer than {self.max_name} bytes"
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            shown = short(repr(raw.decode("utf-8", "backslashreplace")))
            raise TarFormatError(f"archive member {shown}: name is not valid UTF-8") from None

    def __iter__(self) -> Iterator[Member]:
        while True:
            self._skip(self._left + self._pad)
            self._left = self._pad = 0
            member = self._next_member()
            if member is None:
                return
            yield member

    def _next_member(self) -> Member | None:
        long_name: bytes | None = None
        pax: dict[bytes, bytes] = {}
        for _ in range(self.max_chain + 1):
            block = self._stream.read(BLOCK)
            self.consumed += len(block)
            if not block or block.count(0) == BLOCK:
                return None  # end-of-archive marker (or a stream cut right after a member)
            if len(block) < BLOCK:
                raise TarFormatError("truncated tar archive")
            if not _checksum_ok(block):
                raise TarFormatError("bad tar header checksum (not a tar archive, or corrupt)")
            typeflag = block[156:157]
            size = _number(block[124:136], "size")
            if typeflag in _EXTENSIONS:
                data = self._record(block, size)
                if typeflag == b"L":
                    long_name = _nts(data)
                elif typeflag == b"x":
                    pax.update(_pax_records(data))
                elif typeflag == b"g":
                    _pax_records(data)  # global defaults: checked, not applied
                continue
            return self._member(block, typeflag, size, long_name, pax)
        raise TarFormatError(f"more than {self.max_chain} extension headers before one member")

    def _member(
        self,
        block: bytes,
        typeflag: bytes,
        size: int,
        long_name: bytes | None,
        pax: dict[bytes, bytes],
    ) -> Member:
        raw = _nts(block[0:100])
        if block[257:263] == b"ustar\x00" and (prefix := _nts(block[345:500])):
            raw = prefix + b"/" + raw
        raw = pax.get(b"path", long_name if long_name is not None else raw)
        name = self._name(raw)
        if b"size" in pax:
            try:
                size = int(pax[b"size"])
            except ValueError:
                raise TarFormatError(f"archive member {short(repr(name))}: bad PAX size") from None
        if size < 0:
            raise TarFormatError(f"archive member {short(repr(name))}: negative size")
        if any(k.startswith(b"GNU.sparse.") for k in pax):
            typeflag = b"S"
        if typeflag in _FILE_TYPES and name.endswith("/"):
            typeflag = b"5"
        kind = (
            "file"
            if typeflag in _FILE_TYPES
            else "dir"
            if typeflag == b"5"
            else "link"
            if typeflag in _LINK_TYPES
            else "other"
        )
        if kind == "link":
            size = 0  # a link's size field is not data
        self._left, self._pad = size, -size % BLOCK
        return Member(name=name, kind=kind, typeflag=typeflag, size=size)

"""Hostile archives built byte by byte (independently of the reader under test).

A tar header here is written from the POSIX ustar layout directly, so a test can claim sizes,
types and names ``tarfile`` would never write.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

BLOCK = 512
MiB = 1 << 20


def tar_header(name: bytes, size: int, typeflag: bytes = b"0", *, size_field: bytes | None = None):
    """One 512-byte ustar header block with a correct checksum."""
    block = bytearray(BLOCK)
    block[0 : len(name[:100])] = name[:100]
    block[100:108] = b"0000644\x00"
    block[108:116] = b"0000000\x00"
    block[116:124] = b"0000000\x00"
    block[124:136] = size_field if size_field is not None else b"%011o\x00" % size
    block[136:148] = b"00000000000\x00"
    block[156:157] = typeflag
    block[257:265] = b"ustar\x0000"
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\x00 " % sum(block)
    return bytes(block)


def tar_member(name: bytes, data: bytes, typeflag: bytes = b"0") -> bytes:
    return tar_header(name, len(data), typeflag) + data + bytes(-len(data) % BLOCK)


def pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


def gz(*parts: bytes, claimed_zeros: int = 0, tail: bytes = b"") -> bytes:
    """gzip of ``parts``, then ``claimed_zeros`` zero bytes (compressed ~1000:1), then
    ``tail`` and the tar end marker."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    out = [comp.compress(p) for p in parts]
    zero = bytes(MiB)
    left = claimed_zeros
    while left > 0:
        out.append(comp.compress(zero[: min(left, MiB)]))
        left -= MiB
    out.append(comp.compress(tail + bytes(2 * BLOCK)))
    out.append(comp.flush())
    return b"".join(out)


def tar_gz_extension_bomb(typeflag: bytes, claimed: int, model: bytes) -> bytes:
    """A ``typeflag`` (``L`` GNU long name, ``x`` PAX) record whose header claims ``claimed``
    bytes and that really holds them (zeros), followed by a valid ``model.onnx`` member."""
    name = b"././@LongLink" if typeflag == b"L" else b"PaxHeader/model.onnx"
    padding = -claimed % BLOCK
    return gz(
        tar_header(name, claimed, typeflag),
        claimed_zeros=claimed + padding,
        tail=tar_member(b"model.onnx", model),
    )


def zip_with_raw_name(name: bytes, data: bytes, *, utf8_flag: bool = True) -> bytes:
    """A one-member zip whose stored name is the raw bytes ``name`` (any bytes, flag 0x800)."""
    placeholder = "n" * len(name)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(placeholder)
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)
    raw = buf.getvalue()
    assert raw.count(placeholder.encode()) == 2  # local header and central directory
    raw = raw.replace(placeholder.encode(), name)
    if utf8_flag:  # general-purpose flag bit 11 in the local (offset 6) and central (8) headers
        local = raw.index(b"PK\x03\x04")
        central = raw.index(b"PK\x01\x02")
        raw = bytearray(raw)
        for pos in (local + 6, central + 8):
            (flags,) = struct.unpack_from("<H", raw, pos)
            struct.pack_into("<H", raw, pos, flags | 0x800)
        raw = bytes(raw)
    return raw


def zip_with_directory_claim(zip_bytes: bytes, *, entries: int, cd_bytes: int) -> bytes:
    """``zip_bytes`` with its end-of-central-directory record rewritten to claim ``entries``
    entries and a central directory of ``cd_bytes`` bytes."""
    raw = bytearray(zip_bytes)
    pos = raw.rindex(b"PK\x05\x06")
    struct.pack_into("<HHI", raw, pos + 8, entries, entries, cd_bytes)
    return bytes(raw)


def zip_patched(zip_bytes: bytes, *, method: int | None = None, flags: int = 0) -> bytes:
    """``zip_bytes`` (one member) with its compression ``method`` replaced and ``flags`` or-ed
    into the general-purpose flags, in both the local and the central header."""
    raw = bytearray(zip_bytes)
    for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = raw.index(sig)
        (old,) = struct.unpack_from("<H", raw, pos + flag_at)
        struct.pack_into("<H", raw, pos + flag_at, old | flags)
        if method is not None:
            struct.pack_into("<H", raw, pos + flag_at + 2, method)
    return bytes(raw)


def zip_with_zip64_record(zip_bytes: bytes, *, entries: int | None = None, cd_bytes=None) -> bytes:
    """``zip_bytes`` with a zip64 end record and locator inserted before its end record (where
    ``zipfile`` looks for them). Without ``entries``/``cd_bytes`` the values are the true ones
    and the archive stays valid; with them, the zip64 record lies while the 32-bit one does not.
    """
    pos = zip_bytes.rindex(b"PK\x05\x06")
    true_entries, true_size, offset = struct.unpack("<HII", zip_bytes[pos + 10 : pos + 20])
    record = struct.pack(
        "<4sQHHIIQQQQ",
        b"PK\x06\x06",
        44,
        45,
        45,
        0,
        0,
        true_entries if entries is None else entries,
        true_entries if entries is None else entries,
        true_size if cd_bytes is None else cd_bytes,
        offset,
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, pos, 1)
    return zip_bytes[:pos] + record + locator + zip_bytes[pos:]

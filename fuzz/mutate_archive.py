"""Archive mutations: a seed (model plus its external files) packed as .zip or .tar.gz with
hostile member names, links, huge claimed sizes, duplicates, or cut short."""

from __future__ import annotations

import io
import struct
import tarfile
import warnings
import zipfile

from fuzz.choose import Chooser

BAD_NAMES = ("../evil.bin", "/abs/evil.bin", "a/../../evil", "a/./b/../../../x", "",
             "dir/", "C:\\evil", "\u00e9\u00e8.bin", "x" * 300, "./weights.bin", "a//b",
             "..", ".", "model.onnx/x")
BAD_BYTES_NAMES = (b"\xff\xfe.bin", b"caf\xe9.onnx", b"a\x00b", b"\x80/../x")


def _zip(members: list[tuple[str, bytes]], ch: Chooser) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if ch.bool() else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", method) as zf, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate members are on purpose
        for name, data in members:
            if name.endswith("/") and not data:
                zf.writestr(zipfile.ZipInfo(name), b"")
            else:
                zf.writestr(name or "noname", data)
    return buf.getvalue()


def _tar(members: list[tuple[str | bytes, bytes]], ch: Chooser, links: bool) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name.decode("latin-1") if isinstance(name, bytes) else name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if links:
            info = tarfile.TarInfo(ch.choice(("weights.bin", "link", "sub/l")))
            info.type = ch.choice((tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
                                   tarfile.FIFOTYPE, tarfile.DIRTYPE))
            info.linkname = ch.choice(("/etc/passwd", "../x", "model.onnx", ""))
            tf.addfile(info)
    return buf.getvalue()


def _zip_claims(data: bytes, ch: Chooser) -> tuple[bytes, str]:
    """Edit size/offset fields of a zip's local and central headers."""
    buf = bytearray(data)
    sigs = [(b"PK\x03\x04", (18, 22)), (b"PK\x01\x02", (20, 24, 42)), (b"PK\x05\x06", (10, 12, 16))]
    sig, offsets = ch.choice(sigs)
    pos = buf.find(sig)
    if pos < 0:
        return data, "no header"
    off = pos + ch.choice(offsets)
    if off + 4 > len(buf):
        return data, "short header"
    value = ch.choice((0xFFFFFFFF, 0x7FFFFFFF, 0, 1 << 30, 0xFFFF))
    if sig == b"PK\x05\x06" and off - pos in (10,):
        buf[off:off + 2] = struct.pack("<H", value & 0xFFFF)
    else:
        buf[off:off + 4] = struct.pack("<I", value)
    return bytes(buf), f"zip header {sig!r}+{off - pos}={value}"


def _tar_claims(members: list[tuple[str, bytes]], ch: Chooser) -> tuple[bytes, str]:
    """A tar whose header claims a huge size (octal or base-256) for a member, gzipped."""
    import gzip

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    buf = bytearray(raw.getvalue())
    field = ch.choice((b"77777777777\x00", b"\x80" + b"\x00" * 3 + b"\x7f" + b"\xff" * 7,
                       b"\xff" * 12, b"00000000000\x00", b"-1\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
                       b"\x80\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00"))
    buf[124:136] = field  # the first member's size field
    # fix the header checksum so the claim, not the checksum, is what is tested
    buf[148:156] = b" " * 8
    chk = sum(buf[:512])
    buf[148:156] = f"{chk:06o}\x00 ".encode()
    return gzip.compress(bytes(buf)), f"tar size field {field!r}"


def mutate_archive(ch: Chooser, model: bytes, extra: dict[str, bytes]) -> tuple[bytes, str, str]:
    """Pack the seed into an archive with hostile details; returns (data, filename, note)."""
    members: list = [("model.onnx", model), *extra.items()]
    k = ch.int(0, 8)
    note = "plain"
    if k == 0:
        members.append((ch.choice(BAD_NAMES), b"x" * ch.int(0, 64)))
        note = f"member {members[-1][0][:30]!r}"
    elif k == 1:
        name = ch.choice(BAD_NAMES)
        members[0] = (name if name.endswith(".onnx") else name + ".onnx", model)
        note = f"model as {members[0][0][:30]!r}"
    elif k == 2:
        members.append(("model.onnx", model))
        note = "duplicate member"
    elif k == 3:
        members += [(f"d{i}/f{i}.bin", b"") for i in range(ch.int(100, 3000))]
        note = "many members"
    elif k == 4:
        members.append(("zeros.bin", bytes(ch.choice((1 << 20, 3 << 20, 5 << 20)))))
        note = "big zeros"
    if ch.bool():  # zip
        if k == 5:
            data, note = _zip_claims(_zip(members, ch), ch)
        else:
            data = _zip(members, ch)
        filename = ch.choice(("model.zip", "upload.bin", "model.onnx", "m.tar.gz"))
    else:
        if k == 5:
            data, note = _tar_claims(members, ch)
        elif k == 6:
            members.append((ch.choice(BAD_BYTES_NAMES), b"x"))
            note = "non-UTF-8 tar name"
            data = _tar(members, ch, links=False)
        else:
            data = _tar(members, ch, links=k == 7)
            note = note if k != 7 else "tar link/special member"
        filename = ch.choice(("model.tar.gz", "upload.bin", "model.onnx"))
    if k == 8 or ch.int(0, 5) == 0:
        cut = ch.int(0, max(0, len(data) - 1))
        data = data[:cut]
        note += f", truncated at {cut}"
    return data, filename, f"archive {note}"

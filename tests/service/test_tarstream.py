"""service.tarstream: reads what tarfile writes, and refuses oversized or odd headers unread."""

from __future__ import annotations

import io
import tarfile

import pytest

from service.tarstream import TarFormatError, TarReader
from tests.service import hostile as h

LONG = "deep/" + "d" * 120 + "/" + "x" * 90 + ".bin"
MEMBERS = {"model.onnx": b"onnx" * 200, LONG: b"w" * 1500, "é" * 120 + ".bin": b"12"}


def _read_all(stream: bytes) -> list[tuple[str, str, bytes]]:
    reader = TarReader(io.BytesIO(stream))
    out = []
    for member in reader:
        data = b""
        while chunk := reader.read(100):  # small reads: the reader hands out the exact bytes
            data += chunk
        out.append((member.name, member.kind, data))
    return out


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_reads_what_tarfile_writes(fmt):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("sub")
        info.type = tarfile.DIRTYPE
        tf.addfile(info)
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    expected = [(n, "file", d) for n, d in MEMBERS.items()]
    expected += [("sub/", "dir", b""), ("link", "link", b"")]
    assert _read_all(buf.getvalue()) == expected


def test_ustar_prefix_field():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        info = tarfile.TarInfo(LONG)  # > 100 bytes: split into prefix + name
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    assert _read_all(buf.getvalue()) == [(LONG, "file", b"abc")]


def test_unread_data_is_skipped():
    stream = h.tar_member(b"a.bin", b"x" * 5000) + h.tar_member(b"b.bin", b"y") + bytes(1024)
    reader = TarReader(io.BytesIO(stream))
    assert [m.name for m in reader] == ["a.bin", "b.bin"]


@pytest.mark.parametrize("typeflag", [b"L", b"K", b"x", b"g"])
def test_oversized_extension_record_is_refused_unread(typeflag):
    claimed = 512 << 20
    stream = io.BytesIO(h.tar_header(b"././@LongLink", claimed, typeflag) + bytes(4096))
    reader = TarReader(stream, max_record=64 * 1024)
    with pytest.raises(TarFormatError, match=f"of {claimed} bytes exceeds the limit of 65536"):
        list(reader)
    assert reader.consumed == 512  # the header only


def test_record_at_the_limit_is_read():
    name = b"n/" + b"a" * 4000
    stream = h.tar_header(b"././@LongLink", len(name), b"L") + name + bytes(-len(name) % 512)
    stream += h.tar_member(b"ignored", b"z") + bytes(1024)
    assert _read_all(stream) == [(name.decode(), "file", b"z")]


def test_pax_path_and_size_apply():
    records = h.pax_record(b"path", "ü/model.onnx".encode()) + h.pax_record(b"size", b"4")
    stream = h.tar_member(b"PaxHeader", records, b"x")
    stream += h.tar_header(b"short", 999) + b"data" + bytes(508) + bytes(1024)
    assert _read_all(stream) == [("ü/model.onnx", "file", b"data")]


def test_extension_chain_is_capped():
    record = h.tar_member(b"PaxHeader", h.pax_record(b"comment", b"hi"), b"x")
    stream = record * 9 + h.tar_member(b"a", b"1") + bytes(1024)
    with pytest.raises(TarFormatError, match="more than 8 extension headers"):
        list(TarReader(io.BytesIO(stream)))
    assert _read_all(record * 8 + h.tar_member(b"a", b"1") + bytes(1024)) == [("a", "file", b"1")]


def test_name_not_utf8_is_named_escaped():
    stream = h.tar_member(b"mod\xffel.onnx", b"1") + bytes(1024)
    with pytest.raises(TarFormatError) as err:
        list(TarReader(io.BytesIO(stream)))
    assert str(err.value) == "archive member 'mod\\\\xffel.onnx': name is not valid UTF-8"


def test_long_name_limit_and_message_cut():
    name = b"a" * 5000
    stream = h.tar_member(b"././@LongLink", name, b"L") + h.tar_member(b"x", b"") + bytes(1024)
    with pytest.raises(TarFormatError) as err:
        list(TarReader(io.BytesIO(stream), max_name=4096))
    text = str(err.value)
    assert "name longer than 4096 bytes" in text and "(5003 characters)" in text
    assert len(text) < 200


def test_base256_size():
    size_field = b"\x80" + (5).to_bytes(11, "big")
    stream = h.tar_header(b"a.bin", 0, size_field=size_field) + b"hello" + bytes(507)
    assert _read_all(stream + bytes(1024)) == [("a.bin", "file", b"hello")]
    negative = h.tar_header(b"a.bin", 0, size_field=b"\xff" * 12)
    with pytest.raises(TarFormatError, match="negative size"):
        list(TarReader(io.BytesIO(negative)))


@pytest.mark.parametrize("typeflag", [b"S", b"3", b"4", b"6", b"V", b"D"])
def test_other_types_are_reported(typeflag):
    stream = h.tar_member(b"odd", b"", typeflag) + bytes(1024)
    [member] = list(TarReader(io.BytesIO(stream)))
    assert (member.kind, member.typeflag) == ("other", typeflag)


def test_gnu_sparse_in_pax_is_other():
    records = h.pax_record(b"GNU.sparse.major", b"1") + h.pax_record(b"GNU.sparse.minor", b"0")
    stream = h.tar_member(b"PaxHeader", records, b"x") + h.tar_member(b"s", b"") + bytes(1024)
    assert [m.kind for m in TarReader(io.BytesIO(stream))] == ["other"]


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (b"\x01" * 512, "bad tar header checksum"),
        (h.tar_header(b"a.bin", 4000) + b"short", "truncated tar archive"),
        (h.tar_header(b"a.bin", 1)[:300], "truncated tar archive"),
        (h.tar_member(b"P", b"12 path=x\n", b"x"), "malformed PAX extended header record"),
        (h.tar_header(b"a", 0, size_field=b"9" * 11 + b"\x00"), "invalid size"),
    ],
    ids=["garbage", "truncated data", "truncated header", "bad pax record", "bad octal"],
)
def test_corrupt_streams(stream, reason):
    with pytest.raises(TarFormatError, match=reason):
        list(TarReader(io.BytesIO(stream)))

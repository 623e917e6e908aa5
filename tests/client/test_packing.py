"""What the client sends for a model path: a file as it is, or a .tar.gz built on the fly that
the server's own archive reader (service.archive) accepts and extracts to the same files."""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

import pytest

from dnnfusion.client import InvalidModelError
from dnnfusion.client.packing import UploadBody, source_for
from service.archive import Limits, extract_archive, sniff_format
from tests.service import onnx_models as m

LIMITS = Limits(max_total_bytes=1 << 30, max_ratio=1000, max_members=100)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def packed(source) -> bytes:
    return b"".join(source.chunks())


def external_model(folder: Path, location: str = "weights.bin") -> tuple[Path, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    model, data = m.with_external_data(3, location)
    write(folder / "model.onnx", model)
    write(folder / location, data)
    return folder / "model.onnx", data


def test_a_lone_onnx_is_sent_as_it_is(tmp_path):
    path = write(tmp_path / "only" / "tiny.onnx", m.tiny_bytes(1))
    source = source_for(path)
    assert not source.archive and source.filename == "tiny.onnx"
    assert packed(source) == path.read_bytes() and source.size() == path.stat().st_size


def test_an_onnx_with_embedded_weights_beside_other_files_is_sent_as_it_is(tmp_path):
    path = write(tmp_path / "tiny.onnx", m.tiny_bytes(1))
    write(tmp_path / "README.txt", b"notes")
    assert not source_for(path).archive


def test_external_data_is_packed_and_the_server_extracts_it(tmp_path):
    model_path, data = external_model(tmp_path / "src", "data/weights.bin")
    source = source_for(model_path)
    assert source.archive and source.filename == "model.tar.gz"
    assert [name for name, _ in source.members] == ["model.onnx", "data/weights.bin"]
    archive = tmp_path / "upload"
    archive.write_bytes(packed(source))
    assert sniff_format(archive) == "tar.gz"
    out = tmp_path / "extracted"
    out.mkdir()
    files = extract_archive(archive, out, "tar.gz", LIMITS)
    assert sorted(f.relative_to(out).as_posix() for f in files) == ["data/weights.bin",
                                                                    "model.onnx"]
    assert (out / "model.onnx").read_bytes() == model_path.read_bytes()
    assert (out / "data/weights.bin").read_bytes() == data


def test_packing_is_deterministic_and_readable_by_tarfile(tmp_path):
    model_path, _ = external_model(tmp_path / "src")
    first, second = packed(source_for(model_path)), packed(source_for(tmp_path / "src"))
    assert first == second  # .onnx + data and the folder: same members, same bytes
    assert gzip.decompress(first).endswith(bytes(1024))  # the tar end marker
    upload = tmp_path / "u.tar.gz"
    upload.write_bytes(first)
    with tarfile.open(upload) as tar:
        infos = tar.getmembers()
    assert [(i.name, i.mtime, i.uid, i.mode) for i in infos] == [
        ("model.onnx", 0, 0, 0o644), ("weights.bin", 0, 0, 0o644)]


def test_a_folder_needs_exactly_one_onnx(tmp_path):
    (tmp_path / "a").mkdir()
    write(tmp_path / "a" / "x.onnx", m.tiny_bytes(1))
    write(tmp_path / "a" / "y.onnx", m.tiny_bytes(2))
    with pytest.raises(InvalidModelError, match=r"exactly one \.onnx file \(found 2\)"):
        source_for(tmp_path / "a")
    (tmp_path / "b").mkdir()
    with pytest.raises(InvalidModelError, match=r"found 0"):
        source_for(tmp_path / "b")


def test_missing_path_and_missing_external_file(tmp_path):
    with pytest.raises(InvalidModelError, match="no such file or folder"):
        source_for(tmp_path / "nope.onnx")
    model_path, _ = external_model(tmp_path / "src")
    (tmp_path / "src" / "weights.bin").unlink()
    write(tmp_path / "src" / "other.txt", b"x")
    with pytest.raises(InvalidModelError, match="'weights.bin' is not beside it"):
        source_for(model_path)


@pytest.mark.parametrize("location", ["/etc/passwd", "../outside.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path, location):
    model, _ = m.with_external_data(1, location)
    path = write(tmp_path / "model.onnx", model)
    write(tmp_path / "other.bin", b"x")
    with pytest.raises(InvalidModelError, match="must be a relative path"):
        source_for(path)


def test_a_file_that_is_not_onnx_is_sent_for_the_server_to_judge(tmp_path):
    path = write(tmp_path / "notes.onnx", b"this is not a protobuf")
    write(tmp_path / "x.txt", b"x")
    source = source_for(path)
    assert not source.archive and packed(source) == b"this is not a protobuf"


def test_multipart_framing_and_length(tmp_path):
    path = write(tmp_path / 'we"ird\nname.onnx', b"abc")
    seen: list[tuple[int, int | None]] = []
    body = UploadBody(source_for(path), lambda sent, total: seen.append((sent, total)))
    raw = b"".join(body.chunks())
    assert int(body.headers["Content-Length"]) == len(raw)
    assert body.headers["Content-Type"] == f"multipart/form-data; boundary={body.boundary}"
    assert b'name="file"; filename="we%22irdname.onnx"\r\n' in raw
    assert raw.endswith(f"abc\r\n--{body.boundary}--\r\n".encode())
    assert seen == [(3, 3)]

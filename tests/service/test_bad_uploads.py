"""Refused uploads: the right status, a one-line reason, and nothing stored or lost."""

from __future__ import annotations

import hashlib

import pytest

from tests.service import onnx_models as m
from tests.service.helpers import stored_models, tmp_entries, upload

MiB = 1 << 20


def _outside_ref() -> bytes:
    model, _ = m.with_external_data(0, location="../secret.bin")
    return model


def _absolute_ref() -> bytes:
    model, _ = m.with_external_data(0, location="/etc/passwd")
    return model


def _archive_escaping_ref() -> bytes:
    model, weights = m.with_external_data(0, location="../weights.bin")
    return m.zip_bytes({"net/model.onnx": model, "weights.bin": weights})


CASES = {
    "text, not onnx": (b"this is not a model\n" * 10, 422, "not an ONNX model"),
    "empty file": (b"", 422, "not an ONNX model"),
    "invalid graph": (m.invalid_graph_bytes(), 422, "invalid ONNX graph"),
    "external data ..": (_outside_ref(), 422, "'..' escapes the model directory"),
    "external data absolute": (_absolute_ref(), 422, "absolute paths are not allowed"),
    "external data missing": (m.with_external_data(0)[0], 422, "no such file"),
    "archive external data ..": (_archive_escaping_ref(), 422, "escapes the model directory"),
    "zip member ..": (
        m.zip_bytes({"model.onnx": m.tiny_bytes(), "../evil.bin": b"x"}),
        422,
        "'..' would leave the archive",
    ),
    "zip member absolute": (
        m.zip_bytes({"model.onnx": m.tiny_bytes(), "/tmp/evil": b"x"}),
        422,
        "absolute paths are not allowed",
    ),
    "zip symlink": (
        m.zip_bytes({"model.onnx": m.tiny_bytes()}, symlinks={"weights.bin": "/etc/passwd"}),
        422,
        "links",
    ),
    "tar member ..": (
        m.tar_gz_bytes({"model.onnx": m.tiny_bytes(), "a/../../evil": b"x"}),
        422,
        "'..' would leave the archive",
    ),
    "tar symlink": (
        m.tar_gz_bytes({"model.onnx": m.tiny_bytes()}, symlinks={"weights.bin": "/etc/passwd"}),
        422,
        "links",
    ),
    "tar hardlink": (
        m.tar_gz_bytes({"model.onnx": m.tiny_bytes()}, hardlinks={"weights.bin": "/etc/passwd"}),
        422,
        "links",
    ),
    "zip bomb (ratio)": (m.zip_bomb_bytes(3 * MiB // 2), 422, "compression ratio"),
    "zip bomb (size)": (m.zip_bomb_bytes(3 * MiB), 422, "expands to more than"),
    "tar.gz bomb (ratio)": (
        m.tar_gz_bytes({"model.onnx": m.tiny_bytes(), "zeros.bin": bytes(3 * MiB // 2)}),
        422,
        "compression ratio",
    ),
    "tar.gz bomb (size)": (
        m.tar_gz_bytes({"model.onnx": m.tiny_bytes(), "zeros.bin": bytes(3 * MiB)}),
        422,
        "expands to more than",
    ),
    "archive without onnx": (m.zip_bytes({"weights.bin": b"123"}), 422, "exactly one .onnx"),
    "archive with two onnx": (
        m.zip_bytes({"a.onnx": m.tiny_bytes(1), "b.onnx": m.tiny_bytes(2)}),
        422,
        "exactly one .onnx",
    ),
    "corrupt gzip": (b"\x1f\x8b" + b"\x00" * 50, 422, "not a valid .tar.gz"),
    "corrupt zip": (b"PK\x03\x04" + b"\x00" * 50, 422, "not a valid zip"),
}


@pytest.mark.slow  # one upload per bad file
@pytest.mark.parametrize("case", list(CASES))
def test_refused_upload_stores_nothing(embedded, case):
    data, status, reason = CASES[case]
    root = embedded.settings.storage_root
    keep = upload(embedded.client, embedded.alice, m.tiny_bytes(77)).json()
    kept_file = root / "models" / keep["id"] / "model.onnx"
    before = stored_models(root)

    r = upload(embedded.client, embedded.alice, data, "upload.bin")
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert reason in detail and "\n" not in detail and "Traceback" not in detail
    assert str(root) not in detail  # no server paths in messages
    assert stored_models(root) == before
    assert tmp_entries(root) == []
    assert hashlib.sha256(kept_file.read_bytes()).hexdigest() == keep["sha256"]
    listing = embedded.client.get("/api/v1/models", headers={"X-API-Key": embedded.alice}).json()
    assert listing["count"] == 1


def test_oversize_upload_is_413(embedded):
    r = upload(embedded.client, embedded.alice, b"\0" * (2 * MiB))
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    assert tmp_entries(embedded.settings.storage_root) == []


def test_oversize_upload_without_content_length_is_413(embedded):
    """Chunked body (no Content-Length): the limit is enforced while streaming."""
    boundary = "xyzzy"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.onnx"\r\n\r\n'
    ).encode()

    def body():
        yield head
        for _ in range(4):
            yield b"\0" * (MiB // 2 + 1)
        yield f"\r\n--{boundary}--\r\n".encode()

    r = embedded.client.post(
        "/api/v1/models",
        content=body(),
        headers={
            "X-API-Key": embedded.alice,
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    assert r.status_code == 413, r.text
    assert tmp_entries(embedded.settings.storage_root) == []


def test_not_multipart_is_415(embedded):
    r = embedded.client.post(
        "/api/v1/models",
        content=m.tiny_bytes(),
        headers={"X-API-Key": embedded.alice, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 415


def test_missing_file_field_is_422(embedded):
    r = embedded.client.post(
        "/api/v1/models",
        headers={"X-API-Key": embedded.alice},
        files={"other": ("m.onnx", m.tiny_bytes())},
    )
    assert r.status_code == 422 and "'file'" in r.json()["detail"]


def test_malformed_multipart_is_400(embedded):
    r = embedded.client.post(
        "/api/v1/models",
        content=b"--b\r\ngarbage without headers end",
        headers={"X-API-Key": embedded.alice, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code in (400, 422), r.text
    assert tmp_entries(embedded.settings.storage_root) == []


def test_refusal_names_the_uploaded_file(embedded):
    """A lone .onnx is stored as model.onnx; the message names the file the user sent."""
    r = upload(embedded.client, embedded.alice, b"plain text\n" * 10, "notes.txt")
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("'notes.txt': not an ONNX model"), detail
    assert "model.onnx" not in detail

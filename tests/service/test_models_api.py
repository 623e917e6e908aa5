"""Uploading models (embedded app: SQLite + in-process worker)."""

from __future__ import annotations

import hashlib

import pytest

from tests.service import onnx_models as m
from tests.service.helpers import stored_models, tmp_entries, upload


def test_upload_onnx_gives_id_sha_and_location(embedded):
    data = m.tiny_bytes(1)
    r = upload(embedded.client, embedded.alice, data, "tiny.onnx")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] and body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["size_bytes"] == len(data) and body["upload_format"] == "onnx"
    assert body["name"] == "tiny.onnx" and body["opset"] == 17
    assert body["inputs"] == [{"name": "x", "dtype": "FLOAT", "shape": [1, 4]}]
    assert r.headers["location"] == f"/api/v1/models/{body['id']}"
    got = embedded.client.get(r.headers["location"], headers={"X-API-Key": embedded.alice})
    assert got.status_code == 200 and got.json() == body
    stored = embedded.settings.storage_root / "models" / body["id"] / "model.onnx"
    assert stored.read_bytes() == data
    assert tmp_entries(embedded.settings.storage_root) == []


def test_same_bytes_same_model_per_user(embedded):
    data = m.tiny_bytes(2)
    first = upload(embedded.client, embedded.alice, data)
    again = upload(embedded.client, embedded.alice, data, "renamed.onnx")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    other = upload(embedded.client, embedded.bob, data)
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert len(stored_models(embedded.settings.storage_root)) == 2


def test_dynamic_dims_are_reported(embedded):
    r = upload(embedded.client, embedded.alice, m.tiny_model(3, dynamic=True).SerializeToString())
    assert r.status_code == 201
    assert r.json()["inputs"][0]["shape"] == ["N", 4]


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_archive_with_external_data(embedded, kind):
    model, weights = m.with_external_data(4)
    members = {"net/model.onnx": model, "net/weights.bin": weights, "README.txt": b"hi"}
    data = m.zip_bytes(members) if kind == "zip" else m.tar_gz_bytes(members)
    r = upload(embedded.client, embedded.alice, data, f"net.{kind}")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["upload_format"] == kind
    model_dir = embedded.settings.storage_root / "models" / body["id"]
    assert (model_dir / "net" / "weights.bin").read_bytes() == weights


def test_list_models_paginates_and_is_per_user(embedded):
    ids = [
        upload(embedded.client, embedded.alice, m.tiny_bytes(10 + i)).json()["id"] for i in range(3)
    ]
    upload(embedded.client, embedded.bob, m.tiny_bytes(99))
    h = {"X-API-Key": embedded.alice}
    page1 = embedded.client.get("/api/v1/models?skip=0&limit=2", headers=h).json()
    page2 = embedded.client.get("/api/v1/models?skip=2&limit=2", headers=h).json()
    assert page1["count"] == page2["count"] == 3
    assert len(page1["data"]) == 2 and len(page2["data"]) == 1
    assert {d["id"] for d in page1["data"] + page2["data"]} == set(ids)
    assert embedded.client.get("/api/v1/models?limit=0", headers=h).status_code == 422


def test_other_users_model_is_404(embedded):
    mid = upload(embedded.client, embedded.alice, m.tiny_bytes(5)).json()["id"]
    r = embedded.client.get(f"/api/v1/models/{mid}", headers={"X-API-Key": embedded.bob})
    assert r.status_code == 404 and r.json() == {"detail": "model not found"}

"""The API and its in-process worker with DNNFUSION_STORAGE_BACKEND=s3 (moto's S3 server on
loopback): models and artifacts only in the bucket, downloads streamed or redirected, and a
store that fails answering 503 / failing the job with one line."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer

from dnfstore import migrate
from tests.helpers.s3 import S3Server
from tests.service import onnx_models as m
from tests.service.conftest import add_user, embedded_settings
from tests.service.helpers import upload, wait_final
from tests.service.procs import free_port
from workers.embedded import EmbeddedWorker


def s3_app(data: Path, endpoint: str, bucket: str, **overrides):
    from service.main import create_app

    settings = embedded_settings(data, storage_backend="s3", s3_bucket=bucket,
                                 s3_endpoint_url=endpoint, s3_prefix="svc", **overrides)
    migrate.upgrade(settings)
    key, _ = add_user(settings, "alice")
    return create_app(settings, dispatcher=EmbeddedWorker(settings)), settings, key


@pytest.fixture
def s3_client(s3_server: S3Server, tmp_path: Path, request) -> Iterator:
    presign = getattr(request, "param", False)
    bucket = s3_server.new_bucket()
    app, settings, key = s3_app(tmp_path / "data", s3_server.url, bucket, s3_presign=presign)
    with TestClient(app) as client:
        yield client, settings, key, bucket


def compile_tiny(client, key: str, seed: int = 3) -> tuple[dict, dict]:
    r = upload(client, key, m.tiny_bytes(seed))
    assert r.status_code == 201, r.text
    model = r.json()
    r = client.post("/api/v1/compilations", headers={"X-API-Key": key},
                    json={"model_id": model["id"], "input_shapes": {"x": [1, 4]}})
    assert r.status_code == 202, r.text
    return model, wait_final(client, key, r.headers["location"], timeout=120)


def check_tarball(data: bytes, job: dict) -> None:
    assert len(data) == job["artifact_bytes"]
    assert hashlib.sha256(data).hexdigest() == job["artifact_sha256"]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
    assert "artifact/plan.json" in names and "artifact/report.json" in names


@pytest.mark.slow  # 5-8 s on this machine (a compilation, then every read path)
def test_models_and_artifacts_live_in_the_bucket(s3_server, s3_client) -> None:
    client, settings, key, bucket = s3_client
    model, job = compile_tiny(client, key)
    assert job["state"] == "succeeded", job
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted([
        f"svc/models/{model['id']}/model.onnx",
        f"svc/compilations/{job['id']}/artifact.tar.gz",
        f"svc/compilations/{job['id']}/report.json",
    ])
    root = settings.storage_root  # this host's scratch: no stored object, nothing left over
    assert not (root / "models").exists() and not (root / "compilations").exists()
    assert sorted(p.name for p in (root / "tmp").iterdir()) == []
    assert sorted(p.name for p in (root / "work").iterdir()) == []
    assert (root / "cache" / "models" / model["id"] / "model.onnx").read_bytes() == m.tiny_bytes(3)

    h = {"X-API-Key": key}
    r = client.get(f"/api/v1/compilations/{job['id']}/artifact", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/gzip"
    assert r.headers["content-disposition"] == f'attachment; filename="dnnfusion-{job["id"]}.tar.gz"'
    check_tarball(r.content, job)
    report = client.get(f"/api/v1/compilations/{job['id']}/report", headers=h)
    assert report.status_code == 200 and report.json()["fused_blocks"] == job["summary"]["fused_blocks"]
    graph = client.get(f"/api/v1/compilations/{job['id']}/graph", headers=h)
    assert graph.status_code == 200 and graph.json()["fused_blocks"] == job["summary"]["fused_blocks"]

    # An object gone from the bucket is a 404, not a 500.
    s3_server.client().delete_object(Bucket=bucket, Key=f"svc/compilations/{job['id']}/artifact.tar.gz")
    gone = client.get(f"/api/v1/compilations/{job['id']}/artifact", headers=h)
    assert gone.status_code == 404
    assert gone.json() == {"detail": "the artifact of this compilation is no longer stored"}
    assert client.get(f"/api/v1/compilations/{job['id']}/graph", headers=h).status_code == 404


@pytest.mark.parametrize("s3_client", [True], indirect=True)
def test_presign_redirects_the_download_to_the_store(s3_server, s3_client) -> None:
    client, _, key, _ = s3_client
    _, job = compile_tiny(client, key, seed=4)
    assert job["state"] == "succeeded", job
    r = client.get(f"/api/v1/compilations/{job['id']}/artifact", headers={"X-API-Key": key},
                   follow_redirects=False)
    assert r.status_code == 307
    location = r.headers["location"]
    assert location.startswith(f"{s3_server.url}/") and "X-Amz-Signature" in location
    fetched = httpx.get(location)  # no API key: the signature is the permission
    assert fetched.status_code == 200
    check_tarball(fetched.content, job)
    # The report is small: always streamed by the API.
    report = client.get(f"/api/v1/compilations/{job['id']}/report", headers={"X-API-Key": key},
                        follow_redirects=False)
    assert report.status_code == 200 and report.json()["fused_blocks"] == job["summary"]["fused_blocks"]


def test_a_missing_bucket_is_a_503_with_one_line(s3_server, tmp_path: Path) -> None:
    app, settings, key = s3_app(tmp_path / "data", s3_server.url, "bucket-nobody-made")
    with TestClient(app) as client:
        r = upload(client, key, m.tiny_bytes(5))
    assert r.status_code == 503, r.text
    assert r.json() == {"detail": "object store refused the request (NoSuchBucket); try again later"}
    assert r.headers["retry-after"] == "30"
    assert sorted(p.name for p in (settings.storage_root / "tmp").iterdir()) == []


@pytest.mark.slow  # ~13 s: botocore's retries against a closed port, twice
def test_a_store_that_goes_away_fails_the_job_and_503s(tmp_path: Path) -> None:
    """Its own S3 server, stopped between the upload and the compilation."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(url=f"http://{host}:{port}")
    try:
        bucket = s3.new_bucket()
        app, _, key = s3_app(tmp_path / "data", s3.url, bucket)
        with TestClient(app) as client:
            model = upload(client, key, m.tiny_bytes(6)).json()
            server.stop()
            r = client.post("/api/v1/compilations", headers={"X-API-Key": key},
                            json={"model_id": model["id"], "input_shapes": {"x": [1, 4]}})
            job = wait_final(client, key, r.headers["location"], timeout=120)
            assert job["state"] == "failed"
            assert job["error"] == ("fetching the model failed: object store unreachable "
                                    "(EndpointConnectionError)")
            again = upload(client, key, m.tiny_bytes(7))
            assert again.status_code == 503
            assert again.json()["detail"] == ("object store unreachable "
                                              "(EndpointConnectionError); try again later")
            assert str(port) not in again.text
    finally:
        server.stop()

"""What only the S3 backend does: multipart uploads, the key prefix, presigned URLs, and its
errors as one line (moto's S3 server on loopback)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import EndpointConnectionError
from pydantic import ValidationError

from dnfstore.objectstore import BadKey, ObjectMissing, StoreUnavailable
from dnfstore.s3store import MIN_PART_BYTES, S3ObjectStore
from dnfstore.settings import Settings
from tests.helpers.s3 import S3Server
from tests.service.procs import free_port
from tests.storage.conftest import THRESHOLD, s3_store


def big_file(path: Path, size: int) -> str:
    data = hashlib.shake_256(b"dnnfusion").digest(size)  # not compressible, not repeating
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def test_a_file_above_the_threshold_goes_up_in_parts(s3_server: S3Server, tmp_path: Path) -> None:
    store = s3_store(s3_server)
    size = 2 * MIN_PART_BYTES + 3 * THRESHOLD  # 13 MiB: parts of 5 + 5 + 3 MiB
    sha = big_file(tmp_path / "big.bin", size)
    store.put_file(tmp_path / "big.bin", "compilations/j/artifact.tar.gz")
    head = s3_server.client().head_object(Bucket=store.bucket, Key="compilations/j/artifact.tar.gz")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"').endswith("-3")  # S3's ETag of a 3-part upload
    store.get_to_path("compilations/j/artifact.tar.gz", tmp_path / "back.bin")
    assert hashlib.sha256((tmp_path / "back.bin").read_bytes()).hexdigest() == sha
    with store.open_stream("compilations/j/artifact.tar.gz") as f:
        streamed = hashlib.sha256()
        while chunk := f.read(1 << 20):
            streamed.update(chunk)
    assert streamed.hexdigest() == sha


def test_a_file_below_the_threshold_goes_up_whole(s3_server: S3Server, tmp_path: Path) -> None:
    store = s3_store(s3_server)
    big_file(tmp_path / "small.bin", THRESHOLD - 1)
    store.put_file(tmp_path / "small.bin", "models/m/model.onnx")
    head = s3_server.client().head_object(Bucket=store.bucket, Key="models/m/model.onnx")
    assert "-" not in head["ETag"].strip('"')


def test_keys_live_under_the_prefix(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    a = S3ObjectStore(bucket, prefix="/site-a/", endpoint_url=s3_server.url)
    b = S3ObjectStore(bucket, prefix="site-b", endpoint_url=s3_server.url)
    (tmp_path / "f").write_bytes(b"a's")
    a.put_file(tmp_path / "f", "models/m/model.onnx")
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["site-a/models/m/model.onnx"]
    assert b.list_keys("models") == []
    with pytest.raises(ObjectMissing):
        b.info("models/m/model.onnx")
    b.delete("models")  # cannot reach a's objects
    assert a.size("models/m/model.onnx") == 3


def test_presigned_url_serves_the_object_as_an_attachment(s3_server, tmp_path: Path) -> None:
    store = s3_store(s3_server, presign=True, presign_expiry_s=60)
    (tmp_path / "f").write_bytes(b"tarball bytes")
    store.put_file(tmp_path / "f", "compilations/j/artifact.tar.gz")
    url = store.presigned_url("compilations/j/artifact.tar.gz",
                              filename='dnnfusion-j.tar.gz"; x=1', content_type="application/gzip")
    assert url is not None and url.startswith(s3_server.url) and "X-Amz-Signature" in url
    r = httpx.get(url)  # no credentials: the signature is the permission
    assert r.status_code == 200 and r.content == b"tarball bytes"
    # The file name rides in the signed query (S3 sends it back as Content-Disposition; moto
    # ignores response-* overrides, so the query is what is checked), cleaned of quotes.
    query = httpx.URL(url).params
    assert query["response-content-disposition"] == 'attachment; filename="dnnfusion-j.tar.gzx1"'
    assert query["response-content-type"] == "application/gzip"
    tampered = url.replace("artifact.tar.gz", "report.json")
    assert httpx.get(tampered).status_code == 403
    plain = S3ObjectStore(store.bucket, endpoint_url=s3_server.url)  # presign off
    assert plain.presigned_url("compilations/j/artifact.tar.gz", filename="a",
                               content_type="application/gzip") is None


def test_presigned_urls_name_the_public_endpoint(s3_server: S3Server) -> None:
    store = S3ObjectStore(s3_server.new_bucket(), endpoint_url=s3_server.url, presign=True,
                          presign_endpoint_url="https://objects.example.org")
    url = store.presigned_url("compilations/j/artifact.tar.gz", filename="a.tar.gz",
                              content_type="application/gzip")
    assert url.startswith("https://objects.example.org/")


def test_an_unreachable_store_is_one_line_without_the_endpoint(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    store = S3ObjectStore("bucket", endpoint_url=f"http://127.0.0.1:{port}", max_attempts=1)
    (tmp_path / "f").write_bytes(b"x")
    for call in (
        lambda: store.put_file(tmp_path / "f", "models/m/model.onnx"),
        lambda: store.info("models/m/model.onnx"),
        lambda: store.open_stream("models/m/model.onnx"),
        lambda: store.get_to_path("models/m/model.onnx", tmp_path / "g"),
        lambda: store.list_keys("models"),
    ):
        with pytest.raises(StoreUnavailable) as err:
            call()
        text = str(err.value)
        assert text.startswith("object store unreachable (") and "\n" not in text
        assert str(port) not in text
    assert (tmp_path / "f").read_bytes() == b"x"  # a failed upload keeps the file


def test_a_missing_bucket_is_unavailable_naming_the_code(s3_server, tmp_path: Path) -> None:
    store = S3ObjectStore("no-such-bucket-here", endpoint_url=s3_server.url)
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(StoreUnavailable, match=r"refused the request \(NoSuchBucket\)"):
        store.put_file(tmp_path / "f", "models/m/model.onnx")
    with pytest.raises(StoreUnavailable, match="NoSuchBucket"):
        store.list_keys("models")


def test_a_half_uploaded_directory_is_removed(s3_server: S3Server, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The second file's upload fails (the connection drops: injected), the first one, already
    in the bucket, is deleted again."""
    store = s3_store(s3_server)
    staging = tmp_path / "stage"
    staging.mkdir()
    (staging / "a.onnx").write_bytes(b"a")
    (staging / "b.bin").write_bytes(b"b")
    real_upload = store.client.upload_file

    def upload(filename, bucket, key, **kw):
        if key.endswith("b.bin"):
            raise EndpointConnectionError(endpoint_url=s3_server.url)
        return real_upload(filename, bucket, key, **kw)

    monkeypatch.setattr(store.client, "upload_file", upload)
    with pytest.raises(StoreUnavailable, match="EndpointConnectionError"):
        store.put_dir(staging, "models/m")
    assert s3_server.client().list_objects_v2(Bucket=store.bucket).get("Contents", []) == []
    assert sorted(p.name for p in staging.iterdir()) == ["a.onnx", "b.bin"]  # still the caller's


def test_a_file_name_that_is_no_key_uploads_nothing(s3_server: S3Server, tmp_path: Path) -> None:
    store = s3_store(s3_server)
    staging = tmp_path / "stage"
    staging.mkdir()
    (staging / "a.onnx").write_bytes(b"a")
    (staging / "b\\c.bin").write_bytes(b"b")
    with pytest.raises(BadKey, match="leaves the store"):
        store.put_dir(staging, "models/m")
    assert store.list_keys("models") == []


@pytest.mark.parametrize("prefix", ["../other", "a/../b", "a//b", "a\\b"])
def test_a_prefix_that_leaves_the_bucket_root_is_a_settings_error(prefix: str) -> None:
    with pytest.raises(ValidationError, match="s3_prefix .* must be a plain relative path"):
        Settings(storage_backend="s3", s3_bucket="b", s3_prefix=prefix)
    assert Settings(storage_backend="s3", s3_bucket="b", s3_prefix="/site/a/").s3_prefix


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(ValidationError, match="s3_bucket must be set"):
        Settings(storage_backend="s3", s3_bucket="")

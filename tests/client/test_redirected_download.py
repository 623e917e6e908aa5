"""A download the API answers with a 307 to a presigned object-store URL (DNNFUSION_S3_PRESIGN):
the client GETs that URL without its API key, retries it like any download, and checks the
size and sha256 the API announced (two scripted loopback servers: the API and the store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnnfusion.client import Client
from dnnfusion.client.errors import DnnfusionError
from tests.client.stub import Answer, Stub
from tests.client.test_retries import FAST, JOB, JOB_PATH, _succeeded

OBJECT = "/bucket/compilations/x/artifact.tar.gz"
SIGNED = "X-Amz-Expires=300&X-Amz-Signature=abc123"


@pytest.fixture
def servers() -> Iterator[tuple[Stub, Stub]]:
    with Stub() as api, Stub() as store:
        yield api, store


def redirect(api: Stub, store: Stub, data: bytes) -> None:
    api.on("GET", JOB_PATH, Answer(200, _succeeded(data)))
    api.on("GET", f"{JOB_PATH}/artifact",
           Answer(307, b"", {"Location": f"{store.url}{OBJECT}?{SIGNED}"}))


def test_the_presigned_url_is_fetched_without_the_key(servers, tmp_path) -> None:
    api, store = servers
    data = bytes(range(256)) * 300
    redirect(api, store, data)
    store.on("GET", OBJECT, Answer(200, data, {"Content-Type": "application/gzip"}))
    with Client(api.url, "secret-key", retry_policy=FAST) as c:
        path = c.compilation(JOB).download(tmp_path / "a.tar.gz")
    assert path.read_bytes() == data
    assert api.requests("GET", f"{JOB_PATH}/artifact")[0].headers["X-API-Key"] == "secret-key"
    [fetched] = store.requests("GET", OBJECT)
    assert fetched.query == SIGNED
    assert "X-API-Key" not in fetched.headers and "secret-key" not in str(fetched.headers)


def test_a_busy_store_is_retried(servers, tmp_path) -> None:
    api, store = servers
    data = b"artifact" * 100
    redirect(api, store, data)
    store.on("GET", OBJECT, Answer(503, b"<Error><Code>SlowDown</Code></Error>"),
             Answer(200, data))
    with Client(api.url, "k", retry_policy=FAST) as c:
        assert c.compilation(JOB).download(tmp_path / "a.tar.gz").read_bytes() == data
    assert store.count("GET", OBJECT) == 2


def test_an_expired_url_is_an_error_and_leaves_no_file(servers, tmp_path) -> None:
    api, store = servers
    redirect(api, store, b"artifact")
    store.on("GET", OBJECT, Answer(403, b"<Error><Code>AccessDenied</Code></Error>",
                                   {"Content-Type": "application/xml"}))
    with Client(api.url, "k", retry_policy=FAST) as c, pytest.raises(DnnfusionError):
        c.compilation(JOB).download(tmp_path / "a.tar.gz")
    assert list(tmp_path.iterdir()) == []

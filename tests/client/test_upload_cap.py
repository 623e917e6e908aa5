"""An upload over the service's cap: the server answers 413 while the client is still
sending; the client reports the server's reason once (no retry, no connection error)."""

from __future__ import annotations

import random

import pytest

from dnnfusion.client import Client, InvalidModelError
from tests.client.server import start_service

pytestmark = pytest.mark.slow

CAP = 1 << 20


@pytest.fixture(scope="module")
def small_service(tmp_path_factory):
    svc = start_service(tmp_path_factory.mktemp("capped"), DNNFUSION_MAX_UPLOAD_BYTES=str(CAP))
    try:
        yield svc
    finally:
        svc.proc.stop()


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_an_upload_over_the_cap_is_the_servers_413(small_service, tmp_path, kind):
    big = tmp_path / "m" / "model.onnx"
    big.parent.mkdir()
    big.write_bytes(b"\x08\x07" * (4 * CAP))  # 8 MiB
    if kind == "folder":  # packed on the fly, chunked: no Content-Length to refuse early
        (tmp_path / "m" / "weights.bin").write_bytes(random.Random(0).randbytes(4 * CAP))
    with Client(small_service.base_url, small_service.keys["alice"]) as client, \
            pytest.raises(InvalidModelError) as err:
        client.upload_model(big if kind == "file" else big.parent)
    assert err.value.status_code == 413
    assert err.value.detail == f"upload exceeds the limit of {CAP} bytes"
    uploads = small_service.proc.output().count('"POST /api/v1/models HTTP/1.1" 413')
    assert uploads == (1 if kind == "file" else 2)  # one request per test, none retried

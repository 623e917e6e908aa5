"""Retries against a scripted loopback server: 502/503/504 and lost connections are retried
with backoff (bounded), 4xx never; a compile POST is never sent twice once it may have been
received, unless it carries an Idempotency-Key (then it is resent with the same key); uploads
and downloads start over from the first byte."""

from __future__ import annotations

import hashlib
import json
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from dnnfusion.client import (
    Client,
    InvalidModelError,
    NotFoundError,
    OutcomeUnknownError,
    QuotaExceededError,
    RetryPolicy,
    ServerError,
    ServerUnreachableError,
)
from dnnfusion.client.errors import ConflictError, DnnfusionError
from tests.client.stub import Answer, Stub

JOB = str(uuid.uuid4())
MODEL = str(uuid.uuid4())
JOB_PATH = f"/api/v1/compilations/{JOB}"
FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05)


def job_body(job_id: str = JOB, state: str = "queued", **extra) -> dict:
    return {
        "id": job_id, "model_id": MODEL, "target": "host", "device_class": None,
        "input_shapes": {}, "options": {}, "state": state, "stage": None, "error": None,
        "attempts": 0, "timings": {"queued_ms": None, "run_ms": None, "stages_ms": {}},
        "summary": {}, "artifact_bytes": None, "artifact_sha256": None, **extra,
    }


def model_body() -> dict:
    return {"id": MODEL, "name": "m.onnx", "sha256": "0" * 64, "size_bytes": 1,
            "upload_format": "onnx", "opset": 17, "inputs": [], "created_at": "2026-01-01T00:00:00"}


@pytest.fixture
def stub():
    with Stub() as s:
        yield s


def client(stub: Stub, policy: RetryPolicy = FAST) -> Client:
    return Client(stub.url, "key", retry_policy=policy, timeout_s=10)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_twice_then_ok_is_three_requests(stub, status):
    busy = Answer(status, {"detail": "upstream busy"})
    stub.on("GET", JOB_PATH, busy, busy, Answer(200, job_body(state="running")))
    with client(stub) as c:
        assert c.compilation(JOB).status().state == "running"
    assert stub.count("GET", JOB_PATH) == 3


def test_gateway_errors_are_bounded(stub):
    stub.on("GET", JOB_PATH, Answer(503, {"detail": "down for maintenance"}))
    with client(stub) as c, pytest.raises(ServerError) as err:
        c.compilation(JOB).status()
    assert stub.count("GET", JOB_PATH) == FAST.max_attempts
    assert err.value.status_code == 503 and "down for maintenance" in str(err.value)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, InvalidModelError), (422, InvalidModelError), (404, NotFoundError),
     (429, QuotaExceededError), (500, ServerError)],
)
def test_other_errors_are_not_retried(stub, status, kind):
    stub.on("GET", JOB_PATH, Answer(status, {"detail": f"refused with {status}"}),
            Answer(200, job_body()))
    with client(stub) as c, pytest.raises(kind) as err:
        c.compilation(JOB).status()
    assert stub.count("GET", JOB_PATH) == 1
    assert err.value.status_code == status
    assert err.value.detail == f"refused with {status}"


def test_quota_error_carries_retry_after(stub):
    stub.on("POST", "/api/v1/compilations",
            Answer(429, {"detail": "3 compilations running"}, {"Retry-After": "7"}))
    stub.on("GET", "/api/v1/compilations", Answer(200, {"data": [], "count": 0}))
    with client(stub) as c, pytest.raises(QuotaExceededError) as err:
        c.compile(MODEL)
    assert err.value.retry_after == 7.0
    assert stub.count("POST", "/api/v1/compilations") == 1


def test_a_503_retry_waits_at_least_retry_after(stub):
    slept: list[float] = []

    class Recording(RetryPolicy):
        def delay(self, retry, retry_after=None, rng=None):
            slept.append(super().delay(retry, retry_after, rng))
            return 0.0

    stub.on("GET", JOB_PATH, Answer(503, {"detail": "busy"}, {"Retry-After": "1"}),
            Answer(200, job_body()))
    policy = Recording(max_attempts=3, base_delay_s=0.001, max_delay_s=5)
    with client(stub, policy) as c:
        c.compilation(JOB).status()
    assert len(slept) == 1 and slept[0] >= 1.0


def test_backoff_grows_and_is_capped():
    policy = RetryPolicy(base_delay_s=0.5, max_delay_s=4)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [policy.delay(retry) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # jittered over the whole range, not a fixed value
    assert policy.delay(1, retry_after=60) == 4  # the server's wish, capped


def test_refused_connection_is_retried_then_reported():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    retries: list[int] = []

    class Counting(RetryPolicy):
        def delay(self, retry, retry_after=None, rng=None):
            retries.append(retry)
            return 0.0

    url = f"http://127.0.0.1:{port}"
    with (Client(url, "key", retry_policy=Counting(max_attempts=3)) as c,
          pytest.raises(ServerUnreachableError) as err):
        c.compilation(JOB).status()
    assert retries == [1, 2]  # three attempts, two pauses
    assert "after 3 attempts" in str(err.value)


def test_upload_is_resent_whole_on_503(stub, tmp_path):
    data = bytes(range(256)) * 4096 * 3  # 3 MiB: several 1 MiB chunks
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    busy = Answer(503, {"detail": "busy"})
    stub.on("POST", "/api/v1/models", busy, busy, Answer(201, model_body()))
    with client(stub) as c:
        model = c.upload_model(path)
    assert model.id == MODEL and model.created
    sent = stub.requests("POST", "/api/v1/models")
    assert len(sent) == 3
    assert len({s.body_sha256 for s in sent}) == 1  # the same body each time, from the start
    assert all(s.body_bytes > len(data) for s in sent)  # the whole file plus the form framing
    assert sent[0].headers["Content-Length"] == str(sent[0].body_bytes)


def test_upload_400_is_not_retried(stub, tmp_path):
    (tmp_path / "m.onnx").write_bytes(b"not onnx")
    stub.on("POST", "/api/v1/models", Answer(400, {"detail": "malformed multipart body"}))
    with client(stub) as c, pytest.raises(InvalidModelError, match="malformed multipart"):
        c.upload_model(tmp_path / "m.onnx")
    assert stub.count("POST", "/api/v1/models") == 1


def test_compile_after_503_is_not_reposted_and_finds_the_accepted_job(stub):
    other = job_body(str(uuid.uuid4()))
    other["target"] = "linux-arm64"  # a different request of the same model: not ours
    ours = job_body(str(uuid.uuid4()), input_shapes={"x": [1, 4]})
    stub.on("GET", "/api/v1/compilations",
            Answer(200, {"data": [job_body()], "count": 1}),  # before the POST
            Answer(200, {"data": [ours, other, job_body()], "count": 3}))  # after it
    stub.on("POST", "/api/v1/compilations", Answer(503, {"detail": "proxy: upstream timeout"}))
    with client(stub) as c:
        job = c.compile(MODEL, input_shapes={"x": (1, 4)})
    assert job.id == ours["id"]
    assert stub.count("POST", "/api/v1/compilations") == 1


def test_compile_after_503_without_a_new_job_says_so(stub):
    stub.on("GET", "/api/v1/compilations", Answer(200, {"data": [], "count": 0}))
    stub.on("POST", "/api/v1/compilations", Answer(502, {"detail": "bad gateway"}))
    with client(stub) as c, pytest.raises(OutcomeUnknownError, match="most likely it was not queued"):
        c.compile(MODEL)
    assert stub.count("POST", "/api/v1/compilations") == 1


def test_compile_connection_dropped_after_sending_is_not_reposted(stub):
    stub.on("GET", "/api/v1/compilations", Answer(200, {"data": [], "count": 0}))
    stub.on("POST", "/api/v1/compilations", Answer(202, job_body(), cut_after=5))
    with client(stub) as c, pytest.raises(OutcomeUnknownError):
        c.compile(MODEL)
    assert stub.count("POST", "/api/v1/compilations") == 1


def _succeeded(data: bytes) -> dict:
    return job_body(state="succeeded", artifact_bytes=len(data),
                    artifact_sha256=hashlib.sha256(data).hexdigest())


def test_download_cut_short_is_retried_and_written_atomically(stub, tmp_path):
    data = bytes(range(256)) * 1000
    stub.on("GET", JOB_PATH, Answer(200, _succeeded(data)))
    stub.on("GET", f"{JOB_PATH}/artifact",
            Answer(200, data, {"Content-Type": "application/gzip"}, cut_after=len(data) // 2),
            Answer(200, data, {"Content-Type": "application/gzip"}))
    dest = tmp_path / "out" / "a.tar.gz"
    with client(stub) as c:
        job = c.compilation(JOB)
        job.status()
        assert job.download(dest) == dest
    assert dest.read_bytes() == data
    assert stub.count("GET", f"{JOB_PATH}/artifact") == 2
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.tar.gz"]  # no .part left


def test_download_with_a_wrong_checksum_leaves_nothing(stub, tmp_path):
    data = b"artifact bytes"
    body = _succeeded(data)
    body["artifact_sha256"] = "f" * 64
    stub.on("GET", JOB_PATH, Answer(200, body))
    stub.on("GET", f"{JOB_PATH}/artifact", Answer(200, data))
    with client(stub) as c:
        job = c.compilation(JOB)
        job.status()
        with pytest.raises(DnnfusionError, match="sha256"):
            job.download(tmp_path / "a.tar.gz")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_destination_gets_the_servers_name(stub, tmp_path):
    stub.on("GET", JOB_PATH, Answer(200, _succeeded(b"x")))
    stub.on("GET", f"{JOB_PATH}/artifact", Answer(200, b"x"))
    with client(stub) as c:
        path = c.compilation(JOB).download(tmp_path)  # reads the status first: size, sha256
    assert path == tmp_path / f"dnnfusion-{JOB}.tar.gz" and path.read_bytes() == b"x"
    assert stub.count("GET", JOB_PATH) == 1


def test_compile_after_503_when_the_list_fails_too(stub):
    stub.on("GET", "/api/v1/compilations", Answer(200, {"data": [], "count": 0}),
            Answer(500, {"detail": "database down"}))
    stub.on("POST", "/api/v1/compilations", Answer(503, {"detail": "busy"}))
    with client(stub) as c, pytest.raises(OutcomeUnknownError, match="database down"):
        c.compile(MODEL)
    assert stub.count("POST", "/api/v1/compilations") == 1


def _upload_peak(stub, path) -> int:
    """Upload ``path`` to the stub; the peak Python allocation during the upload, in bytes."""
    import tracemalloc

    stub.on("POST", "/api/v1/models", Answer(201, model_body()))
    with client(stub) as c:
        tracemalloc.start()
        try:
            c.upload_model(path)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_upload_streams_without_holding_the_file(stub, tmp_path):
    big = tmp_path / "big.onnx"
    with open(big, "wb") as f:  # 64 MiB of incompressible-enough bytes
        block = hashlib.sha256(b"seed").digest() * (1 << 15)
        for _ in range(64):
            f.write(block)
    peak = _upload_peak(stub, big)
    assert stub.requests("POST", "/api/v1/models")[0].body_bytes > 64 << 20
    assert peak < 16 << 20, f"peak Python allocation {peak} bytes for a 64 MiB upload"


def test_archive_upload_streams_without_holding_the_files(stub, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"graph")
    with open(folder / "weights.bin", "wb") as f:
        block = hashlib.sha256(b"w").digest() * (1 << 15)
        for _ in range(64):
            f.write(block)
    peak = _upload_peak(stub, folder)
    seen = stub.requests("POST", "/api/v1/models")[0]
    assert seen.headers.get("Transfer-Encoding") == "chunked"
    assert peak < 16 << 20, f"peak Python allocation {peak} bytes for a 64 MiB folder"


def test_key_and_path_of_requests(stub, tmp_path: Path):
    stub.on("GET", JOB_PATH, Answer(200, job_body()))
    with Client(stub.url + "/api/v1/", "secret-key", retry_policy=FAST) as c:
        c.compilation(JOB).status()
    (seen,) = stub.requests("GET", JOB_PATH)
    assert seen.headers["X-API-Key"] == "secret-key"


def test_compile_after_503_when_nothing_could_be_listed_before(stub):
    stub.on("GET", "/api/v1/compilations", Answer(503, {"detail": "busy"}),
            Answer(200, {"data": [job_body(str(uuid.uuid4()))], "count": 1}))
    stub.on("POST", "/api/v1/compilations", Answer(503, {"detail": "busy"}))
    with client(stub, RetryPolicy(max_attempts=1)) as c, \
            pytest.raises(OutcomeUnknownError, match="could not be listed before"):
        c.compile(MODEL)
    assert stub.count("POST", "/api/v1/compilations") == 1


def test_compile_with_an_idempotency_key_is_resent_with_the_same_key(stub):
    busy = Answer(503, {"detail": "proxy: upstream timeout"})
    stub.on("POST", "/api/v1/compilations", busy, Answer(202, job_body(), cut_after=5),
            Answer(200, job_body()))
    with client(stub) as c:
        job = c.compile(MODEL, input_shapes={"x": (1, 4)}, idempotency_key="key-1")
    assert job.id == JOB and job.last_status.state == "queued"
    sent = stub.requests("POST", "/api/v1/compilations")
    assert len(sent) == 3
    assert {s.headers.get("Idempotency-Key") for s in sent} == {"key-1"}
    assert len({s.body_sha256 for s in sent}) == 1
    assert stub.count("GET", "/api/v1/compilations") == 0  # no listing needed to find it


def test_compile_reusing_a_key_with_other_settings_is_a_conflict(stub):
    stub.on("POST", "/api/v1/compilations",
            Answer(409, {"detail": "Idempotency-Key 'key-2' was already used with a different "
                                   "request body"}))
    with client(stub) as c, pytest.raises(ConflictError, match="already used"):
        c.compile(MODEL, idempotency_key="key-2")
    assert stub.count("POST", "/api/v1/compilations") == 1


def test_a_cache_hit_answer_is_the_jobs_first_status(stub):
    origin = str(uuid.uuid4())
    stub.on("GET", "/api/v1/compilations", Answer(200, {"data": [], "count": 0}))
    stub.on("POST", "/api/v1/compilations",
            Answer(201, job_body(state="succeeded", cache_hit=True, cached_from=origin)))
    with client(stub) as c:
        job = c.compile(MODEL, cache=True)
    assert job.last_status.cache_hit and job.last_status.cached_from == origin
    assert job.last_status.done


def test_cache_false_is_sent():
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"data": [], "count": 0})
        seen.append(json.loads(request.content))
        return httpx.Response(202, json=job_body())

    with Client("http://service.invalid", "key", retry_policy=FAST) as c:
        c._http = httpx.Client(base_url=c.url, transport=httpx.MockTransport(handler))
        c.compile(MODEL, cache=False)
        c.compile(MODEL)
    assert seen[0]["cache"] is False and "cache" not in seen[1]  # the server's default: on

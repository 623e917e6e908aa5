"""X-Request-ID: echoed when valid, replaced when not, and carried by the JSON log lines of the
request and of the worker that runs the compilation it queued (embedded worker)."""

from __future__ import annotations

import json
import logging
import re

import pytest

from dnfstore import logs
from tests.service import onnx_models as m
from tests.service.helpers import compile_traced, upload
from tests.service.observed_app import observed  # noqa: F401  (fixture: JSON logs)

HEX32 = re.compile(r"[0-9a-f]{32}")


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("given", ["abc-DEF_1.2", "x", "A" * 64])
def test_valid_request_id_is_echoed(embedded, given):
    r = embedded.client.get("/api/v1/health", headers={"X-Request-ID": given})
    assert r.status_code == 200 and r.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given", [b"", b"has space", b"a/b", b"A" * 65, "\u00fcn\u00ef".encode(), b"id;drop"]
)
def test_bad_request_id_is_replaced(embedded, given):
    r = embedded.client.get("/api/v1/health", headers={"X-Request-ID": given})
    assert r.status_code == 200
    got = r.headers["x-request-id"]
    assert got.encode() != given and HEX32.fullmatch(got), got


def test_missing_request_id_gets_a_fresh_one_also_on_errors(embedded):
    a = embedded.client.get("/api/v1/models")  # 401: no key
    b = embedded.client.get("/api/v1/nowhere")  # 404: no route
    assert a.status_code == 401 and b.status_code == 404
    ids = {a.headers["x-request-id"], b.headers["x-request-id"]}
    assert len(ids) == 2 and all(HEX32.fullmatch(i) for i in ids)


def test_odd_methods_and_unmatched_paths_share_bounded_labels(observed, capsys):  # noqa: F811
    c = observed.client
    for i in range(3):
        assert c.request("BREW", f"/coffee/{i}").status_code in (404, 405)
    lines = [d for d in _json_lines(capsys.readouterr().err) if d.get("logger") == "service.access"]
    assert [(d["method"], d["route"]) for d in lines] == [("other", "<unmatched>")] * 3
    assert [d["path"] for d in lines] == ["/coffee/0", "/coffee/1", "/coffee/2"]


def test_request_id_reaches_the_worker_log_lines(observed, capsys):  # noqa: F811
    c = observed.client
    up = upload(c, observed.alice, m.tiny_bytes(5))
    assert up.status_code == 201, up.text
    rid = "trace-compile.0042"
    job_id = compile_traced(c, observed.alice, up.json()["id"], rid)

    lines = _json_lines(capsys.readouterr().err)
    # The API's access line for the POST: request id, user, route template, status.
    access = [d for d in lines if d.get("logger") == "service.access"
              and d.get("request_id") == rid]
    assert len(access) == 1, access
    assert access[0]["route"] == "/api/v1/compilations" and access[0]["status"] == 202
    assert access[0]["user_id"] and access[0]["level"] == "info"
    assert access[0]["ts"].endswith("Z")
    # The worker's lines for the job carry the request id that queued it.
    worker = {d["event"]: d for d in lines if d.get("logger") == "workers.compile_job"}
    for event in ("compilation started", "compilation finished"):
        assert worker[event]["request_id"] == rid, worker
        assert worker[event]["job_id"] == job_id
        assert worker[event]["user_id"] == access[0]["user_id"]
    assert worker["compilation finished"]["state"] == "succeeded"
    # Polls of the job have their own request ids.
    polls = [d for d in lines if d.get("route") == "/api/v1/compilations/{compilation_id}"]
    assert polls and all(d["request_id"] != rid for d in polls)


def test_text_format_appends_the_ids(caplog):
    logs.install_record_factory()
    log = logging.getLogger("tests.request_id")
    with caplog.at_level(logging.INFO), logs.log_context(request_id="r-1", job_id="j-2"):
        log.info("hello %s", "there", extra={"status": 202})
    record = caplog.records[-1]
    assert (record.request_id, record.job_id, record.user_id) == ("r-1", "j-2", None)
    text = logs.TextFormatter().format(record)
    assert text.endswith("tests.request_id: hello there status=202 [request_id=r-1 job_id=j-2]")
    doc = json.loads(logs.JsonFormatter().format(record))
    assert doc["event"] == "hello there" and doc["request_id"] == "r-1"
    assert doc["job_id"] == "j-2" and doc["status"] == 202 and "user_id" not in doc


def test_a_structured_event_name_keeps_the_message():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "cache hit %s", ("j",), None)
    record.event = "compile_cache_hit"
    doc = json.loads(logs.JsonFormatter().format(record))
    assert doc["event"] == "compile_cache_hit" and doc["message"] == "cache hit j"


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        logs.formatter("xml")

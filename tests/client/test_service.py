"""The client against a real ``dnnfusion serve`` (SQLite, in-process worker): a real model
uploaded, compiled, waited for stage by stage, downloaded and run, matching ONNX Runtime; the
API's refusals as typed errors; a model with external data packed and accepted."""

from __future__ import annotations

import uuid

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from bench.real_models import real_model_path
from compiler_core.runtime import InferenceSession
from dnnfusion.client import (
    AuthenticationError,
    Client,
    CompilationFailedError,
    ConflictError,
    InvalidModelError,
    NotFoundError,
)
from tests.service import onnx_models as m

pytestmark = pytest.mark.slow

CLS_SHAPE = (1, 3, 48, 192)


def assert_runs_like_onnxruntime(artifact, model_path, feeds):
    session = InferenceSession(artifact)
    try:
        ours = session.run(None, feeds)
    finally:
        session.close()
    expected = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"]).run(
        None, feeds
    )
    assert len(ours) == len(expected)
    for got, want in zip(ours, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)


def test_real_model_upload_compile_wait_download_and_run(service, tmp_path):
    model_path = real_model_path("ppocr_mobile_v2_cls.onnx")
    seen = []
    with Client(service.base_url, service.keys["alice"]) as client:
        model = client.upload_model(model_path)
        assert model.created and model.upload_format == "onnx"
        assert model.size_bytes == model_path.stat().st_size
        job = client.compile(model, input_shapes={"x": CLS_SHAPE}, target="host")
        with pytest.raises(ConflictError):  # no artifact before it succeeded
            client.compilation(job.id).download(tmp_path / "early.tar.gz")
        final = job.wait(timeout=600, on_progress=seen.append)
        artifact = job.download(tmp_path / "cls.tar.gz")
        report = job.report()
    assert final.state == "succeeded" and final.id == job.id
    stages = [s.stage for s in seen if s.state == "running" and s.stage]
    assert {"importing", "building", "validating", "storing"} <= set(final.stages_ms)
    assert stages  # polls saw the job running, stage by stage, in the server's order
    assert list(dict.fromkeys(stages)) == [s for s in final.stages_ms if s in stages]
    assert artifact.stat().st_size == final.artifact_bytes
    assert report["fused_blocks"] == final.summary["fused_blocks"] > 0
    assert report["original_nodes"] == final.summary["original_nodes"]
    assert not list(tmp_path.glob(".*part"))
    x = np.random.default_rng(0).standard_normal(CLS_SHAPE).astype(np.float32)
    assert_runs_like_onnxruntime(artifact, model_path, {"x": x})


def test_api_refusals_are_typed_errors(service, tmp_path):
    alice, bob = service.keys["alice"], service.keys["bob"]
    tiny = m.write(tmp_path / "tiny.onnx", m.tiny_bytes(11))
    with Client(service.base_url, "not-a-key") as wrong, pytest.raises(AuthenticationError) as e:
        wrong.upload_model(tiny)
    assert e.value.status_code == 401 and e.value.detail == "invalid API key"
    with Client(service.base_url, service.agent_key) as agent, \
            pytest.raises(AuthenticationError) as e:
        agent.compilation(uuid.uuid4()).status()
    assert e.value.status_code == 403

    with Client(service.base_url, alice) as client:
        with pytest.raises(NotFoundError) as e:
            client.compilation(uuid.uuid4()).status()
        assert e.value.status_code == 404 and e.value.detail == "compilation not found"
        with pytest.raises(NotFoundError):
            client.compile(str(uuid.uuid4()))  # no such model

        junk = m.write(tmp_path / "junk.onnx", b"this is not an ONNX model at all")
        with pytest.raises(InvalidModelError) as e:
            client.upload_model(junk)
        assert e.value.status_code == 422
        with httpx.Client(base_url=service.base_url, headers={"X-API-Key": alice}) as raw:
            answer = raw.post("/api/v1/models", files={"file": ("junk.onnx", junk.read_bytes())})
        assert answer.status_code == 422
        assert e.value.detail == answer.json()["detail"]  # the server's own message

        model = client.upload_model(tiny)
        with pytest.raises(InvalidModelError, match="not inputs of the model"):
            client.compile(model, input_shapes={"nope": (1, 4)})
        with pytest.raises(InvalidModelError, match="options"):
            client.compile(model, options={"no_such_option": True})
        job = client.compile(model)
    with Client(service.base_url, bob) as other, pytest.raises(NotFoundError):
        other.compilation(job.id).status()  # alice's job is not bob's


def test_failed_compilation_carries_the_servers_reason(service, tmp_path):
    import onnx

    path = tmp_path / "dynamic.onnx"
    onnx.save(m.tiny_model(5, dynamic=True), path)
    with Client(service.base_url, service.keys["alice"]) as client:
        job = client.compile(path)  # a path: uploaded first; the batch dim is not pinned
        with pytest.raises(CompilationFailedError) as e:
            job.wait(timeout=300)
        status = job.status()
    assert status.state == "failed" and e.value.compilation_id == job.id
    assert status.error and status.error in str(e.value)
    assert "dynamic" in status.error and "pin it with input_shapes" in status.error


def test_external_data_model_is_packed_accepted_and_compiled(service, tmp_path):
    folder = tmp_path / "ext"
    folder.mkdir()
    model_bytes, data = m.with_external_data(7, "weights.bin")
    m.write(folder / "model.onnx", model_bytes)
    m.write(folder / "weights.bin", data)
    with Client(service.base_url, service.keys["bob"]) as client:
        model = client.upload_model(folder / "model.onnx")
        again = client.upload_model(folder)  # the folder packs to the same bytes
        job = client.compile(model)
        job.wait(timeout=300)
        artifact = job.download(tmp_path)
    assert model.created and model.upload_format == "tar.gz"
    assert model.inputs[0]["name"] == "x"
    assert (again.id, again.created) == (model.id, False)
    x = np.random.default_rng(1).standard_normal((1, 4)).astype(np.float32)
    assert_runs_like_onnxruntime(artifact, folder / "model.onnx", {"x": x})

"""Models whose code traps or crashes, and shapes too big for memory, through the service: the
job fails once with a one-line reason and the API process (with its embedded worker) lives on.

The embedded worker runs jobs in threads of the API process itself, so before the validation
sandbox a single trapping model killed the API, and the reaper re-ran it at every restart."""

from __future__ import annotations

import pytest

import compiler_core.codegen.build as build
from tests.helpers.crashing import build_fake_library, int_min_div_model
from tests.service import onnx_models as m
from tests.service.helpers import assert_compiler_outcome, upload, wait_final


def _compile(embedded, data: bytes, **body):
    h = {"X-API-Key": embedded.alice}
    mid = upload(embedded.client, embedded.alice, data).json()["id"]
    r = embedded.client.post("/api/v1/compilations", headers=h, json={"model_id": mid, **body})
    assert r.status_code == 202, r.text
    return wait_final(embedded.client, embedded.alice, r.headers["location"], timeout=180)


def _api_answers(embedded) -> None:
    h = {"X-API-Key": embedded.alice}
    assert embedded.client.get("/api/v1/compilations", headers=h).status_code == 200
    # ...and its worker still compiles a sound model.
    assert_compiler_outcome(_compile(embedded, m.tiny_bytes(7)))


def test_int_min_div_model_fails_once_and_the_api_survives(embedded):
    final = _compile(embedded, int_min_div_model().SerializeToString())
    assert final["state"] == "failed" and final["attempts"] == 1, final
    error = final["error"]
    assert "\n" not in error and "compiled model" in error, error
    _api_answers(embedded)


def test_segfaulting_artifact_fails_once_with_the_signal_and_block(embedded, tmp_path,
                                                                    monkeypatch):
    """The model.so that is built is swapped for one whose dnf_run segfaults in its first
    block (the worker threads share this process, so the patch reaches them)."""
    fake = build_fake_library(tmp_path / "fake.so", blocks=1, crash_block=0, trace=True)
    real = build.build_target

    def build_then_swap(target, source, out_path, **kw):
        info = real(target, source, out_path, **kw)
        out_path.write_bytes(fake.read_bytes())
        return info

    monkeypatch.setattr(build, "build_target", build_then_swap)
    final = _compile(embedded, m.tiny_bytes(3))
    monkeypatch.undo()
    assert final["state"] == "failed" and final["attempts"] == 1, final
    assert final["error"] == (
        "the compiled model raised SIGSEGV in block 0 (Add, Relu) (an invalid memory access)")
    assert final["stage"] in (None, "validating")
    _api_answers(embedded)


def test_huge_input_shape_fails_at_import_with_the_estimate(embedded):
    # x[N,4] float32 with N = 1e9: 14.9 GiB for x, s and y each. The job asks for a higher
    # limit than the service allows; the service's 8 GiB holds.
    final = _compile(embedded, m.tiny_model(0, dynamic=True).SerializeToString(),
                     input_shapes={"x": [1_000_000_000, 4]},
                     options={"memory_limit_bytes": 2**52})  # the API bound is 2**53
    assert final["state"] == "failed" and final["attempts"] == 1, final
    assert "the model needs about 44.7 GiB" in final["error"], final["error"]
    assert "largest intermediate 's' [1000000000, 4]" in final["error"]
    assert "over the memory limit of 8.0 GiB" in final["error"]
    assert "planning" not in final["timings"]["stages_ms"]


@pytest.mark.slow  # a Celery worker process
def test_int_min_div_model_through_a_celery_worker(stack):
    """The deployment shape: the job fails once and the same worker takes the next job."""
    h = {"X-API-Key": stack.alice}
    with stack.client() as c:
        locations = []
        for data in (int_min_div_model().SerializeToString(), m.tiny_bytes(11)):
            mid = upload(c, stack.alice, data).json()["id"]
            r = c.post("/api/v1/compilations", headers=h, json={"model_id": mid})
            assert r.status_code == 202, r.text
            locations.append(r.headers["location"])
        bad, good = (wait_final(c, stack.alice, loc, timeout=180) for loc in locations)
    assert bad["state"] == "failed" and bad["attempts"] == 1, bad
    assert "\n" not in bad["error"] and "compiled model" in bad["error"], bad
    assert_compiler_outcome(good)
    assert good["attempts"] == 1
    assert stack.worker is not None and stack.worker.popen.poll() is None


def test_job_errors_name_the_uploaded_file_not_the_server_path(embedded):
    h = {"X-API-Key": embedded.alice}
    mid = upload(embedded.client, embedded.alice, m.tiny_bytes(5), filename="mine.onnx").json()
    r = embedded.client.post("/api/v1/compilations", headers=h,
                             json={"model_id": mid["id"], "input_shapes": {"x": [1, 2, 3]}})
    assert r.status_code == 202, r.text
    final = wait_final(embedded.client, embedded.alice, r.headers["location"], timeout=60)
    assert final["state"] == "failed", final
    assert final["error"].startswith("mine.onnx: input 'x' is pinned to rank 3"), final["error"]
    assert "<server path>" not in final["error"] and "/" not in final["error"], final["error"]

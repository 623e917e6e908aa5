"""``device_class`` on POST /compilations: whose measurements decide the "profile" fusions."""

from __future__ import annotations

import json

import numpy as np
import onnx_ir as ir
from onnx import numpy_helper

from compiler_core.bench.run import BenchResult
from compiler_core.bench.signature import fusion_signature
from compiler_core.ir.ecg import build_ecg
from profiling import queries
from profiling.db import open_database
from profiling.device import default_threads, host_device_class
from tests.compiler_core.planner.graphs import make_model, node, tensor, weight
from tests.service.helpers import upload, wait_final

CLASS = "svc-test-phone"


def _model():
    # MatMul -> Relu -> Reshape: the MatMul | Relu+Reshape pair is a "profile" cell.
    return make_model(
        [
            node("MatMul", ["x", "w"], ["mm"]),
            node("Relu", ["mm"], ["r"]),
            node("Reshape", ["r", "shape"], ["out"]),
        ],
        [tensor("x", (16, 32))],
        [tensor("out", (512,))],
        [weight("w", (32, 32)), numpy_helper.from_array(np.array([512], np.int64), "shape")],
    )


def _measure_slower_fusion(settings, model) -> int:
    ecg = build_ecg(ir.from_proto(model))
    sig = fusion_signature(ecg, [0], [1, 2], threads=default_threads())
    res = BenchResult(sig.key, sig.version, sig.threads, "phone", 0.0, (30.0,) * 3, (20.0,) * 3,
                      False)
    db = open_database(settings.sqlalchemy_url)
    try:
        with db.sessions() as s, s.begin():
            dc = queries.ensure_device_class(s, key=CLASS)
            return queries.add_entry(s, device_class=dc, signature=sig, result=res).id
    finally:
        db.close()


def _compile(embedded, model_id, **extra):
    r = embedded.client.post("/api/v1/compilations", headers={"X-API-Key": embedded.alice},
                             json={"model_id": model_id, "options": {
                                 "compare_with_onnxruntime": False}, **extra})
    assert r.status_code == 202, r.text
    final = wait_final(embedded.client, embedded.alice, r.headers["location"])
    assert final["state"] == "succeeded", final["error"]
    report = embedded.client.get(f"{r.headers['location']}/report",
                                 headers={"X-API-Key": embedded.alice})
    assert report.status_code == 200
    return final, report.json()


def test_device_class_decides_with_its_measurements(embedded):
    model = _model()
    entry = _measure_slower_fusion(embedded.settings, model)
    model_id = upload(embedded.client, embedded.alice, model.SerializeToString()).json()["id"]

    job, report = _compile(embedded, model_id, device_class=CLASS)
    assert job["device_class"] == CLASS and report["device_class"] == CLASS
    assert report["fused_blocks"] == 2  # the measurement keeps MatMul apart
    d = report["profile_decisions"][0]
    assert (d["source"], d["entry_id"], d["fused"]) == ("measured", entry, False)

    # Without a class the worker's own (host) class decides: nothing measured there.
    job, report = _compile(embedded, model_id)
    assert job["device_class"] is None and report["device_class"] == host_device_class().key
    assert report["fused_blocks"] == 1
    assert {d["source"] for d in report["profile_decisions"]} == {"analytic"}
    assert json.dumps(report)  # plain JSON


def test_bad_device_class_is_422(embedded):
    model_id = upload(embedded.client, embedded.alice, _model().SerializeToString()).json()["id"]
    r = embedded.client.post("/api/v1/compilations", headers={"X-API-Key": embedded.alice},
                             json={"model_id": model_id, "device_class": "Bad Key; drop"})
    assert r.status_code == 422 and "device_class" in r.text

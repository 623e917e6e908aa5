"""The report page's JSON: the fused graph and one block, from the stored artifact; names are
returned as data (JSON), never as markup."""

from __future__ import annotations

import uuid

from tests.service.dashboard.conftest import HOSTILE


def _get(dash, path, key=None):
    return dash.client.get(f"/api/v1{path}", headers={"X-API-Key": key or dash.alice})


def test_graph_lists_blocks_and_edges(dash, hostile_job):
    r = _get(dash, f"/compilations/{hostile_job['id']}/graph")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    graph = r.json()
    assert graph["model"] == "model.onnx"  # the stored file's name, no server path
    assert graph["original_nodes"] == 3
    assert graph["fused_blocks"] == len(graph["blocks"]) == hostile_job["summary"]["fused_blocks"]
    names = [n for b in graph["blocks"] for n in b["nodes"]]
    ops = [o for b in graph["blocks"] for o in b["ops"]]
    assert sorted(ops) == ["Add", "MatMul", "Relu"]
    assert f"{HOSTILE}/MatMul" in names and f"{HOSTILE}/Relu" in names
    assert f'"{HOSTILE}/Relu"' in r.text  # as a JSON string, exactly as named
    # no attention or sibling GEMMs here: planner blocks, one MatMul under the floor's count
    assert [b["kind"] for b in graph["blocks"]] == ["fused"] * len(graph["blocks"])
    assert sum(b["floor_blocks"] for b in graph["blocks"]) == 1
    ids = {b["id"] for b in graph["blocks"]}
    for e in graph["edges"]:
        assert e["source"] in ids and e["target"] in ids and e["reasons"]


def test_block_has_ops_reasons_and_its_c(dash, hostile_job):
    cid = hostile_job["id"]
    graph = _get(dash, f"/compilations/{cid}/graph").json()
    for block in graph["blocks"]:
        r = _get(dash, f"/compilations/{cid}/blocks/{block['id']}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert [o["op"] for o in body["ops"]] == block["ops"]
        assert (body["kind"], body["floor_blocks"]) == (block["kind"], block["floor_blocks"])
        assert [o["node"] for o in body["ops"]] == block["nodes"]
        assert all(o["shapes"] == [[2, 3]] for o in body["ops"])  # x[2,4] @ w[4,3], then [2,3]
        assert body["source"].startswith(f"/* block {block['id']}: ")
        assert f" k{block['id']}(" in body["source"] and body["source"].endswith("}")
        assert HOSTILE not in body["source"]  # names reach the C only sanitized
        for e in body["unfused_edges"]:
            assert block["id"] in (e["producer_block"], e["consumer_block"])
            assert e["reason"] and e["detail"]
    edges = sum(len(_get(dash, f"/compilations/{cid}/blocks/{b['id']}").json()["unfused_edges"])
                for b in graph["blocks"])
    assert edges == 2 * sum(sum(e["reasons"].values()) for e in graph["edges"])


def test_unknown_block_and_compilation(dash, hostile_job):
    cid = hostile_job["id"]
    assert _get(dash, f"/compilations/{cid}/blocks/9999").status_code == 404
    assert _get(dash, f"/compilations/{cid}/blocks/-1").status_code == 422
    assert _get(dash, f"/compilations/{uuid.uuid4()}/graph").status_code == 404
    assert _get(dash, f"/compilations/{cid}/graph", dash.bob).status_code == 404


def test_graph_of_a_failed_compilation_is_409(dash):
    from tests.service.onnx_models import tiny_model

    model = tiny_model(7, dynamic=True).SerializeToString()  # batch dim never pinned: fails
    key = {"X-API-Key": dash.alice}
    r = dash.client.post("/api/v1/models", headers=key,
                         files={"file": ("dyn.onnx", model, "application/octet-stream")})
    r = dash.client.post("/api/v1/compilations", headers=key, json={"model_id": r.json()["id"]})
    body = dash.wait_final(r.json()["id"], dash.alice)
    assert body["state"] == "failed"
    r = _get(dash, f"/compilations/{body['id']}/graph")
    assert r.status_code == 409 and r.json()["detail"] == "compilation is failed; it has no artifact"

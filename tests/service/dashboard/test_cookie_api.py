"""The JSON API with the dashboard's session cookie: reads work, state changes need the CSRF
token; requests with an X-API-Key header need none (scripts keep working)."""

from __future__ import annotations

from tests.service.onnx_models import tiny_bytes


def _file(seed: int):
    return {"file": ("tiny.onnx", tiny_bytes(seed), "application/octet-stream")}


def test_cookie_authenticates_reads(dash):
    b, _ = dash.signed_in(dash.alice)
    r = b.get("/api/v1/compilations")
    assert r.status_code == 200 and set(r.json()) == {"data", "count"}
    assert b.get("/api/v1/devices").status_code == 200
    assert dash.browser().get("/api/v1/compilations").status_code == 401  # no cookie, no key


def test_cookie_post_without_csrf_token_is_403(dash):
    b, token = dash.signed_in(dash.alice)
    before = dash.client.get("/api/v1/models", headers={"X-API-Key": dash.alice}).json()["count"]
    r = b.post("/api/v1/models", files=_file(101))
    assert r.status_code == 403
    assert r.json() == {"detail": "missing or wrong CSRF token; reload the page and try again"}
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")  # one character off, never equal
    r = b.post("/api/v1/models", files=_file(101), headers={"X-CSRF-Token": wrong})
    assert r.status_code == 403
    # Another session's token does not fit this session.
    _, other = dash.signed_in(dash.alice)
    assert other != token
    assert b.post("/api/v1/models", files=_file(101),
                  headers={"X-CSRF-Token": other}).status_code == 403
    after = dash.client.get("/api/v1/models", headers={"X-API-Key": dash.alice}).json()["count"]
    assert after == before  # nothing stored


def test_cookie_post_with_csrf_token_works(dash):
    b, token = dash.signed_in(dash.alice)
    r = b.post("/api/v1/models", files=_file(102), headers={"X-CSRF-Token": token})
    assert r.status_code == 201, r.text
    model_id = r.json()["id"]
    r = b.post("/api/v1/compilations", json={"model_id": model_id})
    assert r.status_code == 403
    r = b.post("/api/v1/compilations", json={"model_id": model_id},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 202, r.text
    assert dash.wait_final(r.json()["id"], dash.alice)["state"] == "succeeded"


def test_key_header_needs_no_csrf_token(dash):
    r = dash.client.post("/api/v1/models", headers={"X-API-Key": dash.alice}, files=_file(103))
    assert r.status_code == 201, r.text
    # The header wins over a cookie: a script in a signed-in browser still needs no token.
    b, _ = dash.signed_in(dash.bob)
    r = b.post("/api/v1/compilations", headers={"X-API-Key": dash.alice},
               json={"model_id": r.json()["id"]})
    assert r.status_code == 202, r.text


def test_cookie_does_not_open_agent_endpoints(dash):
    b, token = dash.signed_in(dash.alice)
    r = b.post("/api/v1/agent/heartbeat", json={"devices": []}, headers={"X-CSRF-Token": token})
    assert r.status_code == 401

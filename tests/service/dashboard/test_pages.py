"""The pages as served: the DOM contract, security headers, static files, the 404 page for
another user's compilation, and names escaped."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.service.dashboard.conftest import HOSTILE, HOSTILE_FILE

PAGES = ("/", "/devices", "/profiling")
CONTRACT = {
    "/": ['id="upload-form"', '<input id="model-file" name="file" type="file"', 'id="input-shapes"',
          '<select id="target"', 'id="upload-submit"', '<progress id="upload-progress"',
          'id="model-file-error"', 'id="input-shapes-error"', 'id="compilations-table"',
          '<input id="filter"'],
    "/devices": ['id="devices"'],
    "/profiling": ['id="profiling"'],
}
REPORT_CONTRACT = ['id="graph"', 'data-ready="false"', 'id="node-search"', 'id="block-panel"',
                   'id="block-ops"', '<pre id="block-source">', 'id="block-reasons"',
                   '<canvas id="chart-latency">', '<canvas id="chart-bytes">',
                   '<canvas id="chart-arena">', '<canvas id="chart-rules">',
                   'id="chart-profile-slot"', '<a id="download-artifact"']


def _assert_security_headers(r) -> None:
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", PAGES)
def test_pages_keep_the_dom_contract_and_headers(dash, path):
    b, _ = dash.signed_in(dash.alice)
    r = b.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for needle in CONTRACT[path]:
        assert needle in r.text, needle
    _assert_security_headers(r)
    assert "<script>" not in r.text  # no inline script anywhere
    assert not re.search(r"\son[a-z]+=", r.text)  # no inline event handlers


def test_targets_and_upload_cap_come_from_the_settings(dash):
    b, _ = dash.signed_in(dash.alice)
    html = b.get("/").text
    for target in dash.settings.targets:
        assert f'<option value="{target}">{target}</option>' in html
    assert f'data-max-upload-bytes="{dash.settings.max_upload_bytes}"' in html


def test_report_page_contract_and_escaped_model_name(dash, hostile_job):
    b, _ = dash.signed_in(dash.alice)
    r = b.get(f"/compilations/{hostile_job['id']}")
    assert r.status_code == 200, r.text
    for needle in REPORT_CONTRACT:
        assert needle in r.text, needle
    _assert_security_headers(r)
    assert HOSTILE_FILE not in r.text and "<img" not in r.text
    assert "&lt;img src=x onerror=alert(1)&gt;&amp;.onnx" in r.text
    assert HOSTILE not in r.text  # node names never reach the HTML; the page fetches them


def test_another_users_compilation_is_the_404_page(dash, hostile_job):
    b, _ = dash.signed_in(dash.bob)
    for path in (f"/compilations/{hostile_job['id']}", f"/compilations/{uuid.uuid4()}",
                 "/compilations/not-a-uuid"):
        r = b.get(path)
        assert r.status_code == 404, path
        assert '<h1 id="not-found">' in r.text
        _assert_security_headers(r)
    # ... and its data is a 404 in the API too, with the key or the cookie.
    cid = hostile_job["id"]
    for sub in ("", "/graph", "/blocks/0", "/report", "/artifact"):
        assert b.get(f"/api/v1/compilations/{cid}{sub}").status_code == 404, sub
        assert dash.client.get(f"/api/v1/compilations/{cid}{sub}",
                               headers={"X-API-Key": dash.bob}).status_code == 404, sub


def _static_refs(html: str) -> set[str]:
    return set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))


def test_every_static_file_the_pages_reference_is_served(dash, hostile_job):
    b, _ = dash.signed_in(dash.alice)
    refs: set[str] = set()
    for path in (*PAGES, f"/compilations/{hostile_job['id']}", "/signin"):
        refs |= _static_refs(b.get(path).text)
    # The pages' modules import common.js.
    modules = [r for r in refs if r.startswith("/static/js/")]
    for m in modules:
        refs |= {f"/static/js/{name}" for name in
                 re.findall(r'from "\./([a-z-]+\.js)"', b.get(m).text)}
    assert {"/static/css/app.css", "/static/js/common.js", "/static/js/report.js",
            "/static/vendor/cytoscape/cytoscape.min.js",
            "/static/vendor/cytoscape-dagre/cytoscape-dagre.min.js",
            "/static/vendor/chartjs/chart.umd.min.js"} <= refs
    kinds = {".js": "javascript", ".css": "text/css"}
    for ref in sorted(refs):
        r = b.get(ref)
        assert r.status_code == 200, ref
        assert kinds[ref[ref.rindex("."):]] in r.headers["content-type"], ref
        assert r.headers["x-content-type-options"] == "nosniff"


def test_static_files_need_no_session_and_are_not_listed(dash):
    b = dash.browser()
    assert b.get("/static/css/app.css").status_code == 200
    assert b.get("/static/").status_code == 404
    assert b.get("/static/../dnfstore/settings.py").status_code == 404


def test_vendored_libraries_carry_their_licences(dash):
    b = dash.browser()
    for path in ("/static/vendor/cytoscape/LICENSE", "/static/vendor/cytoscape-dagre/LICENSE",
                 "/static/vendor/cytoscape-dagre/LICENSE.dagre",
                 "/static/vendor/chartjs/LICENSE.md"):
        r = b.get(path)
        assert r.status_code == 200 and "Permission is hereby granted" in r.text, path
    vendor = b.get("/static/VENDOR.md").text
    for name, version in (("Cytoscape.js", "3.35.0"), ("cytoscape-dagre", "4.0.1"),
                          ("Chart.js", "4.6.1")):
        assert f"| {name} | {version} |" in vendor


def test_api_docs_are_served_from_this_origin(dash):
    """Swagger UI from vendored files: same CSP as the pages, no script from another origin."""
    b = dash.browser()
    r = b.get("/docs")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    scripts = re.findall(r'<script src="([^"]+)"', r.text)
    assert scripts == ["/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/js/docs.js"]
    assert "<script>" not in r.text and "cdn" not in r.text.lower()
    for path in [*scripts, "/static/vendor/swagger-ui/swagger-ui.css"]:
        assert b.get(path).status_code == 200, path
    assert 'data-openapi-url="/api/v1/openapi.json"' in r.text
    assert b.get("/redoc").status_code == 404

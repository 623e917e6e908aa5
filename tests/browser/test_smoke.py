"""The browser reaches the real service: Chromium (Debian's) through Playwright."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser


def test_chromium_reaches_the_service(page, service):
    response = page.goto("/api/v1/health")
    assert response is not None and response.status == 200
    assert json.loads(page.inner_text("body"))  # the health document, rendered as text


def test_api_docs_render_offline_under_the_csp(page, service, watched):
    """/docs is Swagger UI from vendored files: it lists the API's operations, every request
    stays on this machine (the fixture fails any other) and the CSP blocks nothing."""
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto("/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/compilations" in p for p in paths), paths
    assert blocked == []

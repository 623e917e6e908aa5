"""The browser reaches the real service: Chromium (Debian's) through Playwright."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser


def test_chromium_reaches_the_service(page, service):
    response = page.goto("/api/v1/health")
    assert response is not None and response.status == 200
    assert json.loads(page.inner_text("body"))  # the health document, rendered as text

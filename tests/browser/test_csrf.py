"""Cross-site request forgery: a request riding on the session cookie without the page's CSRF
token changes nothing (sign-in, sign-out, the JSON API).

``page.request`` shares the browser context's cookies, like a forged request would; only the
page itself can read the token (``meta[name=csrf-token]``).
"""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.pages import sign_in

pytestmark = pytest.mark.browser


def _token(page) -> str:
    token = page.get_attribute('meta[name="csrf-token"]', "content")
    assert token, "the page carries no CSRF token"
    return token


def test_api_post_with_the_cookie_needs_the_token(page, service):
    sign_in(page, service.keys["alice"])
    body = {"model_id": str(uuid.uuid4())}  # no such model: past the CSRF check it is a 404
    forged = page.request.post("/api/v1/compilations", data=body)
    assert forged.status == 403, (forged.status, forged.text())
    real = page.request.post("/api/v1/compilations", data=body,
                             headers={"X-CSRF-Token": _token(page)})
    assert real.status == 404, (real.status, real.text())


def test_sign_out_without_the_token_keeps_the_session(page, service):
    sign_in(page, service.keys["alice"])
    forged = page.request.post("/signout", form={}, max_redirects=0)
    assert forged.status == 403, forged.status
    page.goto("/")
    expect(page.locator("#compilations-table")).to_be_visible()


def test_sign_in_without_the_form_token_is_refused(page, service):
    forged = page.request.post("/signin", form={"api_key": service.keys["alice"]},
                               max_redirects=0)
    assert forged.status == 403, forged.status
    page.goto("/")
    expect(page.locator("#signin-form")).to_be_visible()


def test_agent_key_cannot_sign_in(page, service):
    page.goto("/signin")
    page.fill("#api-key", service.agent_key)
    page.click("#signin-submit")
    expect(page.locator("#signin-error")).to_contain_text("agent")
    expect(page.locator("#compilations-table")).to_have_count(0)

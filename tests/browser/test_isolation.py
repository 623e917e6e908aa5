"""A user sees only their own compilations: another user's report URL is the 404 page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_no_traceback, sign_in, sign_out

pytestmark = pytest.mark.browser


def test_second_user_gets_404_for_first_users_report(page, service, cls_report, shots):
    alice_job = cls_report.job["id"]
    sign_in(page, service.keys["alice"])
    expect(page.locator(f'tr[data-compilation-id="{alice_job}"]')).to_have_count(1)
    sign_out(page)

    sign_in(page, service.keys["bob"])
    expect(page.locator(f'tr[data-compilation-id="{alice_job}"]')).to_have_count(0)
    response = page.goto(f"/compilations/{alice_job}")
    assert response is not None and response.status == 404, response and response.status
    expect(page.locator("h1#not-found")).to_be_visible()
    expect(page.locator("#graph")).to_have_count(0)
    shots.take(page, "not-found")
    assert_no_traceback(page)


def test_unknown_and_malformed_report_ids_are_404_pages(page, service):
    sign_in(page, service.keys["bob"])
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        response = page.goto(f"/compilations/{bad}")
        assert response is not None and response.status == 404, (bad, response and response.status)
        expect(page.locator("h1#not-found")).to_be_visible()
        assert_no_traceback(page)

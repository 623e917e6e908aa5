"""The Devices and Profiling pages render (an empty farm says so; nothing is blank)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.pages import assert_no_traceback, sign_in

pytestmark = pytest.mark.browser


def test_devices_page_renders(page, service, shots):
    sign_in(page, service.keys["alice"])
    page.click("a#nav-devices")
    page.wait_for_url("**/devices")
    expect(page.locator("#devices-table, #devices-empty").first).to_be_visible()
    shots.take(page, "devices")
    assert_no_traceback(page)


def test_profiling_page_renders(page, service, shots):
    sign_in(page, service.keys["alice"])
    page.click("a#nav-profiling")
    page.wait_for_url("**/profiling")
    expect(page.locator("canvas#chart-profiling, #profiling-empty").first).to_be_attached()
    expect(page.locator("#profiling-empty, #signature-select").first).to_be_visible()
    shots.take(page, "profiling")
    assert_no_traceback(page)

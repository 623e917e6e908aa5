"""A failed compilation: its row says failed, its report page gives the API's reason (one
line, no traceback), no graph and no download. (Bob's, so alice's table in the screenshots
stays the successful uploads.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import api
from tests.browser.api import CLS_FILE, CLS_SHAPES
from tests.browser.pages import assert_no_traceback, open_report, sign_in, state_cell

pytestmark = pytest.mark.browser


def test_failed_compilation_report_shows_the_reason(page, service, cls_model):
    with api.client(service.base_url, service.keys["bob"]) as c:
        model = api.upload(c, cls_model.read_bytes(), CLS_FILE)
        job = api.compile_and_wait(c, model["id"], CLS_SHAPES, expect="failed",
                                   options={"memory_limit_bytes": 4096})  # far below its need
    reason = job["error"]
    assert reason and "\n" not in reason, job

    sign_in(page, service.keys["bob"])
    expect(state_cell(page, job["id"])).to_contain_text("failed")
    open_report(page, job["id"])
    expect(page.locator("#report-message")).to_contain_text(reason)
    assert page.get_attribute("a#download-artifact", "href") is None
    expect(page.locator("#graph canvas")).to_have_count(0)
    assert_no_traceback(page)

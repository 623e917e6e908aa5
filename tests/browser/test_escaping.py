"""Model and node names are escaped wherever they are shown: a ``<script>`` is text."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import api
from tests.browser.hostile import IMG_NAME, SCRIPT_NAME, html_named_model
from tests.browser.pages import assert_no_traceback, open_report, sign_in, tap_block

pytestmark = pytest.mark.browser

FILENAME = '<img src=x onerror="alert(3)">.onnx'


def test_html_node_and_model_names_render_as_text(page, service, watched):
    with api.client(service.base_url, service.keys["alice"]) as c:
        job, report = api.upload_and_compile(c, html_named_model(), FILENAME, {})
        model_name = c.get(f"/api/v1/models/{job['model_id']}").json()["name"]
    blocks = [b for b in report["blocks"] if SCRIPT_NAME in b["nodes"]]
    assert len(blocks) == 1, report["blocks"]

    sign_in(page, service.keys["alice"])
    row = page.locator(f'tr[data-compilation-id="{job["id"]}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text(model_name)  # as the API stores it, shown as text
    expect(row.locator("img")).to_have_count(0)

    open_report(page, job["id"])
    tap_block(page, blocks[0]["id"])
    ops = page.locator("#block-ops")
    expect(ops).to_contain_text(SCRIPT_NAME)  # the literal characters, shown as text
    if IMG_NAME in blocks[0]["nodes"]:
        expect(ops).to_contain_text(IMG_NAME)
    expect(page.locator("#block-panel script, #block-panel img")).to_have_count(0)
    injected = page.evaluate("[...document.scripts].some(s => s.textContent.includes('alert('))")
    assert not injected, "a node name became a <script> element"
    assert_no_traceback(page)
    assert watched.dialogs == []

"""Page helpers that follow the dashboard's DOM contract (ids the pages promise).

Timeouts are in milliseconds (Playwright's unit).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

COMPILE_TIMEOUT_MS = 180_000  # a real model compiled and checked against ONNX Runtime
READY_TIMEOUT_MS = 60_000  # the report graph's layout


def sign_in(page: Page, key: str) -> None:
    """Sign in with an API key through the form and land on ``/``."""
    page.goto("/signin")
    page.fill("#api-key", key)
    page.click("#signin-submit")
    page.wait_for_url(re.compile(r"^https?://[^/]+/$"))
    expect(page.locator("#compilations-table")).to_be_visible()


def sign_out(page: Page) -> None:
    page.click("#signout")
    page.wait_for_url(re.compile(r"/signin"))


def assert_no_traceback(page: Page) -> None:
    """No page shows a server traceback or a blank body."""
    body = page.inner_text("body")
    assert "Traceback" not in body, body[:2000]
    assert body.strip(), f"blank page at {page.url}"


def open_report(page: Page, compilation_id: str) -> None:
    """Open a compilation's report and wait for the graph's layout (``#graph[data-ready]``)."""
    response = page.goto(f"/compilations/{compilation_id}")
    assert response is not None and response.status == 200, response and response.status
    page.wait_for_selector('#graph[data-ready="true"]', timeout=READY_TIMEOUT_MS)


def tap_block(page: Page, block_id: int) -> None:
    """Select a block the way Cytoscape's own tap handler sees it."""
    found = page.evaluate(
        "(id) => { const n = window.dnfGraph.$('#block-' + id);"
        " if (n.length === 0) return false; n.emit('tap'); return true; }",
        block_id,
    )
    assert found, f"no node #block-{block_id} in window.dnfGraph"


def click_block(page: Page, block_id: int) -> None:
    """A real mouse click on a block's node, at its rendered position inside ``#graph``."""
    pos = page.evaluate(
        "(id) => { const n = window.dnfGraph.$('#block-' + id);"
        " window.dnfGraph.center(n); return n.renderedPosition(); }",
        block_id,
    )
    box = page.locator("#graph").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])


def state_cell(page: Page, compilation_id: str):
    return page.locator(f'tr[data-compilation-id="{compilation_id}"] td.state')


def wait_succeeded(page: Page, compilation_id: str) -> None:
    """The row's state reaches a final state on its own (no reload); it must be succeeded."""
    cell = state_cell(page, compilation_id)
    expect(cell).to_have_text(re.compile(r"succeeded|failed"), timeout=COMPILE_TIMEOUT_MS)
    assert "succeeded" in cell.inner_text(), cell.inner_text()

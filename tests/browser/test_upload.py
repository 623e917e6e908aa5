"""Upload a real model in the UI and watch its compilation reach succeeded without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import api
from tests.browser.api import CLS_FILE
from tests.browser.archive import external_data_archive
from tests.browser.pages import COMPILE_TIMEOUT_MS, assert_no_traceback, sign_in, wait_succeeded

pytestmark = pytest.mark.browser

# Every change of <progress id="upload-progress">: (value, shown).
RECORD_PROGRESS = """() => {
  const bar = document.getElementById('upload-progress');
  window.__dnfProgress = [];
  new MutationObserver(() => window.__dnfProgress.push([bar.value, !bar.hidden]))
    .observe(bar, {attributes: true, attributeFilter: ['value', 'hidden']});
}"""

# Every state the compilations table shows, per row, in order (a row re-rendered with the same
# state adds nothing).
RECORD_STATES = """() => {
  window.__dnfStates = {};
  const tbody = document.querySelector('#compilations-table tbody');
  new MutationObserver(() => {
    for (const tr of tbody.querySelectorAll('tr[data-compilation-id]')) {
      const seen = (window.__dnfStates[tr.dataset.compilationId] ??= []);
      const state = tr.querySelector('td.state').textContent;
      if (seen[seen.length - 1] !== state) seen.push(state);
    }
  }).observe(tbody, {childList: true, subtree: true, characterData: true});
}"""


def test_upload_cls_model_and_watch_it_succeed(page, service, cls_model, shots):
    with api.client(service.base_url, service.keys["alice"]) as c:
        before = api.compilation_ids(c)
    sign_in(page, service.keys["alice"])
    page.evaluate("window.__dnfNoReload = 42")  # gone if the page reloads or navigates
    page.evaluate(RECORD_PROGRESS)
    page.set_input_files("#model-file", str(cls_model))
    page.fill("#input-shapes", "x=1x3x48x192")
    page.select_option("#target", "host")
    page.click("#upload-submit")

    rows = page.locator("tr[data-compilation-id]")
    expect(rows).to_have_count(len(before) + 1, timeout=COMPILE_TIMEOUT_MS)
    shown = {rows.nth(i).get_attribute("data-compilation-id") for i in range(rows.count())}
    (new_id,) = shown - before
    wait_succeeded(page, new_id)
    assert page.evaluate("window.__dnfNoReload") == 42, "the page reloaded"
    seen = page.evaluate("window.__dnfProgress")
    assert any(shown for _, shown in seen), f"#upload-progress was never shown: {seen}"
    values = [v for v, _ in seen]
    assert values[0] == 0 and values[-1] == 100 and values == sorted(values), values

    with api.client(service.base_url, service.keys["alice"]) as c:
        job = c.get(f"/api/v1/compilations/{new_id}").json()
    assert job["state"] == "succeeded", job
    assert job["input_shapes"] == {"x": [1, 3, 48, 192]}
    assert job["target"] == "host"
    row = page.locator(f'tr[data-compilation-id="{new_id}"]')
    expect(row).to_contain_text(CLS_FILE)
    link = row.locator("a.report-link")
    expect(link).to_have_attribute("href", re.compile(rf"/compilations/{new_id}$"))
    shots.take(page, "compilations")
    assert_no_traceback(page)


def test_filter_narrows_the_table(page, service, cls_report):
    sign_in(page, service.keys["alice"])
    rows = page.locator("tr[data-compilation-id]")
    expect(rows.first).to_be_visible()
    # newest first: the rows in the order of the API's created_at, latest at the top
    with api.client(service.base_url, service.keys["alice"]) as c:
        jobs = c.get("/api/v1/compilations", params={"limit": 100}).json()["data"]
    expect(rows).to_have_count(len(jobs))
    newest_first = [j["id"] for j in sorted(jobs, key=lambda j: j["created_at"], reverse=True)]
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.compilationId)") == newest_first
    page.fill("#filter", "no-model-is-named-like-this")
    expect(page.locator("tr[data-compilation-id]:visible")).to_have_count(0)
    page.fill("#filter", CLS_FILE)
    expect(page.locator(f'tr[data-compilation-id="{cls_report.job["id"]}"]')).to_be_visible()


def test_upload_archive_with_external_data(page, service, tmp_path):
    archive = external_data_archive(tmp_path)
    with api.client(service.base_url, service.keys["alice"]) as c:
        before = api.compilation_ids(c)
    sign_in(page, service.keys["alice"])
    page.evaluate(RECORD_STATES)
    page.set_input_files("#model-file", str(archive))
    page.click("#upload-submit")
    rows = page.locator("tr[data-compilation-id]")
    expect(rows).to_have_count(len(before) + 1, timeout=COMPILE_TIMEOUT_MS)
    shown = {rows.nth(i).get_attribute("data-compilation-id") for i in range(rows.count())}
    (new_id,) = shown - before
    wait_succeeded(page, new_id)
    with api.client(service.base_url, service.keys["alice"]) as c:
        job = c.get(f"/api/v1/compilations/{new_id}").json()
        model = c.get(f"/api/v1/models/{job['model_id']}").json()
    assert job["summary"]["original_nodes"] == 2, job
    assert model["upload_format"] == "tar.gz", model
    # a model new to this service: the row showed the live state before the final one
    states = page.evaluate("id => window.__dnfStates[id]", new_id)
    assert states[0] in ("queued", "running") and states[-1] == "succeeded", states
    assert "failed" not in states, states
    assert_no_traceback(page)

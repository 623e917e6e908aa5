"""The Devices and Profiling pages: an empty farm says so; a registered device is a table row.

What the pages must show comes from the JSON API (``GET /api/v1/devices``) or from what the
test's simulated agent posted, never from the page itself.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import api
from tests.browser.pages import assert_no_traceback, sign_in
from tests.browser.profiled import (
    OPS,
    copy_to_device_class,
    profile_into,
    reshape_matmul_model,
)

pytestmark = pytest.mark.browser

SERIAL = "<b>lab-phone-2</b>"  # HTML in a serial is shown as text
PLAIN_SERIAL = "R58M41LABPHONE1"


def _device_classes(service) -> list[dict]:
    with api.client(service.base_url, service.keys["alice"]) as c:
        r = c.get("/api/v1/devices")
        assert r.status_code == 200, r.text
        return r.json()["device_classes"]


def test_devices_page_matches_the_api(page, service, shots):
    classes = _device_classes(service)
    sign_in(page, service.keys["alice"])
    page.click("a#nav-devices")
    page.wait_for_url("**/devices")
    if classes:
        expect(page.locator("#devices-table")).to_be_visible()
        for c in classes:
            expect(page.locator(f'tr[data-device-class="{c["key"]}"]').first).to_be_visible()
    else:
        expect(page.locator("#devices-empty")).to_be_visible()
        shots.take(page, "devices-empty", committed=False)
    assert_no_traceback(page)


def test_registered_device_shows_in_the_table(page, service, shots):
    with api.client(service.base_url, service.agent_key) as agent:
        soc = {"cpu_model": "sm8250", "isa": "armv8.2-a", "cores": 8, "max_mhz": 2840,
               "os": "android-14", "arch": "aarch64"}
        r = agent.post("/api/v1/agent/register", json={"devices": [
            {"serial": PLAIN_SERIAL, "device_class": soc},
            {"serial": SERIAL, "device_class": soc},
        ]})
        assert r.status_code == 200, r.text
        (key,) = {d["device_class"] for d in r.json()["devices"]}
        r = agent.post("/api/v1/agent/heartbeat", json={"devices": [
            {"serial": SERIAL, "online": True, "temperature_c": 41.5, "battery_pct": 87},
            {"serial": PLAIN_SERIAL, "online": False},
        ]})
        assert r.status_code == 200 and r.json()["online"] == 1, r.text
    (api_class,) = [c for c in _device_classes(service) if c["key"] == key]

    sign_in(page, service.keys["alice"])
    page.goto("/devices")
    rows = page.locator(f'#devices-table tr[data-device-class="{key}"]')
    expect(rows).to_have_count(2)
    html = rows.filter(has_text=SERIAL)  # the literal characters, not a <b> element
    expect(html).to_contain_text("online")
    expect(html).to_contain_text("41.5")
    expect(rows.filter(has_text=PLAIN_SERIAL)).to_contain_text("offline")
    expect(page.locator("#devices-table b")).to_have_count(0)
    # the class's queue length (profiling requests waiting for it), as the API has it
    expect(rows.first.locator("td.num").first).to_have_text(str(api_class["queue_length"]))
    shots.take(page, "devices")
    assert_no_traceback(page)


def test_profiling_page_matches_the_api(page, service, shots):
    with api.client(service.base_url, service.keys["alice"]) as c:
        structures = c.get("/api/v1/profiling/signatures").json()["structures"]
    sign_in(page, service.keys["alice"])
    page.click("a#nav-profiling")
    page.wait_for_url("**/profiling")
    if structures:
        expect(page.locator("#signature-select option")).to_have_count(len(structures))
        expect(page.locator("canvas#chart-profiling")).to_be_attached()
    else:
        expect(page.locator("#profiling-empty")).to_be_visible()
        shots.take(page, "profiling-empty", committed=False)
    assert_no_traceback(page)


def test_measured_fusion_is_charted(page, service, shots, tmp_path):
    """One fusion measured on this machine at two shapes, and the same signatures on a second
    (simulated) device class: the chart has a column per output shape (smallest first) and a
    fused and a separate series per device class holding exactly the API's medians."""
    output = profile_into(service.data_dir, reshape_matmul_model(tmp_path / "rm1.onnx", 1),
                          reshape_matmul_model(tmp_path / "rm4.onnx", 4))
    assert OPS in output, output
    with api.client(service.base_url, service.keys["alice"]) as c:
        structures = c.get("/api/v1/profiling/signatures").json()["structures"]
        (measured,) = [s for s in structures if s["ops"] == OPS]
        key = measured["structure_key"]
        assert copy_to_device_class(service.data_dir, key, "sim-phone-a76", 3.0) == 2
        entries = c.get(f"/api/v1/profiling/signatures/{key}").json()["entries"]
    assert len(entries) == 4 and len({e["device_class"] for e in entries}) == 2, entries
    sign_in(page, service.keys["alice"])
    page.goto("/profiling")
    select = page.locator("#signature-select")
    expect(select).to_be_visible()
    select.select_option(key)
    expect(select.locator("option:checked")).to_contain_text("4 entries, 2 shapes, 2 device classes")
    expect(page.locator("canvas#chart-profiling")).to_be_visible()
    rows = page.locator("#profiling-entries tbody tr")
    expect(rows).to_have_count(len(entries))
    classes = {e["device_class"] for e in entries}
    for i in range(rows.count()):
        assert rows.nth(i).locator("td").first.inner_text() in classes

    page.wait_for_function("window.Chart && window.Chart.getChart('chart-profiling')")
    chart = page.evaluate("(() => { const c = window.Chart.getChart('chart-profiling');"
                          " return {labels: c.data.labels,"
                          " sets: c.data.datasets.map(d => [d.label, d.data])}; })()")
    assert chart["labels"] == ["1×64", "4×64"], chart
    expected = []
    for dc in sorted(classes):
        by_shape = {"×".join(map(str, e["shapes"][-1])): e
                    for e in entries if e["device_class"] == dc}
        for side in ("fused", "separate"):
            expected.append([f"{dc}: {side}",
                             [by_shape[col][f"{side}_median_us"] for col in chart["labels"]]])
    assert chart["sets"] == expected
    # entries per device class: the API's summary, every class (also those with none)
    with api.client(service.base_url, service.keys["alice"]) as c:
        per_class = c.get("/api/v1/profiling/signatures").json()["device_classes"]
    shown = page.locator("#class-entries tbody tr")
    expect(shown).to_have_count(len(per_class))
    assert [shown.nth(i).locator("td").all_inner_texts() for i in range(len(per_class))] == [
        [d["key"], str(d["entries"])] for d in per_class]
    shots.take(page, "profiling")
    assert_no_traceback(page)

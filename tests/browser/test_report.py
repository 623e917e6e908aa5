"""The compilation report: the fused graph, a block's operators and C, the charts.

Expected values come from the JSON API's report of the same compilation, never from the page.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest
from playwright.sync_api import expect

from tests.browser import api
from tests.browser.pages import (
    assert_no_traceback,
    click_block,
    open_report,
    sign_in,
    tap_block,
)

pytestmark = pytest.mark.browser


def _expect_block_panel(page, block: dict) -> None:
    """``#block-ops`` lists the block's operators (type and node name) in the plan's order;
    ``#block-source`` is the block's C kernel."""
    items = page.locator("#block-ops li")
    expect(items).to_have_count(len(block["ops"]))
    for i, (op, node) in enumerate(zip(block["ops"], block["nodes"], strict=True)):
        text = items.nth(i).inner_text()
        assert op in text and node in text, (i, op, node, text)
    source = page.locator("#block-source")
    expect(source).to_contain_text(re.compile(rf"\b{re.escape(block['kernel'])}\s*\("))
    assert "for (" in source.inner_text()


def _chart(page, canvas_id: str) -> list:
    """The first dataset a Chart.js chart on the page draws."""
    return page.evaluate(
        "(id) => window.Chart.getChart(id).data.datasets[0].data", canvas_id
    )


def test_report_graph_block_ops_and_source(page, service, cls_report, shots):
    blocks = cls_report.report["blocks"]
    assert cls_report.job["summary"]["fused_blocks"] == len(blocks)
    sign_in(page, service.keys["alice"])
    open_report(page, cls_report.job["id"])
    drawn = page.evaluate("window.dnfGraph.nodes('[id ^= \"block-\"]').length")
    assert drawn == len(blocks)

    tap_block(page, 0)
    _expect_block_panel(page, blocks[0])
    expect(page.locator("#block-reasons")).to_be_attached()

    # A real mouse click on the biggest block selects it the same way.
    biggest = max(blocks, key=lambda b: len(b["ops"]))
    click_block(page, biggest["id"])
    _expect_block_panel(page, biggest)
    # for the screenshot: the graph from its inputs down (the click centred the block)
    page.evaluate("(() => { const cy = window.dnfGraph; const top = cy.nodes().min("
                  "n => n.renderedPosition('y')).ele; cy.panBy({x: 0,"
                  " y: 40 - top.renderedPosition('y')}); })()")
    shots.take(page, "report")
    assert_no_traceback(page)


def test_report_charts_and_download(page, service, cls_report):
    sign_in(page, service.keys["alice"])
    open_report(page, cls_report.job["id"])
    for chart in ("#chart-latency", "#chart-bytes", "#chart-arena", "#chart-rules"):
        expect(page.locator(f"canvas{chart}")).to_be_attached()
    summary, rep = cls_report.job["summary"], cls_report.report
    page.wait_for_function("['chart-latency', 'chart-bytes', 'chart-arena', 'chart-rules']"
                           ".every(id => window.Chart && window.Chart.getChart(id))")
    assert _chart(page, "chart-latency") == [summary["latency_ms"], summary["ort_latency_ms"]]
    # the spread over the median bars: p10-p90 of both runtimes' timed runs, as the API has them
    v = rep["validation"]
    spread = page.evaluate("window.Chart.getChart('chart-latency').data.datasets[1].data")
    assert spread == [[v["latency_p10_ms"], v["latency_p90_ms"]],
                      [v["ort_latency_p10_ms"], v["ort_latency_p90_ms"]]], (spread, v)
    assert _chart(page, "chart-bytes") == [
        rep["intermediate_bytes_before"], rep["intermediate_bytes_after"]]
    assert _chart(page, "chart-arena") == [
        rep["arena_bytes"], rep["arena_bytes_without_reuse"], rep["weights_bytes"]]
    rules = page.evaluate("(() => { const c = window.Chart.getChart('chart-rules');"
                          " return Object.fromEntries(c.data.labels.map("
                          "(l, i) => [l, c.data.datasets[0].data[i]])); })()")
    assert rules == rep["rewrites"]
    # time per block: the validation's profiled kernel times, the slowest 15, as the API has them
    times = rep["validation"]["block_us"]
    assert times, "the compilation's validation recorded no per-block times"
    expect(page.locator("canvas#chart-profile")).to_be_attached()
    expect(page.locator("#chart-profile-empty")).to_have_count(0)
    page.wait_for_function("window.Chart && window.Chart.getChart('chart-profile')")
    slowest = sorted((t["us"] for t in times), reverse=True)[:15]
    assert _chart(page, "chart-profile") == slowest
    link = page.locator("a#download-artifact")
    href = link.get_attribute("href")
    assert href, "download link has no href"
    artifact = page.request.get(href)  # with the page's session cookie
    assert artifact.status == 200, artifact.status
    body = artifact.body()
    assert body[:2] == b"\x1f\x8b" and len(body) == cls_report.job["artifact_bytes"]


def test_block_panel_gives_the_reasons_on_its_unfused_edges(page, service, cls_report):
    """The block with the most unfused edges: one ``#block-reasons`` item per edge the API's
    ``/blocks/{n}`` lists, each with its reason code, the other block and both node names."""
    with api.client(service.base_url, service.keys["alice"]) as c:
        graph = c.get(f"/api/v1/compilations/{cls_report.job['id']}/graph").json()
        touching = Counter()
        for e in graph["edges"]:
            n = sum(e["reasons"].values())
            touching[e["source"]] += n
            touching[e["target"]] += n
        block_id, count = touching.most_common(1)[0]
        block = c.get(f"/api/v1/compilations/{cls_report.job['id']}/blocks/{block_id}").json()
    edges = block["unfused_edges"]
    assert len(edges) == count > 0, (block_id, count, edges)
    sign_in(page, service.keys["alice"])
    open_report(page, cls_report.job["id"])
    tap_block(page, block_id)
    items = page.locator("#block-reasons li")
    expect(items).to_have_count(len(edges))
    for i, e in enumerate(edges):
        text = items.nth(i).inner_text()
        out = e["producer_block"] == block_id
        other = e["consumer_block"] if out else e["producer_block"]
        assert text.startswith(f"{e['reason']} {'to' if out else 'from'} block #{other}: "), text
        assert f"{e['producer']} → {e['consumer']}" in text and e["detail"] in text, (text, e)


def test_node_search_finds_the_block_holding_a_node(page, service, cls_report):
    blocks = cls_report.report["blocks"]

    def holders(text: str) -> list[int]:
        return [b["id"] for b in blocks if any(text.lower() in n.lower() for n in b["nodes"])]

    # A node deep in the graph whose name occurs in no other block's node names.
    target, name = next(
        (b, n) for b in reversed(blocks) for n in b["nodes"] if holders(n) == [b["id"]]
    )
    sign_in(page, service.keys["alice"])
    open_report(page, cls_report.job["id"])
    page.fill("#node-search", name)
    page.press("#node-search", "Enter")
    _expect_block_panel(page, target)


def test_blocks_coloured_by_their_mapping_type_and_graph_pans_and_zooms(page, service, cls_report):
    blocks = cls_report.report["blocks"]
    sign_in(page, service.keys["alice"])
    open_report(page, cls_report.job["id"])
    legend = page.evaluate(
        "[...document.querySelectorAll('#graph-legend .legend-item')].map(i =>"
        " [i.textContent.trim(), getComputedStyle(i.querySelector('.swatch')).backgroundColor])"
    )
    colour_of = {name: colour.replace(" ", "") for name, colour in legend}
    drawn = {
        node: colour.replace(" ", "")
        for node, colour in page.evaluate(
            "window.dnfGraph.nodes().map(n => [n.id(), n.style('background-color')])"
        )
    }
    for b in blocks:
        assert b["mapping_type"] in colour_of, (b["mapping_type"], legend)
        assert drawn[f"block-{b['id']}"] == colour_of[b["mapping_type"]], b

    zoom = page.evaluate("window.dnfGraph.zoom()")
    box = page.locator("#graph").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 100)
    page.mouse.wheel(0, -400)
    page.wait_for_function("z => window.dnfGraph.zoom() !== z", arg=zoom)

    pan = page.evaluate("window.dnfGraph.pan()")
    page.mouse.move(box["x"] + 20, box["y"] + 20)  # empty canvas at the corner
    page.mouse.down()
    page.mouse.move(box["x"] + 220, box["y"] + 120, steps=8)
    page.mouse.up()
    assert page.evaluate("window.dnfGraph.pan()") != pan

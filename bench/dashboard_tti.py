"""Time to interactive of the dashboard's compilation report, measured in headless Chromium.

The largest zoo model by node count (``light_densenet121``: 1,746 nodes in the ONNX file, 668
after import; next come Inception-v2 with 916 and 371, PP-OCRv4's detector with 672 and 330,
GPT-2 with 456; GPT-2 is the largest file, 475 MB) is uploaded to a fresh ``dnnfusion serve``
(SQLite, in-process worker) and compiled through the REST API; then its report page is loaded
in Debian's Chromium (driven by Playwright through ``executable_path``, never
``playwright install``). ``--model`` may be given more than once. Per load:

* ready: milliseconds from navigation start to ``#graph[data-ready="true"]`` (the graph is laid
  out and clickable; stamped by a MutationObserver installed before the page's own scripts);
* FCP: first contentful paint (the Paint Timing entry);
* DOM: ``domContentLoadedEventEnd`` of the navigation entry;
* layout: the page's own figure for creating and laying out the graph
  (``#graph[data-layout-ms]``), and its layout engine (``#graph[data-layout]``).

"cold" loads each use a fresh browser context (empty HTTP cache, the session cookie copied in);
"warm" loads reuse one context. Median of ``--loads`` loads each. ``--synthetic N`` adds a
``bench.synthetic`` graph of N nodes (the issue asks for a usable page at 2,000 nodes).
``--data-dir DIR`` keeps the service's data (and its first user's key, in ``DIR/bench-key``)
so a second run measures the compilations of the first instead of compiling again.

    python -m bench.dashboard_tti [--model light_densenet121 [--model gpt2 ...]]
        [--synthetic 2000] [--loads 5] [--data-dir DIR] [--out bench/results/dashboard_tti.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import onnx

from bench.synthetic import INPUT_SHAPES as SYNTHETIC_SHAPES
from bench.synthetic import synthetic_graph
from bench.zoo import ZOO

CHROMIUM = os.environ.get("DNNFUSION_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY_STAMP = """
new MutationObserver(() => {
  const g = document.getElementById('graph');
  if (window.__dnfReadyAt === undefined && g && g.getAttribute('data-ready') === 'true')
    window.__dnfReadyAt = performance.now();
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['data-ready']});
"""
TIMINGS = """() => ({
  ready: window.__dnfReadyAt,
  fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
  dom: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
  drawn: window.dnfGraph.nodes().length,
  layout: Number(document.getElementById('graph').dataset.layoutMs ?? NaN),
  engine: document.getElementById('graph').dataset.layout || null,
})"""


def start_service(root: Path) -> tuple[subprocess.Popen, str, str]:
    """``dnnfusion serve`` on a free port with its data in ``root/data``; (process, base URL,
    the first user's key: printed on the first start, kept in ``root/bench-key``)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DNNFUSION_") and k not in ("DATABASE_URL", "REDIS_URL")}
    log = open(root / "serve.log", "w+")  # noqa: SIM115 - the process owns it until it ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "dnnfusion", "serve", "--port", str(port), "--data-dir",
         str(root / "data")], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    key_file = root / "bench-key"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        printed = re.search(r"X-API-Key: (\S+)", (root / "serve.log").read_text())
        if printed:
            key_file.write_text(printed.group(1))
        try:
            if key_file.exists() and httpx.get(f"{base}/api/v1/health", timeout=1).is_success:
                return proc, base, key_file.read_text().strip()
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"dnnfusion serve did not start:\n{(root / 'serve.log').read_text()[-3000:]}")


def compile_on_service(base: str, key: str, data: bytes, name: str,
                       shapes: dict[str, tuple[int, ...]]) -> dict:
    """Upload and compile (or find a succeeded compilation of the same bytes and shapes from an
    earlier run); the final compilation (exits if it failed)."""
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=600) as c:
        r = c.post("/api/v1/models", files={"file": (name, data, "application/octet-stream")})
        r.raise_for_status()
        body = {"model_id": r.json()["id"], "input_shapes": {k: list(v) for k, v in shapes.items()}}
        done = c.get("/api/v1/compilations", params={"model_id": body["model_id"],
                                                     "state": "succeeded"}).json()["data"]
        for job in done:
            if job["input_shapes"] == body["input_shapes"]:
                return job
        r = c.post("/api/v1/compilations", json=body)
        r.raise_for_status()
        while (job := c.get(r.headers["location"]).json())["state"] not in ("succeeded", "failed"):
            time.sleep(1)
    if job["state"] != "succeeded":
        raise SystemExit(f"{name}: compilation failed: {job['error']}")
    return job


def measure(browser, base: str, key: str, compilation_id: str, loads: int) -> dict:
    """Cold and warm loads of the report page; lists of per-load timings (ms)."""
    signin = browser.new_context(base_url=base)
    page = signin.new_page()
    page.goto("/signin")
    page.fill("#api-key", key)
    page.click("#signin-submit")
    page.wait_for_url(f"{base}/")
    state = signin.storage_state()
    signin.close()

    def load(page) -> dict:
        page.goto(f"/compilations/{compilation_id}")
        page.wait_for_selector('#graph[data-ready="true"]', timeout=120_000)
        page.wait_for_function("window.__dnfReadyAt !== undefined")
        return page.evaluate(TIMINGS)

    out: dict[str, list[dict]] = {"cold": [], "warm": []}
    for _ in range(loads):
        ctx = browser.new_context(base_url=base, storage_state=state,
                                  viewport={"width": 1280, "height": 800})
        ctx.add_init_script(READY_STAMP)
        out["cold"].append(load(ctx.new_page()))
        ctx.close()
    ctx = browser.new_context(base_url=base, storage_state=state,
                              viewport={"width": 1280, "height": 800})
    ctx.add_init_script(READY_STAMP)
    page = ctx.new_page()
    load(page)  # fills the cache
    out["warm"] = [load(page) for _ in range(loads)]
    ctx.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", default=None,
                    help="zoo entry (bench.zoo), repeatable; default light_densenet121")
    ap.add_argument("--synthetic", type=int, default=0, help="also a synthetic N-node graph")
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--data-dir", type=Path, default=None, help="keep the service data here")
    ap.add_argument("--out", default="bench/results/dashboard_tti.md")
    args = ap.parse_args(argv)
    args.model = args.model or ["light_densenet121"]
    unknown = [m for m in args.model if m not in ZOO]
    if unknown:
        ap.error(f"unknown zoo model(s) {', '.join(unknown)}; known: {', '.join(ZOO)}")
    from playwright.sync_api import sync_playwright

    models = []
    for name in args.model:
        entry = ZOO[name]
        models.append((entry.name, Path(entry.path()).read_bytes(), entry.input_shapes))
    if args.synthetic:
        graph = synthetic_graph(args.synthetic).SerializeToString()
        models.append((f"synthetic_{args.synthetic}", graph, SYNTHETIC_SHAPES))
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dashboard-tti-") as tmp:
        root = args.data_dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        proc, base, key = start_service(root)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
                for name, data, shapes in models:
                    nodes = len(onnx.load_from_string(data).graph.node)
                    print(f"{name}: {nodes} nodes, compiling through the service...", flush=True)
                    job = compile_on_service(base, key, data, f"{name}.onnx", shapes)
                    print(f"  {job['summary']['fused_blocks']} blocks; loading the report "
                          f"{args.loads}+{args.loads} times", flush=True)
                    rows.append((name, nodes, job, measure(browser, base, key, job["id"],
                                                           args.loads)))
                version = browser.version
                browser.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    write(Path(args.out), rows, version, args, (load_before, os.getloadavg()))
    print(Path(args.out).read_text())
    return 0


def _med(loads: list[dict], key: str) -> str:
    values = [x[key] for x in loads if x[key] is not None and x[key] == x[key]]  # no NaN
    return f"{statistics.median(values):.0f}" if values else "n/a"


def write(out: Path, rows: list, version: str, args: argparse.Namespace,
          loads: tuple[tuple[float, ...], tuple[float, ...]]) -> None:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Dashboard: time to interactive of a compilation report",
        "",
        "Generated by `python -m bench.dashboard_tti"
        + "".join(f" --model {m}" for m in args.model)
        + (f" --synthetic {args.synthetic}" if args.synthetic else "")
        + f" --loads {args.loads}` on {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC."
        f" Machine: {cpu}, {os.cpu_count()} CPUs, shared with other jobs (load average"
        f" {loads[0][0]:.1f} at the start, {loads[1][0]:.1f} at the end). Chromium {version}"
        " headless (Debian's, through Playwright), 1280x800, service `dnnfusion serve` on"
        " loopback. Times in ms from navigation start, median of the loads; cold = fresh"
        " browser context (empty cache) per load, warm = reloads in one context.",
        "",
        "| model | ONNX nodes | nodes after import | fused blocks | graph nodes drawn | layout "
        "| loads | cold: ready | cold: FCP | cold: DOMContentLoaded | cold: graph create + layout "
        "| warm: ready | warm: FCP |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, nodes, job, m in rows:
        cold, warm = m["cold"], m["warm"]
        lines.append(
            f"| {name} | {nodes} | {job['summary']['original_nodes']} "
            f"| {job['summary']['fused_blocks']} | {cold[0]['drawn']} | {cold[0]['engine'] or '?'} "
            f"| {len(cold)}+{len(warm)} | {_med(cold, 'ready')} | {_med(cold, 'fcp')} "
            f"| {_med(cold, 'dom')} | {_med(cold, 'layout')} | {_med(warm, 'ready')} "
            f"| {_med(warm, 'fcp')} |")
    lines += ["", "Per load (ms, ready / FCP):", ""]
    for name, _, _, m in rows:
        for kind in ("cold", "warm"):
            each = ", ".join(f"{x['ready']:.0f} / {x['fcp'] or 0:.0f}" for x in m[kind])
            lines.append(f"- {name} {kind}: {each}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

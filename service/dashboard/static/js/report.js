// The report page: the fused graph (Cytoscape.js + dagre, one node per block), the block
// panel, the charts (Chart.js). Every number comes from the JSON API:
//   /compilations/{id}, /compilations/{id}/graph, /compilations/{id}/blocks/{n},
//   /compilations/{id}/report (the compiler's report.json).
import { MAPPING_COLORS, api, el, fmtBytes, fmtMs, fmtShape, fmtUs, setText } from "./common.js";
import { layeredPositions } from "./layered.js";

const root = document.getElementById("report");
const id = root.dataset.compilationId;
const graphBox = document.getElementById("graph");
const FINAL = new Set(["succeeded", "failed"]);
const OURS = "#3467d6";
const ORT = "#98a2b3";
const READABLE_ZOOM = 0.9;
const DAGRE_MAX_BLOCKS = 300; // above: our own layered layout (layered.js)

function markReady(extra = {}) {
  graphBox.dataset.ready = "true";
  graphBox.dataset.readyMs = String(Math.round(performance.now()));
  Object.assign(graphBox.dataset, extra);
}

// ---- the graph ---------------------------------------------------------------------------

// "#12 Conv+Relu", cut to fit the box (Cytoscape's own ellipsis measures every label: slow on
// thousands of blocks).
function blockLabel(b) {
  const ops = b.ops.length <= 3 ? b.ops.join("+") : `${b.ops.slice(0, 3).join("+")}+${b.ops.length - 3}`;
  const label = `#${b.id} ${ops}`;
  return label.length > 22 ? `${label.slice(0, 21)}…` : label;
}

function buildLegend() {
  const legend = document.getElementById("graph-legend");
  legend.replaceChildren(...Object.entries(MAPPING_COLORS).map(([name, color]) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = color;
    return el("span", { class: "legend-item" }, swatch, name);
  }));
}

// A long model fitted whole is unreadably small: start at a readable zoom on its inputs ("Fit"
// shows all of it).
function readableStart(cy) {
  if (cy.zoom() >= READABLE_ZOOM || cy.nodes().length === 0) return;
  let top = cy.nodes()[0];
  cy.nodes().forEach((n) => { if (n.position("y") < top.position("y")) top = n; });
  cy.zoom(READABLE_ZOOM);
  cy.pan({ x: graphBox.clientWidth / 2 - top.position("x") * READABLE_ZOOM, y: 30 - top.position("y") * READABLE_ZOOM });
}

function drawGraph(graph) {
  const started = performance.now();
  const big = graph.blocks.length > 400;
  const engine = graph.blocks.length <= DAGRE_MAX_BLOCKS ? "dagre" : "layered";
  // The fast layout's positions go straight into the elements (no second layout pass).
  const positions = engine === "layered" ? layeredPositions(graph.blocks, graph.edges, { width: 150 }) : null;
  const elements = [
    ...graph.blocks.map((b) => ({
      group: "nodes",
      data: {
        id: `block-${b.id}`, block: b.id, label: blockLabel(b), mapping: b.mapping_type,
        color: MAPPING_COLORS[b.mapping_type] || "#ffffff",
        search: b.nodes.join("\n").toLowerCase(),
      },
      position: positions ? positions.get(b.id) : undefined,
    })),
    ...graph.edges.map((e) => ({
      group: "edges",
      data: { id: `edge-${e.source}-${e.target}`, source: `block-${e.source}`, target: `block-${e.target}`,
              reasons: Object.keys(e.reasons).join(", ") },
    })),
  ];
  const cy = window.cytoscape({
    container: graphBox,
    elements,
    minZoom: 0.02,
    maxZoom: 3,
    textureOnViewport: big,
    hideEdgesOnViewport: big,
    motionBlur: false,
    style: [
      { selector: "node", style: {
        shape: "round-rectangle", width: 150, height: 30, "background-color": "data(color)",
        "border-width": 1, "border-color": "#5b6473", label: "data(label)", "font-size": 11,
        "font-family": "system-ui, sans-serif", color: "#1d2433", "text-valign": "center",
        "text-halign": "center", "min-zoomed-font-size": 7,
      } },
      { selector: "edge", style: {
        width: 1.2, "line-color": "#a8b0bd", "target-arrow-color": "#a8b0bd",
        "target-arrow-shape": "triangle", "curve-style": big ? "haystack" : "bezier", "arrow-scale": 0.8,
      } },
      { selector: "node:selected", style: { "border-width": 3, "border-color": "#1d4ed8" } },
      { selector: "node.match", style: { "border-width": 3, "border-color": "#d97706" } },
      { selector: ".faded", style: { opacity: 0.18 } },
    ],
    layout: { name: "preset", fit: true, padding: 16 },
  });
  window.dnfGraph = cy;
  graphBox.dataset.createMs = String(Math.round(performance.now() - started));
  const finish = () => {
    readableStart(cy);
    markReady({ layoutMs: String(Math.round(performance.now() - started)), blocks: String(graph.blocks.length), layout: engine });
  };
  if (engine === "dagre") {
    const layout = cy.layout({ name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 34, edgeSep: 6, fit: true, padding: 16, animate: false });
    layout.one("layoutstop", finish);
    layout.run();
  } else {
    finish();
  }
  cy.on("tap", "node", (evt) => showBlock(evt.target.data("block")));
  return cy;
}

function search(cy, text) {
  const q = text.trim().toLowerCase();
  cy.batch(() => {
    cy.elements().removeClass("match faded");
    if (!q) return;
    const hits = cy.nodes().filter((n) => n.data("search").includes(q));
    hits.addClass("match");
    cy.elements().difference(hits).addClass("faded");
  });
  if (!q) { setText("search-status", ""); return; }
  const hits = cy.nodes(".match");
  setText("search-status", hits.length === 1 ? "1 block" : `${hits.length} blocks`);
  if (hits.length) {
    cy.fit(hits, 60);
    if (cy.zoom() > 1) { cy.zoom(1); cy.center(hits); }
  }
}

// ---- the block panel ---------------------------------------------------------------------

async function showBlock(n) {
  setText("block-title", `Block #${n}`);
  setText("block-meta", "loading…");
  try {
    const b = await api(`/compilations/${id}/blocks/${n}`);
    setText("block-title", `Block #${b.id} · ${b.mapping_type}`);
    setText("block-meta", `${b.ops.length} operators · writes ${fmtBytes(b.output_bytes)} · keeps ${fmtBytes(b.removed_bytes)} inside`);
    document.getElementById("block-ops").replaceChildren(...b.ops.map((o) => el("li", {},
      el("span", { class: "op" }, o.op), " ", el("span", { class: "node-name" }, o.node),
      o.shapes ? el("span", { class: "shape" }, ` → ${o.shapes.map(fmtShape).join(", ")}`) : null)));
    const reasons = b.unfused_edges.map((e) => {
      const out = e.producer_block === b.id;
      const other = out ? e.consumer_block : e.producer_block;
      const timing = e.fused_us != null ? ` (fused ${fmtUs(e.fused_us)} vs separate ${fmtUs(e.separate_us)}, ${e.source || "?"})` : "";
      return el("li", {}, el("span", { class: "reason" }, e.reason), ` ${out ? "to" : "from"} block #${other}: `,
        el("span", { class: "node-name" }, `${e.producer} → ${e.consumer}`), ` — ${e.detail}${timing}`);
    });
    document.getElementById("block-reasons").replaceChildren(...(reasons.length ? reasons : [el("li", { class: "muted" }, "none")]));
    document.getElementById("block-source").textContent = b.source || "(no generated C in this artifact)";
  } catch (err) {
    setText("block-meta", err.message);
  }
}

// ---- the charts --------------------------------------------------------------------------

function barChart(canvasId, labels, datasets, { horizontal = false, format = (v) => v } = {}) {
  const canvas = document.getElementById(canvasId);
  return new window.Chart(canvas, {
    type: "bar",
    data: { labels, datasets },
    options: {
      indexAxis: horizontal ? "y" : "x",
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: {
        legend: { display: datasets.length > 1, position: "bottom" },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${Array.isArray(c.raw) ? c.raw.map(format).join(" – ") : format(c.raw)}` } },
      },
      scales: { [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { callback: (v) => format(v) } } },
    },
  });
}

function latencyChart(report) {
  const v = report.validation || {};
  const ours = report.latency_ms;
  const ort = report.ort_latency_ms;
  if (ours == null || ort == null) {
    setText("latency-note", "Not timed (an emulated target, or the comparison was turned off).");
    return;
  }
  const datasets = [{ label: "median", data: [ours, ort], backgroundColor: [OURS, ORT], barPercentage: 0.6 }];
  const spread = [v.latency_p10_ms, v.latency_p90_ms, v.ort_latency_p10_ms, v.ort_latency_p90_ms];
  if (spread.every((x) => typeof x === "number")) {
    datasets.push({ label: "p10–p90", data: [[spread[0], spread[1]], [spread[2], spread[3]]],
      backgroundColor: "rgba(29,36,51,0.35)", barPercentage: 0.12, grouped: false });
    setText("latency-note", `Median and p10–p90 of ${v.runs} runs each, ${v.threads} threads.`);
  } else {
    setText("latency-note", `Median of ${v.runs ?? "?"} runs each (${v.threads ?? "?"} threads); this report records no spread.`);
  }
  const speed = ort / ours;
  setText("report-message", `${speed >= 1 ? "Faster" : "Slower"} than ONNX Runtime: ${fmtMs(ours)} vs ${fmtMs(ort)} (${speed.toFixed(2)}×); max abs error ${Number(report.max_abs_error).toExponential(2)}.`);
  barChart("chart-latency", ["dnnfusion", "ONNX Runtime"], datasets, { format: fmtMs });
}

function charts(report, graph) {
  latencyChart(report);
  barChart("chart-bytes", ["before fusion", "after fusion"],
    [{ label: "bytes", data: [report.intermediate_bytes_before, report.intermediate_bytes_after], backgroundColor: [ORT, OURS] }],
    { format: fmtBytes });
  barChart("chart-arena", ["arena", "without reuse", "weights"],
    [{ label: "bytes", data: [report.arena_bytes, report.arena_bytes_without_reuse, report.weights_bytes], backgroundColor: [OURS, ORT, "#6b7d99"] }],
    { format: fmtBytes });
  const rules = Object.entries(report.rewrites || {}).sort((a, b) => b[1] - a[1]);
  if (rules.length) {
    barChart("chart-rules", rules.map((r) => r[0]), [{ label: "times fired", data: rules.map((r) => r[1]), backgroundColor: OURS }], { horizontal: true });
  } else {
    document.getElementById("chart-rules").hidden = true;
    document.getElementById("rules-empty").hidden = false;
  }
  profileChart(report, graph);
}

const PROFILE_TOP = 15;  // blocks shown in the time-per-block chart (the slowest)

// Time per block: the validation's profiled runs (report.validation.block_us, µs per kernel).
function profileChart(report, graph) {
  const times = (report.validation || {}).block_us;
  if (!Array.isArray(times) || times.length === 0) {
    document.getElementById("chart-profile-slot").replaceChildren(el("p", { id: "chart-profile-empty", class: "empty" },
      "No data: this compilation was not timed (an emulated target, or the comparison was off). `dnnfusion run OUT --inputs IN.npz --profile` times every block where the artifact runs."));
    return;
  }
  const ops = new Map(graph.blocks.map((b) => [b.id, b.ops]));
  const total = times.reduce((a, t) => a + t.us, 0) || 1;
  const top = [...times].sort((a, b) => b.us - a.us).slice(0, PROFILE_TOP);
  const label = (t) => {
    const o = ops.get(t.block) || [];
    const text = `#${t.block} ${o.slice(0, 3).join("+")}${o.length > 3 ? "+…" : ""}`;
    return text.length > 32 ? `${text.slice(0, 31)}…` : text;
  };
  const canvas = el("canvas", { id: "chart-profile" });
  const box = el("div", { class: "profile-box" }, canvas);
  const note = el("p", { class: "muted", id: "profile-note" },
    `The ${top.length} slowest of ${times.length} blocks: median of 3 profiled runs, ${fmtUs(total)} in kernels; the rest take ${fmtUs(total - top.reduce((a, t) => a + t.us, 0))}.`);
  document.getElementById("chart-profile-slot").replaceChildren(box, note);
  barChart("chart-profile", top.map(label), [{ label: "µs", data: top.map((t) => t.us), backgroundColor: OURS }],
    { horizontal: true, format: fmtUs });
}

// ---- the page ----------------------------------------------------------------------------

async function waitFinal() {
  for (;;) {
    const job = await api(`/compilations/${id}`);
    setText("report-state", job.state);
    if (FINAL.has(job.state)) return job;
    setText("report-message", `The compilation is ${job.state}${job.stage ? ` (${job.stage})` : ""}; this page updates when it ends.`);
    await new Promise((r) => setTimeout(r, 1500));
  }
}

async function main() {
  buildLegend();
  const job = await waitFinal();
  const download = document.getElementById("download-artifact");
  if (job.state !== "succeeded") {
    download.classList.add("disabled");
    download.removeAttribute("href");
    setText("report-message", `The compilation failed: ${job.error || "no reason recorded"}`);
    graphBox.replaceChildren(el("p", { class: "empty" }, "No graph: the compilation failed."));
    markReady();
    return;
  }
  const [graph, report] = await Promise.all([api(`/compilations/${id}/graph`), api(`/compilations/${id}/report`)]);
  const cy = drawGraph(graph);
  const searchBox = document.getElementById("node-search");
  searchBox.addEventListener("input", () => search(cy, searchBox.value));
  searchBox.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const first = cy.nodes(".match")[0];
    if (!first) return;
    cy.nodes().unselect();
    first.select();
    cy.zoom(1);
    cy.center(first);
    showBlock(first.data("block"));
  });
  document.getElementById("graph-fit").addEventListener("click", () => cy.fit(undefined, 16));
  charts(report, graph);
}

main().catch((err) => {
  setText("report-message", err.message);
  markReady();
});

// The profiling database page: pick a fusion signature (operators and mapping types, any
// shape); chart its fused vs. separate latency per shape and device class; entries per class.
import { api, el, fmtUs, setText } from "./common.js";

const box = document.getElementById("profiling");
let chart = null;

const PALETTE = [["#3467d6", "#a9bff0"], ["#d9822b", "#f2c89b"], ["#2f9e6b", "#a6dcc3"], ["#8e5bd6", "#d2bff0"]];

function shapeLabel(shapes) {
  if (!Array.isArray(shapes) || !shapes.length) return "?";
  return shapes.map((s) => (Array.isArray(s) ? s.join("×") : String(s))).join(", ");
}

// The x axis: one column per output shape (the signature's last shape), smallest first.
function outputShape(e) {
  const last = Array.isArray(e.shapes) && e.shapes.length ? e.shapes[e.shapes.length - 1] : null;
  return Array.isArray(last) ? last : [];
}

const isDecade = (v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;

// A power of ten at least 1.5× under the smallest value, so the shortest bar still shows.
function decadeBelow(datasets) {
  const values = datasets.flatMap((d) => d.data).filter((v) => v > 0);
  return values.length ? 10 ** Math.floor(Math.log10(Math.min(...values) / 1.5)) : undefined;
}

// The power of ten at or above the largest value: the axis always ends on a labelled decade
// (values inside one decade otherwise leave a single tick label).
function decadeAbove(datasets) {
  const values = datasets.flatMap((d) => d.data).filter((v) => v > 0);
  return values.length ? 10 ** Math.ceil(Math.log10(Math.max(...values))) : undefined;
}

async function showStructure(key) {
  const body = await api(`/profiling/signatures/${encodeURIComponent(key)}`);
  const size = (shape) => shape.reduce((a, d) => a * d, 1);
  const columns = [...new Map(body.entries.map((e) => [outputShape(e).join("×") || "?", outputShape(e)])).entries()]
    .sort((a, b) => size(a[1]) - size(b[1])).map(([label]) => label);
  const classes = [...new Set(body.entries.map((e) => e.device_class))].sort();
  const newest = new Map(); // "class|column" -> newest entry (entries arrive newest first)
  for (const e of body.entries) {
    const k = `${e.device_class}|${outputShape(e).join("×") || "?"}`;
    if (!newest.has(k)) newest.set(k, e);
  }
  const datasets = classes.flatMap((c, i) => {
    const [dark, light] = PALETTE[i % PALETTE.length];
    const series = (field) => columns.map((col) => newest.get(`${c}|${col}`)?.[field] ?? null);
    return [
      { label: `${c}: fused`, data: series("fused_median_us"), backgroundColor: dark },
      { label: `${c}: separate`, data: series("separate_median_us"), backgroundColor: light },
    ];
  });
  const canvas = document.getElementById("chart-profiling");
  if (chart) chart.destroy();
  chart = new window.Chart(canvas, {
    type: "bar",
    data: { labels: columns, datasets },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${fmtUs(c.raw)} (median)` } } },
      scales: {
        x: { title: { display: true, text: "output shape" } },
        y: { type: "logarithmic", min: decadeBelow(datasets), max: decadeAbove(datasets), title: { display: true, text: "µs per run (median, log scale)" },
          ticks: { callback: (v) => (isDecade(v) ? fmtUs(v) : "") } },
      },
    },
  });
  const rows = body.entries.map((e) => el("tr", {},
    el("td", {}, e.device_class), el("td", {}, shapeLabel(e.shapes)),
    el("td", { class: "num" }, fmtUs(e.fused_median_us)), el("td", { class: "num" }, fmtUs(e.separate_median_us)),
    el("td", { class: "num" }, `${(e.separate_median_us / e.fused_median_us).toFixed(2)}×`),
    el("td", { class: "num" }, `${(e.spread * 100).toFixed(1)} %`),
    el("td", { class: "num" }, `${e.fused_count} / ${e.separate_count}`),
    el("td", {}, new Date(e.measured_at).toLocaleString())));
  document.getElementById("profiling-entries").replaceChildren(
    el("thead", {}, el("tr", {}, ...["Device class", "Shapes", "Fused", "Separate", "Fusion gain", "Spread", "Runs", "Measured"]
      .map((h, i) => el("th", { class: i >= 2 && i <= 6 ? "num" : null }, h)))),
    el("tbody", {}, ...rows));
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function render(summary) {
  if (!summary.structures.length) {
    box.replaceChildren(el("p", { id: "profiling-empty", class: "empty" },
      "The profiling database is empty: `dnnfusion profile --device host --model M.onnx` or a device agent adds measurements."));
    return;
  }
  const select = el("select", { id: "signature-select", "aria-label": "fusion signature" },
    ...summary.structures.map((s) => el("option", { value: s.structure_key },
      `${s.ops}  (${s.mapping}; ${s.dtype}) — ${plural(s.entries, "entry", "entries")}, ${plural(s.signatures, "shape", "shapes")}, ${plural(s.device_classes, "device class", "device classes")} [${s.structure_key.slice(0, 8)}]`)));
  const perClass = el("table", { id: "class-entries", class: "data compact" },
    el("thead", {}, el("tr", {}, el("th", {}, "Device class"), el("th", { class: "num" }, "Entries"))),
    el("tbody", {}, ...summary.device_classes.map((c) => el("tr", {}, el("td", {}, c.key), el("td", { class: "num" }, String(c.entries))))));
  box.replaceChildren(
    el("div", { class: "field" }, el("label", { for: "signature-select" }, "Fusion signature"), select),
    el("div", { class: "chart tall" }, el("canvas", { id: "chart-profiling" })),
    el("h2", {}, "Entries"), el("div", { class: "table-wrap" }, el("table", { id: "profiling-entries", class: "data" })),
    el("h2", {}, "Entries per device class"), perClass,
  );
  select.addEventListener("change", () => showStructure(select.value).catch((err) => setText("profiling-error", err.message)));
  return showStructure(select.value);
}

api("/profiling/signatures").then(render).catch((err) => setText("profiling-error", err.message));

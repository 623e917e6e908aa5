// The profiling database page: pick a fusion signature (operators and mapping types, any
// shape); chart its fused vs. separate latency per shape and device class; entries per class.
import { api, el, fmtUs, setText } from "./common.js";

const box = document.getElementById("profiling");
let chart = null;

function shapeLabel(shapes) {
  if (!Array.isArray(shapes) || !shapes.length) return "?";
  return shapes.map((s) => (Array.isArray(s) ? s.join("×") : String(s))).join(", ");
}

async function showStructure(key) {
  const body = await api(`/profiling/signatures/${encodeURIComponent(key)}`);
  const entries = [...body.entries].reverse(); // oldest first reads left to right
  const labels = entries.map((e) => `${e.device_class} · ${shapeLabel(e.shapes)}`);
  const canvas = document.getElementById("chart-profiling");
  if (chart) chart.destroy();
  chart = new window.Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: [
        { label: "fused (median)", data: entries.map((e) => e.fused_median_us), backgroundColor: "#3467d6" },
        { label: "separate (median)", data: entries.map((e) => e.separate_median_us), backgroundColor: "#98a2b3" },
        { label: "fused p10–p90", data: entries.map((e) => [e.fused_p10_us, e.fused_p90_us]), backgroundColor: "rgba(52,103,214,0.3)", barPercentage: 0.3 },
        { label: "separate p10–p90", data: entries.map((e) => [e.separate_p10_us, e.separate_p90_us]), backgroundColor: "rgba(152,162,179,0.4)", barPercentage: 0.3 },
      ],
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      plugins: { legend: { position: "bottom" },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${Array.isArray(c.raw) ? c.raw.map(fmtUs).join(" – ") : fmtUs(c.raw)}` } } },
      scales: { y: { beginAtZero: true, title: { display: true, text: "µs per run" }, ticks: { callback: (v) => fmtUs(v) } } },
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

function render(summary) {
  if (!summary.structures.length) {
    box.replaceChildren(el("p", { id: "profiling-empty", class: "empty" },
      "The profiling database is empty: `dnnfusion profile --device host --model M.onnx` or a device agent adds measurements."));
    return;
  }
  const select = el("select", { id: "signature-select", "aria-label": "fusion signature" },
    ...summary.structures.map((s) => el("option", { value: s.structure_key },
      `${s.ops}  (${s.mapping}; ${s.dtype}) — ${s.entries} entries, ${s.signatures} shapes, ${s.device_classes} classes`)));
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

// The compilations page: the table (newest first, filterable, live states), the upload form
// (XMLHttpRequest with upload progress), starting a compilation.
import { API, ApiError, api, csrfToken, el, fmtBytes, fmtMs, fmtWhen, setText } from "./common.js";

const FINAL = new Set(["succeeded", "failed"]);
const POLL_MS = 1500;
const REFRESH_MS = 20000;
const modelNames = new Map();
const rows = new Map(); // compilation id -> latest CompilationPublic
const tbody = document.querySelector("#compilations-table tbody");
const filterInput = document.getElementById("filter");

// ---- input shapes text -------------------------------------------------------------------

// "x=1x3x224x224, mask=1x128" -> {x: [1,3,224,224], mask: [1,128]}; throws Error(message).
export function parseShapes(text) {
  const shapes = {};
  const trimmed = text.trim();
  if (!trimmed) return shapes;
  for (const part of trimmed.split(",")) {
    const item = part.trim();
    if (!item) continue;
    const eq = item.lastIndexOf("=");
    if (eq <= 0) throw new Error(`"${item}" is not name=dims (like x=1x3x224x224)`);
    const name = item.slice(0, eq).trim();
    const dims = item.slice(eq + 1).trim();
    if (!/^\d+([x×*]\d+)*$/i.test(dims)) {
      throw new Error(`"${item}": dims must be whole numbers joined by x, like ${name}=1x3x224x224`);
    }
    if (name in shapes) throw new Error(`input "${name}" is given twice`);
    const values = dims.split(/[x×*]/i).map(Number);
    if (values.some((d) => d > 2147483647)) throw new Error(`"${item}": a dimension is too large`);
    shapes[name] = values;
  }
  return shapes;
}

// ---- the table ---------------------------------------------------------------------------

function speedUp(s) {
  if (!s.latency_ms || !s.ort_latency_ms) return "–";
  return `${(s.ort_latency_ms / s.latency_ms).toFixed(2)}×`;
}

function nodesBlocks(s) {
  if (s.original_nodes == null || s.fused_blocks == null) return "–";
  return `${s.original_nodes} → ${s.fused_blocks}`;
}

const STAGE_CHARS = 140;  // a failed job's reason is cut here; the cell's title and the report show it whole

function stageText(job) {
  if (job.state === "failed") {
    const error = job.error || "";
    return error.length > STAGE_CHARS ? `${error.slice(0, STAGE_CHARS)}…` : error;
  }
  if (job.state === "succeeded" && job.cache_hit) return "cache hit";  // nothing was compiled
  if (job.state === "succeeded") return job.timings.run_ms != null ? `done in ${fmtMs(job.timings.run_ms)}` : "done";
  return job.stage || "";
}

function modelName(job) {
  return modelNames.get(job.model_id) || job.model_id.slice(0, 8);
}

function renderRow(job) {
  const s = job.summary;
  const tr = el("tr", { dataset: { compilationId: job.id, state: job.state } },
    el("td", { class: "model" }, el("a", { class: "report-link", href: `/compilations/${job.id}` }, modelName(job))),
    el("td", {}, job.target),
    el("td", {}, job.device_class || "default"),
    el("td", { class: `state state-${job.state}` }, job.state),
    el("td", { class: "stage", title: job.error || "" }, stageText(job)),
    el("td", { class: "num" }, nodesBlocks(s)),
    el("td", { class: "num" }, fmtMs(s.latency_ms)),
    el("td", { class: "num" }, fmtMs(s.ort_latency_ms)),
    el("td", { class: "num speedup" }, speedUp(s)),
    el("td", { class: "when", title: job.created_at }, fmtWhen(job.created_at)),
    el("td", {}, el("a", { href: `/compilations/${job.id}` }, "Report")),
  );
  return tr;
}

function applyFilter() {
  const q = filterInput.value.trim().toLowerCase();
  for (const tr of tbody.rows) {
    tr.hidden = q !== "" && !tr.textContent.toLowerCase().includes(q);
  }
}

function redraw() {
  const jobs = [...rows.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  tbody.replaceChildren(...jobs.map(renderRow));
  document.getElementById("compilations-empty").hidden = jobs.length > 0;
  applyFilter();
}

function updateRow(job) {
  rows.set(job.id, job);
  const old = tbody.querySelector(`tr[data-compilation-id="${CSS.escape(job.id)}"]`);
  if (old) {
    const tr = renderRow(job);
    tr.hidden = old.hidden;
    old.replaceWith(tr);
  } else {
    redraw();
  }
}

async function loadModels() {
  for (let skip = 0; skip < 5000; skip += 100) {
    const page = await api(`/models?skip=${skip}&limit=100`);
    for (const m of page.data) modelNames.set(m.id, m.name);
    if (skip + 100 >= page.count) break;
  }
}

async function loadCompilations() {
  try {
    await loadModels();
    const page = await api("/compilations?limit=100");
    rows.clear();
    for (const job of page.data) rows.set(job.id, job);
    setText("compilations-error", "");
    redraw();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) setText("compilations-error", err.message);
  }
}

async function poll() {
  const active = [...rows.values()].filter((j) => !FINAL.has(j.state)).slice(0, 20);
  await Promise.all(active.map(async (job) => {
    try {
      updateRow(await api(`/compilations/${job.id}`));
    } catch (_) { /* the next poll retries */ }
  }));
  setTimeout(poll, POLL_MS);
}

// ---- upload and compile ------------------------------------------------------------------

function uploadModel(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}/models`);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      const body = xhr.response;
      if (xhr.status === 200 || xhr.status === 201) resolve(body);
      else reject(new ApiError(xhr.status, (body && body.detail) || `upload failed (${xhr.status})`));
    };
    xhr.onerror = () => reject(new ApiError(0, "the upload was interrupted (network error or too large)"));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

function fieldFor(message) {
  if (/input_shapes|input shape|not inputs of the model|dynamic/i.test(message)) return "input-shapes-error";
  if (/target/i.test(message)) return "target-error";
  return "model-file-error";
}

async function onSubmit(event) {
  event.preventDefault();
  for (const id of ["model-file-error", "input-shapes-error", "target-error"]) setText(id, "");
  const fileInput = document.getElementById("model-file");
  const file = fileInput.files[0];
  let shapes;
  try {
    shapes = parseShapes(document.getElementById("input-shapes").value);
  } catch (err) {
    setText("input-shapes-error", err.message);
    return;
  }
  if (!file) {
    setText("model-file-error", "choose an .onnx file (or a .zip / .tar.gz with external data)");
    return;
  }
  // The API refuses it too (413), but the browser may only see the connection cut mid-upload.
  const maxBytes = Number(document.getElementById("upload-form").dataset.maxUploadBytes);
  if (maxBytes && file.size > maxBytes) {
    setText("model-file-error", `upload exceeds the limit of ${maxBytes} bytes (${fmtBytes(maxBytes)}); this file is ${fmtBytes(file.size)}`);
    return;
  }
  const button = document.getElementById("upload-submit");
  const progress = document.getElementById("upload-progress");
  button.disabled = true;
  progress.hidden = false;
  progress.value = 0;
  setText("upload-status", "uploading…");
  try {
    let model;
    try {
      model = await uploadModel(file, (f) => {
        progress.value = Math.round(f * 100);
        setText("upload-status", `uploading… ${Math.round(f * 100)}%`);
      });
    } catch (err) {
      setText("model-file-error", err.message);
      setText("upload-status", "");
      return;
    }
    progress.value = 100;
    modelNames.set(model.id, model.name);
    setText("upload-status", "starting the compilation…");
    const target = document.getElementById("target").value;
    try {
      const job = await api("/compilations", { method: "POST", body: { model_id: model.id, input_shapes: shapes, target } });
      updateRow(job);
      setText("upload-status", `compilation ${job.id.slice(0, 8)} started: its state is in the table below`);
      fileInput.value = "";
    } catch (err) {
      setText(fieldFor(err.message), err.message);
      setText("upload-status", "");
    }
  } finally {
    button.disabled = false;
    setTimeout(() => { progress.hidden = true; }, 800);
  }
}

document.getElementById("upload-form").addEventListener("submit", onSubmit);
filterInput.addEventListener("input", applyFilter);
loadCompilations().then(() => setTimeout(poll, POLL_MS));
setInterval(loadCompilations, REFRESH_MS);

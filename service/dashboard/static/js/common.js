// Shared helpers of the dashboard pages: the JSON API client (session cookie + CSRF token),
// DOM building that only ever sets text (never HTML), and number formatting.

export const API = "/api/v1";

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function errorOf(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") detail = body.detail;
  } catch (_) { /* not JSON */ }
  return new ApiError(response.status, detail);
}

// fetch() a JSON API path; resolves to the parsed body, rejects with ApiError (detail = the
// API's one-line message). A 401 means the session ended: back to the sign-in page.
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    window.location.assign("/signin");
    throw new ApiError(401, "signed out");
  }
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

// el("td", {class: "num"}, "text", child...): attributes are set as attributes, strings as
// text nodes; no HTML is ever parsed.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function setText(id, text) {
  const node = document.getElementById(id);
  if (node) node.textContent = text || "";
}

export function fmtBytes(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${trim(v, v < 10 ? 2 : 1)} ${units[i]}`;
}

function trim(x, digits) {
  return Number(x.toFixed(digits)).toString();
}

// Milliseconds, shown in µs under 1 ms and in s from 10 s.
export function fmtMs(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${trim(ms * 1000, ms < 0.01 ? 2 : 1)} µs`;
  if (ms >= 10000) return `${trim(ms / 1000, 1)} s`;
  return `${trim(ms, ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`;
}

export function fmtUs(us) {
  if (us === null || us === undefined || !Number.isFinite(us)) return "–";
  return us >= 1000 ? fmtMs(us / 1000) : `${trim(us, us < 10 ? 2 : 1)} µs`;
}

export function fmtWhen(iso) {
  if (!iso) return "–";
  const t = new Date(iso);
  const s = (Date.now() - t.getTime()) / 1000;
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return t.toLocaleString();
}

export function fmtShape(shape) {
  return Array.isArray(shape) ? `[${shape.join("×")}]` : "";
}

// Mapping-type colours (the same as the DOT picture of `dnnfusion plan --dot`, darker borders).
export const MAPPING_COLORS = {
  "One-to-One": "#9ad89a",
  "One-to-Many": "#f3d27a",
  "Many-to-Many": "#ef9a9a",
  "Reorganize": "#9cc3f0",
  "Shuffle": "#c6a8e6",
  "Opaque": "#bdbdbd",
};

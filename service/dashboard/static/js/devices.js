// The devices page: GET /api/v1/devices as one table (a row per device, grouped by class).
import { api, el, fmtWhen, setText } from "./common.js";

function classCell(c) {
  const parts = [c.cpu_model, c.isa, c.cores ? `${c.cores} cores` : null, c.max_mhz ? `${c.max_mhz} MHz` : null, c.os]
    .filter(Boolean).join(" · ");
  return el("td", { class: "class-cell" }, el("div", { class: "class-key" }, c.key), el("div", { class: "muted small" }, parts));
}

function render(classes) {
  const box = document.getElementById("devices");
  if (!classes.length) {
    box.replaceChildren(el("p", { id: "devices-empty", class: "empty" },
      "No device classes yet: a device agent registers them (deploy/AGENT.md), and `dnnfusion profile --device host` adds this machine's."));
    return;
  }
  const rows = [];
  for (const c of classes) {
    const devices = c.devices.length ? c.devices : [null];
    devices.forEach((d, i) => {
      rows.push(el("tr", { dataset: { deviceClass: c.key } },
        i === 0 ? Object.assign(classCell(c), { rowSpan: devices.length }) : null,
        i === 0 ? Object.assign(el("td", { class: "num" }, String(c.queue_length)), { rowSpan: devices.length }) : null,
        el("td", {}, d ? d.serial : "no devices"),
        el("td", {}, d ? el("span", { class: `badge ${d.online ? "online" : "offline"}` }, d.online ? "online" : "offline") : "–"),
        el("td", { title: d && d.last_seen_at ? d.last_seen_at : "" }, d ? fmtWhen(d.last_seen_at) : "–"),
        el("td", { class: "num" }, d && d.temperature_c != null ? `${d.temperature_c.toFixed(1)} °C` : "–"),
        el("td", { class: "num" }, d && d.battery_pct != null ? `${Math.round(d.battery_pct)} %` : "–"),
        el("td", {}, d && d.agent ? d.agent : "–"),
      ));
    });
  }
  box.replaceChildren(el("div", { class: "table-wrap" }, el("table", { id: "devices-table", class: "data" },
    el("thead", {}, el("tr", {}, ...["Device class", "Queue", "Device", "State", "Last heartbeat", "Temperature", "Battery", "Agent"]
      .map((h, i) => el("th", { class: i === 1 || i === 5 || i === 6 ? "num" : null }, h)))),
    el("tbody", {}, ...rows))));
}

api("/devices").then((body) => render(body.device_classes)).catch((err) => setText("devices-error", err.message));

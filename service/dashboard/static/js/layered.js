// A fast layered layout for large fused graphs (dagre's crossing minimisation grows too slow
// and too deep for the JS stack past ~1,000 blocks). Block ids are in topological order
// (PLAN.json), so one pass gives each block its layer (the longest path from the inputs);
// blocks are then ordered inside their layers by the mean position of their neighbours,
// sweeping down then up a few times. Time O((V + E) log V).

export function layeredPositions(blocks, edges, { width = 128, height = 30, gapX = 24, gapY = 40, sweeps = 4 } = {}) {
  const ids = blocks.map((b) => b.id);
  const preds = new Map(ids.map((id) => [id, []]));
  const succs = new Map(ids.map((id) => [id, []]));
  for (const e of edges) {
    if (!preds.has(e.target) || !succs.has(e.source) || e.source === e.target) continue;
    preds.get(e.target).push(e.source);
    succs.get(e.source).push(e.target);
  }
  // Layers: longest path from a source, in topological (id) order.
  const layer = new Map();
  for (const id of [...ids].sort((a, b) => a - b)) {
    let l = 0;
    for (const p of preds.get(id)) if (layer.has(p)) l = Math.max(l, layer.get(p) + 1);
    layer.set(id, l);
  }
  const layers = [];
  for (const id of ids) (layers[layer.get(id)] ||= []).push(id);
  const pos = new Map(); // id -> position inside its layer (centred)
  const place = (row) => row.forEach((id, i) => pos.set(id, i - (row.length - 1) / 2));
  layers.forEach(place);
  const mean = (list, fallback) => {
    if (!list.length) return fallback;
    let s = 0;
    for (const n of list) s += pos.get(n);
    return s / list.length;
  };
  const sweep = (row, neighbours) => {
    const key = new Map(row.map((id) => [id, mean(neighbours.get(id), pos.get(id))]));
    row.sort((a, b) => key.get(a) - key.get(b) || a - b);
    place(row);
  };
  for (let s = 0; s < sweeps; s += 1) {
    for (let l = 1; l < layers.length; l += 1) sweep(layers[l], preds);
    for (let l = layers.length - 2; l >= 0; l -= 1) sweep(layers[l], succs);
  }
  const out = new Map();
  for (const id of ids) out.set(id, { x: pos.get(id) * (width + gapX), y: layer.get(id) * (height + gapY) });
  return out;
}

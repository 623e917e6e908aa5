"""Ablation in the paper's style (DNNFusion Fig. 7): each step's share of the speed-up.

    python -m bench.ablation [--models NAMES...] [--threads 2] [--runs 20]

Every model is compiled four ways (compile options, :mod:`compiler_core.options`):

- ``no fusion``: ``fusion`` and ``rewrite`` off: one kernel per ONNX operator;
- ``fusion``: the mapping-type plan without algebraic rewriting (``rewrite`` off);
- ``full``: rewriting and fusion, without the fusions below the mapping-type floor
  (``beyond_floor`` off, where the option exists);
- ``full + beyond floor``: the default compile (attention as one kernel, sibling GEMMs fused).

All four artifacts and ONNX Runtime (``ORT_ENABLE_ALL``, same threads) run in one process on
the same random inputs, in turns like :mod:`bench.latency` (an untimed lead-in per turn, the
order rotating every round), and every output is checked against ONNX Runtime's (rtol 1e-3,
atol 1e-4). Writes ``bench/results/ablation.md`` (medians in ms, speed-up over ONNX Runtime and
over ``no fusion``, kernels per variant) and ``ablation.png`` (grouped bars).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.latency import (
    BLOCK,
    LEAD_IN_S,
    MIN_BUDGET_S,
    REPO_ROOT,
    RESULTS,
    _cpu,
    _load,
    _now,
    _write,
)

ARTIFACTS = REPO_ROOT / ".cache" / "ablation"
DEFAULT_MODELS = ("light_squeezenet_random", "light_inception_v2_random",
                  "light_resnet50_random", "ppocr_v4_det", "tinybert", "distilbert")
VARIANTS: dict[str, dict] = {
    "no fusion": {"fusion": False, "rewrite": False, "beyond_floor": False},
    "fusion": {"rewrite": False, "beyond_floor": False},
    "full": {"beyond_floor": False},
    "full + beyond floor": {},
}
ORT = "ONNX Runtime"


@dataclass
class Result:
    model: str
    ms: dict[str, float] = field(default_factory=dict)  # variant (or ORT) -> median ms
    blocks: dict[str, int] = field(default_factory=dict)
    max_diff: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def speedup(self, variant: str, over: str = ORT) -> float | None:
        if variant in self.ms and over in self.ms:
            return self.ms[over] / self.ms[variant]
        return None


def variant_options(variant: str) -> dict | None:
    """The compile options of ``variant``, keeping only options this compiler has; None when
    the variant needs one it lacks (``full + beyond floor`` equals ``full`` then)."""
    from compiler_core.options import OPTIONS

    opts = VARIANTS[variant]
    if variant == "full + beyond floor" and "beyond_floor" not in OPTIONS:
        return None
    return {k: v for k, v in opts.items() if k in OPTIONS}


def alternate(runners: dict, feeds: dict, runs: int) -> dict[str, float]:
    """Median ms of each runner (``name -> run(None, feeds)``), in turns: each turn an untimed
    lead-in (one run and ``LEAD_IN_S``) then ``BLOCK - 1`` or more timed runs; the order
    rotates every round."""
    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn(None, feeds)
        return (time.perf_counter() - t0) * 1e3

    names = list(runners)
    one_round = sum(min(timed(runners[n]) for _ in range(2)) for n in names)
    runs = max(runs, min(1000, int(MIN_BUDGET_S * 1e3 * len(names) / 2 / max(one_round, 1e-3))))
    per_turn = max(BLOCK - 1, int(0.1 * 1e3 * len(names) / max(one_round, 1e-3)))
    times: dict[str, list[float]] = {n: [] for n in names}
    for i in range(-(-runs // per_turn)):
        order = names[i % len(names):] + names[:i % len(names)]
        for n in order:
            t_lead = time.perf_counter()
            timed(runners[n])
            while time.perf_counter() - t_lead < LEAD_IN_S:
                timed(runners[n])
            times[n].extend(timed(runners[n]) for _ in range(per_turn))
    return {n: statistics.median(t) for n, t in times.items()}


def measure(name: str, runs: int, threads: int) -> Result:
    import onnxruntime as ort

    from bench.ort_baseline import _session_options, _static_model_bytes
    from bench.zoo import get
    from compiler_core.compile import compile_model
    from compiler_core.errors import DnnFusionError
    from compiler_core.runtime import InferenceSession

    entry = get(name)
    res = Result(name)
    feeds = entry.random_inputs(seed=0)
    theirs = ort.InferenceSession(
        _static_model_bytes(entry.path(), entry.input_shapes),
        _session_options(ort.GraphOptimizationLevel.ORT_ENABLE_ALL, threads),
        providers=["CPUExecutionProvider"],
    )
    want = theirs.run(None, feeds)
    runners, sessions = {ORT: theirs.run}, []
    for variant in VARIANTS:
        opts = variant_options(variant)
        if opts is None:
            res.note += f"'{variant}' not measured: no beyond_floor option in this compiler. "
            continue
        slug = variant.replace(" ", "_").replace("+", "plus")
        t0 = time.perf_counter()
        try:
            art = compile_model(entry.path(), entry.input_shapes,
                                output_dir=ARTIFACTS / name / slug, options=opts)
        except DnnFusionError as e:
            res.note += f"'{variant}' refused: {e}. "
            continue
        sess = InferenceSession(art, threads=threads)
        sessions.append(sess)
        got = sess.run(None, feeds)
        res.max_diff[variant] = max(
            float(np.max(np.abs(g.astype(np.float64) - w))) if g.size else 0.0
            for g, w in zip(got, want, strict=True))
        ok = all(np.allclose(g, w, rtol=1e-3, atol=1e-4) for g, w in zip(got, want, strict=True))
        if not ok:
            res.note += f"'{variant}' DIFFERS from ONNX Runtime (max {res.max_diff[variant]:.2e}). "
        res.blocks[variant] = kernels(Path(art))
        runners[variant] = sess.run
        print(f"  {name}: {variant}: {res.blocks[variant]} kernels "
              f"(compiled in {time.perf_counter() - t0:.0f} s)", flush=True)
    res.ms = alternate(runners, feeds, runs)
    for s in sessions:
        s.close()
    return res


def kernels(art: Path) -> int:
    """Blocks of the artifact that run a kernel: a Concat in place's empty function is none
    (its report's blocks have a ``kind``)."""
    blocks = json.loads((art / "report.json").read_text())["blocks"]
    return sum(b.get("kind") != "concat_in_place" for b in blocks)


def plot(results: list[Result], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    variants = [v for v in VARIANTS if any(v in r.ms for r in results)]
    fig, ax = plt.subplots(figsize=(max(7.0, 1.3 * len(results) + 2), 4.4))
    width = 0.8 / max(1, len(variants))
    colors = ["#bbbbbb", "#8ecae6", "#219ebc", "#023047"]
    for k, v in enumerate(variants):
        vals = [r.speedup(v) or 0.0 for r in results]
        xs = [i + (k - (len(variants) - 1) / 2) * width for i in range(len(results))]
        ax.bar(xs, vals, width, label=v, color=colors[k % len(colors)])
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(results)), [r.model for r in results], rotation=30, ha="right",
                  fontsize=8)
    ax.set_ylabel("ONNX Runtime time / variant time")
    ax.set_title("Ablation: speed-up over ONNX Runtime by compiler step (>1: faster)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return True


def markdown(results: list[Result], threads: int, runs: int, before: str, after: str,
             png: bool) -> str:
    import onnxruntime as ort

    variants = [v for v in VARIANTS if any(v in r.ms for r in results)]
    lines = [
        "# Ablation: what each compiler step buys (DNNFusion Fig. 7 style)",
        "",
        f"Generated by `python -m bench.ablation` on {_now()}. Machine: {_cpu()}; load average "
        f"{before} before, {after} after. {threads} threads; median of at least {runs} runs "
        f"each, all variants and ONNX Runtime {ort.__version__} (ORT_ENABLE_ALL) in one process, "
        "in rotating turns. Variants: " + "; ".join(
            f"**{v}** = options {VARIANTS[v] or 'defaults'}" for v in VARIANTS) + ".",
        "",
        "Cells: median ms (speed-up over ONNX Runtime; kernels). Last columns: speed-up of each "
        "step over `no fusion`.",
        "",
        "| model | ORT ms | " + " | ".join(variants) + " | " +
        " | ".join(f"{v} / no fusion" for v in variants[1:]) + " | note |",
        "|---|---|" + "---|" * len(variants) + "---|" * (len(variants) - 1) + "---|",
    ]
    for r in results:
        cells = []
        for v in variants:
            if v in r.ms:
                cells.append(f"{r.ms[v]:.3f} ({r.speedup(v):.2f}x; {r.blocks[v]})")
            else:
                cells.append("")
        steps = [f"{r.speedup(v, 'no fusion'):.2f}" if r.speedup(v, "no fusion") else ""
                 for v in variants[1:]]
        ort_ms = f"{r.ms[ORT]:.3f}" if ORT in r.ms else ""
        lines.append(f"| {r.model} | {ort_ms} | " + " | ".join(cells) + " | " +
                     " | ".join(steps) + f" | {r.note.strip()} |")
    for v in variants:
        vals = [r.speedup(v) for r in results if r.speedup(v)]
        if vals:
            geo = float(np.exp(np.mean(np.log(vals))))
            lines.append(f"\nGeometric mean speed-up over ONNX Runtime, {v}: {geo:.2f} "
                         f"({len(vals)} models).")
    if png:
        lines += ["", "![ablation](ablation.png)"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ablation",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", help=f"zoo names (default: {' '.join(DEFAULT_MODELS)})")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="markdown file (default bench/results/ablation.md)")
    args = ap.parse_args(argv)
    before = _load()
    results = []
    for name in args.models or DEFAULT_MODELS:
        t0 = time.perf_counter()
        try:
            r = measure(name, args.runs, args.threads)
        except Exception as e:  # noqa: BLE001 - a zoo model that cannot be built here
            r = Result(name, note=f"not measured: {type(e).__name__}: {str(e)[:120]}")
        results.append(r)
        cells = "  ".join(f"{v} {r.ms[v]:.3f} ms" for v in r.ms)
        print(f"{name}: {cells}  ({time.perf_counter() - t0:.0f} s) {r.note}", flush=True)
    out = Path(args.out or RESULTS / "ablation.md")
    png = plot(results, out.with_suffix(".png"))
    _write(out, markdown(results, args.threads, args.runs, before, _load(), png))
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Latency: dnnfusion vs ONNX Runtime on the model zoo, and the OpenMP wait-policy study.

    python -m bench.latency [--models NAMES...] [--runs 20] [--threads 2]

For every zoo model that compiles: our artifact (``InferenceSession(threads=N)``) and ONNX
Runtime (``ORT_ENABLE_ALL``, ``intra_op_num_threads=N``, the same static input shapes) in one
process, warmed up, then at least ``--runs`` runs each (small models more, about 3 s of
timing), alternating in blocks of ``BLOCK`` consecutive runs (which runtime goes first flips
every round) so both see the same machine state. Each block starts with an untimed lead-in
(at least one run and ``LEAD_IN_S``): both runtimes' thread pools keep spinning after a run
(ONNX Runtime's for about 60 ms, measured: 7-8 following SqueezeNet runs of ours took 8 ms
instead of 4) and would take the cores of the other's first runs; a pause instead would put
both pools to sleep, and waking them is not what a user running inferences back to back pays. Reports the medians,
ORT/ours (>1: we are faster), the
largest output difference, the machine's load average and its core link (``bench.core_link``:
how far apart CPUs 0 and 1 are, which a VM's host changes) before and after, and writes
``bench/results/latency.md`` with a bar chart ``bench/results/latency.png`` (matplotlib,
``pip install -e .[bench]``). Models the compiler refuses are listed with the reason.

    python -m bench.latency --wait-policy [--models NAMES...] [--load 2]

The OpenMP wait-policy study behind ``compiler_core.runtime.threads``: each policy runs in its
own process (libgomp reads it once at load), rounds interleaved, on an otherwise idle machine
and with ``--load`` extra busy processes; writes ``bench/results/threads.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results"
ARTIFACTS = REPO_ROOT / ".cache" / "latency"
BLOCK = 5  # runs of one runtime per turn: an untimed lead-in, then BLOCK - 1 timed runs
LEAD_IN_S = 0.2  # least untimed time at the start of a turn (the other pool goes idle)
TURN_S = 0.1  # timed runs per turn: BLOCK - 1, or more for fast models (about this long)
MIN_BUDGET_S = 3.0  # small models run more than --runs times, up to this much timing
MAX_RUNS = 1000


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def compile_zoo_model(name: str, out_root: Path = ARTIFACTS):
    """(entry, artifact path) for a zoo model; raises DnnFusionError when it is refused."""
    from bench.zoo import get
    from compiler_core.compile import compile_model

    entry = get(name)
    art = compile_model(entry.path(), entry.input_shapes, output_dir=out_root / name)
    return entry, art


# -- ours vs ONNX Runtime ---------------------------------------------------------------------
@dataclass
class Row:
    name: str
    kind: str
    blocks: int | None = None
    ours_ms: float | None = None
    ort_ms: float | None = None
    max_diff: float | None = None
    runs: int = 0
    note: str = ""
    gflop: float | None = None  # the model's FLOPs (bench.roofline.model_bounds), 1e9
    bound_ms: float | None = None  # roofline lower bound on this machine

    def over_bound(self, ms: float | None) -> float | None:
        """``ms`` over the roofline bound (>= 1; 1.0 would be the machine's peak)."""
        return ms / self.bound_ms if ms and self.bound_ms else None

    @property
    def speedup(self) -> float | None:
        if self.ours_ms and self.ort_ms:
            return self.ort_ms / self.ours_ms
        return None


def measure_model(name: str, runs: int, threads: int, warmup: int = 3, machine=None,
                  compiled=None) -> Row:
    """One row: ``name`` compiled (or ``compiled`` = (entry, artifact) reused) and timed
    against ONNX Runtime at ``threads``; roofline columns when ``machine`` is given."""
    import onnxruntime as ort

    from bench.ort_baseline import _session_options, _static_model_bytes
    from bench.zoo import get
    from compiler_core.errors import DnnFusionError
    from compiler_core.runtime import InferenceSession

    row = Row(name, get(name).kind)
    try:
        entry, art = compiled or compile_zoo_model(name)
    except DnnFusionError as e:
        row.note = f"refused: {e}"
        return row
    ours = InferenceSession(art, threads=threads)
    row.blocks = len(ours.blocks)
    if machine is not None:
        from bench.roofline import model_bounds

        b = model_bounds(entry.path(), entry.input_shapes)
        row.gflop, row.bound_ms = b.flops / 1e9, machine.bound_ms(b.flops, b.min_bytes)
    theirs = ort.InferenceSession(
        _static_model_bytes(entry.path(), entry.input_shapes),
        _session_options(ort.GraphOptimizationLevel.ORT_ENABLE_ALL, threads),
        providers=["CPUExecutionProvider"],
    )
    feeds = entry.random_inputs(seed=0)
    want = theirs.run(None, feeds)
    got = ours.run(None, feeds)
    row.max_diff = max(float(np.max(np.abs(g.astype(np.float64) - w))) if g.size else 0.0
                       for g, w in zip(got, want, strict=True))
    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn(None, feeds)
        return (time.perf_counter() - t0) * 1e3

    pair_ms = min(timed(ours.run) + timed(theirs.run) for _ in range(warmup))
    # At least `runs`; small models get more, up to ~MIN_BUDGET_S of timing each.
    row.runs = runs = max(runs, min(MAX_RUNS, int(MIN_BUDGET_S * 1e3 / max(pair_ms, 1e-3))))
    t_ours, t_ort = [], []
    turns = [(ours.run, t_ours), (theirs.run, t_ort)]
    per_turn = max(BLOCK - 1, int(TURN_S * 2e3 / max(pair_ms, 1e-3)))  # timed runs per turn
    for i in range(-(-runs // per_turn)):  # alternate in blocks, which goes first flips
        for fn, times in turns if i % 2 == 0 else turns[::-1]:
            # Untimed lead-in while the other runtime's idle pool still spins (at least one
            # run and LEAD_IN_S): ONNX Runtime's workers keep spinning for ~60 ms after its
            # last run, long enough to halve the speed of 7-8 SqueezeNet runs of ours.
            t_lead = time.perf_counter()
            timed(fn)
            while time.perf_counter() - t_lead < LEAD_IN_S:
                timed(fn)
            times.extend(timed(fn) for _ in range(per_turn))
    row.ours_ms = statistics.median(t_ours)
    row.ort_ms = statistics.median(t_ort)
    ours.close()
    return row


def plot(rows: list[Row], path: Path) -> bool:
    """Bar chart of ORT/ours per model; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    done = [r for r in rows if r.speedup]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(done) + 2), 4.2))
    vals = [r.speedup for r in done]
    colors = ["#2a9d8f" if v >= 1 else "#e76f51" for v in vals]
    ax.bar([r.name for r in done], vals, color=colors)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_ylabel("ONNX Runtime time / dnnfusion time")
    ax.set_title("Latency vs ONNX Runtime (>1: dnnfusion faster)")
    for i, v in enumerate(vals):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=8)
    plt.setp(ax.get_xticklabels(), rotation=40, ha="right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return True


def latency_markdown(rows, runs, threads, load_before, load_after, png: str | None,
                     machine=None, link: tuple[float | None, float | None] = (None, None)
                     ) -> str:
    import onnxruntime as ort

    from compiler_core.runtime.threads import openmp_status
    from compiler_core.target.blas import blas_status

    lines = [
        "# Latency: dnnfusion vs ONNX Runtime",
        "",
        f"Generated by `python -m bench.latency` on {_now()}. Machine: {_cpu()}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.machine()}; load average "
        f"(1/5/15 min) {load_before} before, {load_after} after. {threads} threads each; "
        f"median of at least {runs} runs each after warm-up (small models: more runs, about "
        f"{MIN_BUDGET_S:g} s of timing), both in one process, alternating in turns (each an untimed lead-in of at least one run and {LEAD_IN_S:g} s while the other runtime's pool stops spinning, then at least {BLOCK - 1} timed runs, about {TURN_S:g} s; which runtime goes first flips every round). ONNX Runtime "
        f"{ort.__version__} with ORT_ENABLE_ALL. OpenMP: {openmp_status()}. OpenBLAS: {blas_status()}.",
        "",
    ]
    if any(x is not None for x in link):
        before, after = (f"{x:.0f} ns" if x is not None else "?" for x in link)
        lines += [
            f"Core link (`bench.core_link`: a cache line bounced between CPUs 0 and 1): "
            f"{before} per round trip before, {after} after. A virtual machine's host moves its "
            "vCPUs: at a few hundred ns they are far apart and 2-thread runs of small models "
            "are slower for both runtimes, ours more (light SqueezeNet 1.55 -> 2.5 ms, ONNX "
            "Runtime 1.55 -> 1.93 ms, Zen 5, 82-96 vs 380 ns).",
            "",
        ]
    lines += [
        "Speedup = ORT ms / dnnfusion ms (>1: dnnfusion is faster). max |diff| = largest "
        "absolute difference between the two outputs on the same random inputs.",
        "",
    ]
    if machine is not None:
        lines += [
            f"Roofline (`bench.roofline`, measured at the start of this run, {threads} threads): "
            f"SGEMM {machine.gemm_gflops:.1f} GFLOP/s, copy {machine.copy_gbs:.1f} GB/s. bound = "
            "max(model FLOPs / SGEMM rate, (inputs + weights + outputs bytes) / copy rate); "
            "ours/bound and ORT/bound: latency over that bound (1.0 = the machine's peak).",
            "",
        ]
    lines += [
        "| model | kind | fused blocks | runs | dnnfusion ms | ORT ms | speedup | max abs diff "
        "| GFLOP | bound ms | ours/bound | ORT/bound | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        def f(x, fmt):
            return format(x, fmt) if x is not None else ""

        note = r.note.replace("|", "\\|")[:160]
        lines.append(f"| {r.name} | {r.kind} | {f(r.blocks, 'd')} | {r.runs or ''} | "
                     f"{f(r.ours_ms, '.3f')} | "
                     f"{f(r.ort_ms, '.3f')} | {f(r.speedup, '.2f')} | {f(r.max_diff, '.2e')} "
                     f"| {f(r.gflop, '.3f')} | {f(r.bound_ms, '.3f')} | "
                     f"{f(r.over_bound(r.ours_ms), '.2f')} | {f(r.over_bound(r.ort_ms), '.2f')} "
                     f"| {note} |")
    done = [r.speedup for r in rows if r.speedup]
    if done:
        geo = float(np.exp(np.mean(np.log(done))))
        lines += ["", f"Geometric mean speedup over {len(done)} models: {geo:.2f}."]
    if png:  # the chart's file name, beside the markdown
        lines += ["", f"![speedup per model]({png})"]
    return "\n".join(lines) + "\n"


def run_latency(args) -> int:
    from bench.zoo import ZOO
    from compiler_core.errors import DnnFusionError

    names = args.models or list(ZOO)
    load_before = _load()
    from bench.core_link import round_trip_ns

    link_before = round_trip_ns()
    machines: dict[int, object] = {t: None for t in args.threads}
    if not args.no_roofline:
        from bench.roofline import measure_machine

        for t in args.threads:
            machines[t] = m = measure_machine(t)
            print(f"roofline: SGEMM {m.gemm_gflops:.1f} GFLOP/s, copy {m.copy_gbs:.1f} "
                  f"GB/s at {t} threads", flush=True)
    rows: dict[int, list[Row]] = {t: [] for t in args.threads}
    for name in names:
        t0 = time.perf_counter()
        try:
            compiled = compile_zoo_model(name)  # once, timed at every thread count
        except DnnFusionError:
            compiled = None  # measure_model records the refusal
        except Exception as e:  # noqa: BLE001 - a zoo model that cannot be built here
            for t in args.threads:
                rows[t].append(Row(name, "?", note=f"not measured: {type(e).__name__}: "
                                                  f"{str(e)[:120]}"))
            print(f"{name:28s} not measured: {e}", flush=True)
            continue
        for t in args.threads:
            try:
                row = measure_model(name, args.runs, t, machine=machines[t], compiled=compiled)
            except Exception as e:  # noqa: BLE001 - a zoo model that cannot be built here
                row = Row(name, "?", note=f"not measured: {type(e).__name__}: {str(e)[:120]}")
            rows[t].append(row)
            speed = f"speedup {row.speedup:.2f}" if row.speedup else row.note[:100]
            bound = f"  ours/bound {row.over_bound(row.ours_ms):.2f}" if row.bound_ms else ""
            print(f"{name:28s} {t}T ours {row.ours_ms or 0:9.3f} ms  ORT {row.ort_ms or 0:9.3f} "
                  f"ms  {speed}{bound}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    load_after = _load()
    link = (link_before, round_trip_ns())
    for t in args.threads:
        default = RESULTS / ("latency.md" if t == 2 else f"latency_{t}thread.md")
        out = Path(args.out or default) if len(args.threads) == 1 else default
        png = plot(rows[t], out.with_suffix(".png"))
        _write(out, latency_markdown(rows[t], args.runs, t, load_before, load_after,
                                     out.with_suffix(".png").name if png else None,
                                     machines[t], link))
        print(f"wrote {out}" + (f" and {out.with_suffix('.png')}" if png else
                                " (no chart: pip install matplotlib)"), file=sys.stderr)
    return 0


# -- OpenMP wait policy -----------------------------------------------------------------------
POLICIES = {
    "libgomp default (runtime default)": {"GOMP_SPINCOUNT": "300000"},  # libgomp's own spin
    "OMP_WAIT_POLICY=PASSIVE (DNNFUSION_WAIT_POLICY=passive)": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
}


def _child(art: str, feeds_path: str, threads: int) -> int:
    """Worker of the wait-policy study: on each stdin line N, run N times, print stats."""
    from compiler_core.runtime import InferenceSession

    sess = InferenceSession(art, threads=threads)
    with np.load(feeds_path) as data:
        feeds = {k: data[k] for k in data.files}
    for _ in range(3):
        sess.run(None, feeds)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        times = []
        c0 = time.process_time()
        for _ in range(n):
            t0 = time.perf_counter()
            sess.run(None, feeds)
            times.append((time.perf_counter() - t0) * 1e3)
        cpu = (time.process_time() - c0) / n * 1e3
        print(json.dumps({"median": statistics.median(times), "cpu": cpu}), flush=True)
    return 0


def _policy_round(name, art, feeds_path, threads, rounds, runs) -> dict[str, tuple]:
    kids = {}
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY",
                                                             "GOMP_SPINCOUNT")}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                       os.environ.get("PYTHONPATH")]))
    try:
        for label, env in POLICIES.items():
            kids[label] = subprocess.Popen(
                [sys.executable, "-m", "bench.latency", "--child", str(art), feeds_path,
                 str(threads)], env={**base, **env}, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
            kids[label].stdout.readline()
        res: dict[str, list] = {k: [] for k in POLICIES}
        for _ in range(rounds):
            for label, k in kids.items():
                k.stdin.write(f"{runs}\n")
                k.stdin.flush()
                res[label].append(json.loads(k.stdout.readline()))
        return {k: (statistics.median(x["median"] for x in v),
                    statistics.median(x["cpu"] for x in v)) for k, v in res.items()}
    finally:
        for k in kids.values():
            k.kill()
            k.wait()


def run_wait_policy(args) -> int:
    names = args.models or ["bert_tiny_test", "tinybert", "bert_base"]
    table = []
    with tempfile.TemporaryDirectory() as tmp:
        arts = {}
        for name in names:
            entry, art = compile_zoo_model(name)
            feeds_path = os.path.join(tmp, f"{name}.npz")
            np.savez(feeds_path, **entry.random_inputs(seed=0))
            arts[name] = (art, feeds_path)
        for load in (0, args.load):
            busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                    for _ in range(load)]
            try:
                before = _load()
                for name, (art, feeds_path) in arts.items():
                    runs = 10 if "tiny_test" in name else 3
                    res = _policy_round(name, art, feeds_path, args.threads, args.rounds, runs)
                    for label, (med, cpu) in res.items():
                        table.append((load, name, label, med, cpu, before))
                        print(f"+{load} busy  {name:16s} {label:42s} {med:9.3f} ms  "
                              f"cpu {cpu:9.3f} ms", flush=True)
            finally:
                for p in busy:
                    p.kill()
                    p.wait()
    lines = [
        "# OpenMP wait policy: libgomp's default spinning vs the runtime's default",
        "",
        f"Generated by `python -m bench.latency --wait-policy` on {_now()}. Machine: {_cpu()}, "
        f"{os.cpu_count()} CPUs. {args.threads} OpenMP threads per model; each policy in its own "
        f"process (libgomp reads it at load), {args.rounds} interleaved rounds, median of the "
        f"round medians. 'cpu' is the process CPU time per run (spinning shows up there). "
        f"Loaded = {args.load} extra busy-looping processes. The runtime keeps libgomp's "
        "default unless DNNFUSION_WAIT_POLICY or OMP_WAIT_POLICY is set "
        "(compiler_core/runtime/threads.py).",
        "",
        "| extra busy processes | load avg at start | model | policy | median ms | cpu ms/run |",
        "|---|---|---|---|---|---|",
    ]
    for load, name, label, med, cpu, before in table:
        lines.append(f"| {load} | {before} | {name} | {label} | {med:.3f} | {cpu:.3f} |")
    out = Path(args.out or RESULTS / "threads.md")
    _write(out, "\n".join(lines) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--child"]:
        return _child(argv[1], argv[2], int(argv[3]))
    ap = argparse.ArgumentParser(prog="python -m bench.latency",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="*", help="zoo model names (default: all)")
    ap.add_argument("--runs", type=int, default=20, help="timed runs per model (default 20)")
    ap.add_argument("--threads", type=int, nargs="+", default=[2],
                    help="threads for both (default 2); several: each model compiled once, "
                         "timed at each (2 -> latency.md, N -> latency_Nthread.md)")
    ap.add_argument("--out", help="markdown file (default bench/results/latency.md)")
    ap.add_argument("--wait-policy", action="store_true",
                    help="run the OpenMP wait-policy study instead (bench/results/threads.md)")
    ap.add_argument("--load", type=int, default=2, help="busy processes for the loaded case")
    ap.add_argument("--no-roofline", action="store_true",
                    help="skip the roofline columns (bench.roofline: ~5 s of SGEMM and copies)")
    ap.add_argument("--rounds", type=int, default=8, help="wait-policy rounds (default 8)")
    args = ap.parse_args(argv)
    if args.runs < 20 and not args.wait_policy:
        print("note: fewer than 20 runs", file=sys.stderr)
    if args.wait_policy:
        args.threads = args.threads[0]
        return run_wait_policy(args)
    return run_latency(args)


if __name__ == "__main__":
    sys.exit(main())

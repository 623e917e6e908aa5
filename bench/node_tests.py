"""ONNX backend node tests through the whole compiler: compile, run, compare.

The ``onnx`` wheel no longer ships the node-test data files, but it ships their generators
(``onnx.backend.test.case.node``): :func:`collect` builds the same test cases in memory
(model + input and expected output arrays). Selected: every case whose graph holds only
operators the compiler handles (registry rows with an element-wise/index emitter or an anchor,
as ``compiler_core.codegen`` tables them, plus the operators import always folds:
:data:`IMPORT_FOLDED`), whose inputs are float32, int64, int32, int8, uint8 or bool tensors
(the dtypes code generation has). The report also counts the cases left out because an
operator has no code generator (:class:`Census`).

Preparation, documented as test-harness steps (not compiler features):

- the compiler accepts default-domain opsets 9..21; a case generated at another opset is
  converted to 21 with ``onnx.version_converter`` first ("skipped" when it cannot be);
- node tests pass shape-deciding operands (Reshape's shape, Reduce axes, Slice starts, Pad
  pads, Resize scales, CumSum's axis, TopK's k...) as graph *inputs*, while the compiler needs
  static shapes and reads such operands at compile time: when compiling raises
  :class:`~compiler_core.errors.ShapeError` (or an UnsupportedOperatorError saying an input
  must be a constant), the inputs after the first (the data operand) are turned into
  initializers holding the test's values and the case is compiled again; when that still
  fails so (ConstantOfShape, Range: the output's shape is the first input's value), every
  input is frozen and the model compiles to a constant.

Statuses: ``pass``; ``refused`` (:class:`~compiler_core.errors.UnsupportedOperatorError` at
compile time, a documented limitation); ``wrong`` (ran, wrong dtype/shape/values); ``error``
(another compile-time error); ``crash`` (an unexpected exception, the process died, or a time
limit); ``skipped`` (opset conversion impossible). Floats compare with rtol 1e-3, atol 1e-4
(NaN equal to NaN), integers and booleans exactly.

Cases run in ``jobs`` worker subprocesses (a crash in generated code kills a worker, not the
caller), each model with one OpenMP thread, sharing the build cache.

CLI:  python -m bench.node_tests [--jobs N] [--ops Add MatMul ...] [--out FILE.md]
prints per-operator pass / refused / wrong counts and writes bench/results/node_tests.md.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS = REPO_ROOT / "bench" / "results" / "node_tests.md"
INPUT_TYPES = (TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL,
               TensorProto.INT8, TensorProto.UINT8)
RTOL, ATOL = 1e-3, 1e-4
MIN_OPSET, MAX_OPSET = 9, 21
CASE_TIMEOUT_S = 300.0
STATUSES = ("pass", "refused", "wrong", "error", "crash", "skipped")


# Operators import always replaces by constants (Constant nodes are lifted to initializers;
# Shape and Size of the static shapes the compiler requires are folded), so no kernel is
# generated for them.
IMPORT_FOLDED = frozenset({"Constant", "Shape", "Size"})


def supported_ops() -> set[str]:
    """Operators the compiler handles: the registry rows naming an emitter or an anchor
    (the tables ``compiler_core.codegen`` builds from them) ∪ :data:`IMPORT_FOLDED`."""
    from compiler_core.codegen.anchors import ANCHORS
    from compiler_core.codegen.ops import EMITTERS

    return set(EMITTERS) | set(ANCHORS) | IMPORT_FOLDED


@dataclass
class Census:
    """How all ONNX node-test cases split: ``total`` cases; ``selected``; ``no_generator``:
    cases not selected because an operator of theirs has no row with an emitter or anchor
    (per missing operator, a case counted under each); ``no_generator_cases``: how many
    such cases; ``other``: cases not selected for their input dtypes or non-default domain."""

    total: int = 0
    selected: int = 0
    no_generator_cases: int = 0
    other: int = 0
    no_generator: collections.Counter = field(default_factory=collections.Counter)


@dataclass
class NodeCase:
    name: str
    op: str  # the operator the case tests (for "_expanded" cases: the expanded function's)
    ops: list[str]  # operators in the graph
    model: onnx.ModelProto
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


@dataclass
class Result:
    name: str
    op: str
    status: str
    detail: str = ""
    seconds: float = 0.0
    frozen: bool = False  # operands after the first turned into initializers
    frozen_all: bool = False  # ... and the first too (the case's output is a constant)


def _all_cases():
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return list(collect_testcases())


def collect(ops: Iterable[str] | None = None, census: Census | None = None) -> list[NodeCase]:
    """The node test cases the compiler should handle (see the module docstring), sorted by
    name; ``ops`` restricts them to cases testing those operators. ``census`` (when given)
    is filled with how all node-test cases split (see :class:`Census`)."""
    supported = supported_ops()
    cases = [c for c in _all_cases() if c.kind == "node" and c.model is not None]
    census = census if census is not None else Census()
    census.total, census.no_generator = len(cases), collections.Counter()
    base_op = {c.name: c.model.graph.node[0].op_type for c in cases
               if len(c.model.graph.node) == 1}
    wanted = set(ops) if ops else None
    out = []
    for c in cases:
        nodes = c.model.graph.node
        graph_ops = sorted({n.op_type for n in nodes})
        if any(n.domain not in ("", "ai.onnx") for n in nodes):
            census.other += 1
            continue
        if not set(graph_ops) <= supported:
            census.no_generator_cases += 1
            census.no_generator.update(set(graph_ops) - supported)
            continue
        if any(not v.type.HasField("tensor_type") or v.type.tensor_type.elem_type
               not in INPUT_TYPES for v in c.model.graph.input):
            census.other += 1
            continue
        (inputs, outputs), = c.data_sets[:1]
        inputs = [_array(a) for a in inputs]
        if not all(isinstance(a, np.ndarray) for a in inputs):
            census.other += 1
            continue
        outputs = [_array(a) for a in outputs]
        op = base_op.get(c.name.split("_expanded")[0], graph_ops[0])
        census.selected += 1
        if wanted is not None and op not in wanted:
            continue
        out.append(NodeCase(c.name, op, graph_ops, c.model, list(inputs), list(outputs)))
    return sorted(out, key=lambda c: c.name)


def _array(value):
    """A TensorProto test value as an ndarray when numpy has its dtype; else unchanged."""
    if isinstance(value, TensorProto):
        try:
            arr = onnx.numpy_helper.to_array(value)
        except Exception:  # noqa: BLE001 - exotic types (float8, int4...): keep the proto
            return value
        return arr if arr.dtype.kind in "biuf" and arr.dtype.name in np.sctypeDict else value
    if isinstance(value, np.generic):  # a numpy scalar: a 0-d tensor
        return np.asarray(value)
    return value


def _opset(model: onnx.ModelProto) -> int:
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
               default=0)


def _wants_constants(e: Exception) -> bool:
    """True for the compile errors freezing operands may cure: a shape that depends on an
    input's value, or an operand code generation reads at compile time (an axis, ``k``,
    Dropout's ratio and training_mode)."""
    from compiler_core.errors import ShapeError

    return isinstance(e, ShapeError) or "must be a constant" in str(e)


def _freeze_operands(model: onnx.ModelProto, inputs: list[np.ndarray], keep: int = 1):
    """Graph inputs after the first ``keep`` (the data operand) -> initializers holding the
    test's values; returns (model, inputs)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep_vi, keep_arr = [], []
    for i, (vi, arr) in enumerate(zip(list(m.graph.input), inputs, strict=False)):
        if i >= keep:
            m.graph.initializer.append(onnx.numpy_helper.from_array(arr, vi.name))
        else:
            keep_vi.append(vi)
            keep_arr.append(arr)
    del m.graph.input[:]
    m.graph.input.extend(keep_vi)
    return m, keep_arr


def compare(got: np.ndarray, want) -> str:
    """'' when ``got`` matches ``want``, else why not."""
    if not isinstance(want, np.ndarray):
        return "the expected output has a dtype numpy cannot hold"
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != expected {list(want.shape)}"
    if got.dtype != want.dtype:
        return f"dtype {got.dtype} != expected {want.dtype}"
    if want.dtype.kind == "f":
        try:
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True)
        except AssertionError as e:
            lines = [ln.strip() for ln in str(e).splitlines() if "Max" in ln]
            return "values differ: " + "; ".join(lines)[:200]
        return ""
    if not np.array_equal(got, want):
        return f"values differ at {int(np.sum(got != want))} of {want.size} elements"
    return ""


def run_case(case: NodeCase, workdir: Path) -> Result:
    """Compile and run one case in this process (see :func:`run_all` for isolation)."""
    from compiler_core.compile import compile_model
    from compiler_core.errors import DnnFusionError, ShapeError, UnsupportedOperatorError
    from compiler_core.runtime import InferenceSession

    t0 = time.perf_counter()
    res = Result(case.name, case.op, "pass")
    model, inputs = case.model, case.inputs
    if not MIN_OPSET <= _opset(model) <= MAX_OPSET:
        target = MAX_OPSET
        try:
            model = onnx.version_converter.convert_version(model, target)
        except Exception as e:  # noqa: BLE001 - the converter raises plain RuntimeErrors
            res.status = "skipped"
            res.detail = f"opset {_opset(model)} -> {target}: {str(e)[-120:]}"
            return res
    out_dir = workdir / case.name
    try:
        # as given; then the operands after the first frozen; then every input frozen (an
        # operator whose output shape is its only input's value: ConstantOfShape, Range)
        tries = [k for k in (len(inputs), 1, 0) if k == len(inputs) or k < len(inputs)]
        for n, keep in enumerate(dict.fromkeys(tries)):
            if n:
                model, inputs = _freeze_operands(model, inputs, keep)
                res.frozen, res.frozen_all = True, keep == 0
            try:
                art = compile_model(model, output_dir=out_dir, options={"validate": False})
                break
            except (ShapeError, UnsupportedOperatorError) as e:
                if keep == 0 or not _wants_constants(e):
                    raise
        with InferenceSession(art, threads=1) as sess:
            names = [i.name for i in sess.get_inputs()]
            feed = dict(zip([v.name for v in model.graph.input], inputs, strict=False))
            got = sess.run(None, {n: feed[n] for n in names})
        for i, (g, w) in enumerate(zip(got, case.outputs, strict=False)):
            why = compare(g, w)
            if why:
                res.status, res.detail = "wrong", f"output {i}: {why}"
                break
        if len(got) != len(case.outputs):
            res.status, res.detail = "wrong", f"{len(got)} outputs, {len(case.outputs)} expected"
    except UnsupportedOperatorError as e:
        res.status, res.detail = "refused", str(e)
    except DnnFusionError as e:
        res.status, res.detail = "error", f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - anything else is a compiler bug
        res.status, res.detail = "crash", f"{type(e).__name__}: {str(e)[:300]}"
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    res.seconds = round(time.perf_counter() - t0, 3)
    return res


# -- isolation: worker subprocesses -----------------------------------------------------------
def _worker(workdir: Path) -> int:
    names = [ln.strip() for ln in sys.stdin if ln.strip()]
    by_name = {c.name: c for c in collect()}
    for name in names:
        case = by_name.get(name)
        if case is None:
            res = Result(name, "?", "crash", "unknown case")
        else:
            res = run_case(case, workdir)
        print(json.dumps(asdict(res)), flush=True)
    return 0


def _run_partition(cases: list[NodeCase], workdir: Path, done: Callable[[Result], None],
                   timeout: float) -> None:
    todo = list(cases)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    while todo:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.node_tests", "--worker", "--workdir", str(workdir)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env, cwd=REPO_ROOT)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("".join(c.name + "\n" for c in todo))
        proc.stdin.close()
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream=proc.stdout, q=lines):
            for line in stream:
                q.put(line)
            q.put(None)

        threading.Thread(target=pump, daemon=True).start()
        # The first case also waits for the worker to generate the test cases.
        limit = timeout + 120.0
        while todo:
            try:
                line = lines.get(timeout=limit)
            except queue.Empty:
                line, why = None, f"no result within {limit:g} s (killed)"
                proc.kill()
            else:
                why = "worker process died (signal or exit code {})"
            limit = timeout
            if line is None:
                proc.wait()
                done(Result(todo[0].name, todo[0].op, "crash", why.format(proc.returncode)))
                todo.pop(0)
                break
            res = Result(**json.loads(line))
            if todo and res.name == todo[0].name:
                todo.pop(0)
            done(res)
        with contextlib.suppress(Exception):
            proc.kill()
            proc.wait()


def run_all(cases: list[NodeCase], *, jobs: int = 2, timeout: float = CASE_TIMEOUT_S,
            progress: Callable[[Result], None] | None = None) -> list[Result]:
    """Run ``cases`` in ``jobs`` worker subprocesses; returns one result per case, in order."""
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def done(res: Result) -> None:
        with lock:
            results[res.name] = res
            if progress is not None:
                progress(res)

    with tempfile.TemporaryDirectory(prefix="dnnfusion-node-") as tmp:
        parts = [cases[i::jobs] for i in range(max(1, jobs))]
        threads = [threading.Thread(target=_run_partition, args=(p, Path(tmp), done, timeout))
                   for p in parts if p]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return [results.get(c.name) or Result(c.name, c.op, "crash", "no result") for c in cases]


# -- report -----------------------------------------------------------------------------------
def summarize(results: list[Result]) -> dict[str, collections.Counter]:
    per_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in results:
        per_op[r.op][r.status] += 1
    return dict(sorted(per_op.items()))


def markdown(results: list[Result], seconds: float, jobs: int,
             census: Census | None = None) -> str:
    per_op = summarize(results)
    total = collections.Counter(r.status for r in results)
    rate = 100.0 * total["pass"] / max(1, len(results))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "# ONNX backend node tests through dnnfusion",
        "",
        f"Generated by `python -m bench.node_tests` on {now}; onnx {onnx.__version__}; "
        f"{len(results)} cases (only supported operators, float32/int64/int32/int8/uint8/bool "
        "inputs) "
        f"in {seconds:.0f} s with {jobs} workers; load average {load}.",
        "",
        "Statuses: **pass**; **refused** = UnsupportedOperatorError at compile time (a "
        "documented limitation); **wrong** = ran with a wrong result; **error** = another "
        "compile-time error; **crash** = unexpected exception or dead process; **skipped** = "
        "the case's opset cannot be converted to 21. Cases generated at opset > 21 are "
        "converted with onnx.version_converter, as are those below opset 9; operands after the "
        "first are frozen into initializers when the model needs them for static shapes "
        "(see bench/node_tests.py).",
        "",
        "| total | " + " | ".join(STATUSES) + " |",
        "|---|" + "---|" * len(STATUSES),
        f"| {len(results)} | " + " | ".join(str(total[s]) for s in STATUSES) + " |",
        "",
        f"**{total['pass']} of {len(results)} selected cases pass ({rate:.1f}%)**; every "
        "refusal states its reason in the table of cases that did not pass.",
        "",
    ]
    if census is not None:
        missing = ", ".join(f"{op} {n}" for op, n in sorted(
            census.no_generator.items(), key=lambda kv: (-kv[1], kv[0])))
        lines += [
            f"Not selected: **{census.no_generator_cases} of all {census.total} ONNX node-test "
            f"cases** hold an operator without a code generator (no registry row with an "
            f"emitter or anchor); {census.other} more have input dtypes outside "
            "float32/int64/int32/int8/uint8/bool (or a non-default domain). Operators missing, "
            f"with the cases that hold them: {missing}.",
            "",
        ]
    lines += [
        "## Per operator",
        "",
        "| operator | cases | " + " | ".join(STATUSES) + " |",
        "|---|---|" + "---|" * len(STATUSES),
    ]
    for op, c in per_op.items():
        lines.append(f"| {op} | {sum(c.values())} | "
                     + " | ".join(str(c[s]) if c[s] else "" for s in STATUSES) + " |")
    others = [r for r in results if r.status != "pass"]
    if others:
        lines += ["", "## Cases that did not pass", "", "| case | status | detail |",
                  "|---|---|---|"]
        for r in sorted(others, key=lambda r: (r.status, r.name)):
            detail = r.detail.replace("|", "\\|").replace("\n", " ")[:220]
            lines.append(f"| {r.name} | {r.status} | {detail} |")
    frozen = sorted(r.name for r in results if r.frozen and not r.frozen_all)
    if frozen:
        lines += ["", f"Operands frozen as initializers in {len(frozen)} cases: "
                  + ", ".join(frozen) + "."]
    frozen = sorted(r.name for r in results if r.frozen_all)
    if frozen:
        lines += ["", f"Every input frozen (the output's shape is an input's value, so import "
                  f"folds the model to a constant) in {len(frozen)} cases: "
                  + ", ".join(frozen) + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.node_tests", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--ops", nargs="*", help="only cases testing these operators")
    ap.add_argument("--out", default=str(RESULTS), help="markdown file to write")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker(Path(args.workdir))
    t0 = time.perf_counter()
    census = Census()
    cases = collect(args.ops, census)
    print(f"{len(cases)} node test cases with supported operators", file=sys.stderr)
    n = [0]

    def progress(r: Result) -> None:
        n[0] += 1
        if r.status != "pass":
            print(f"[{n[0]}/{len(cases)}] {r.status:8s} {r.name}: {r.detail[:150]}",
                  file=sys.stderr, flush=True)

    results = run_all(cases, jobs=args.jobs, progress=progress)
    seconds = time.perf_counter() - t0
    width = max((len(op) for op in summarize(results)), default=8)
    print(f"{'operator':<{width}}  cases  " + "  ".join(f"{s:>7}" for s in STATUSES))
    for op, c in summarize(results).items():
        print(f"{op:<{width}}  {sum(c.values()):5d}  " + "  ".join(f"{c[s]:7d}"
                                                                    for s in STATUSES))
    total = collections.Counter(r.status for r in results)
    print(f"{'TOTAL':<{width}}  {len(results):5d}  " + "  ".join(f"{total[s]:7d}"
                                                                 for s in STATUSES))
    print(f"not selected: {census.no_generator_cases} of {census.total} node-test cases hold an "
          f"operator without a code generator; {census.other} for input dtypes or domain")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(markdown(results, seconds, args.jobs, census if not args.ops else None))
    tmp.replace(out)
    print(f"wrote {out} ({seconds:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

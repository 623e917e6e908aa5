"""Integer code never traps (issue #8): Div/Mod by zero and MIN / -1 are errors reported through
the entry point (ModelRuntimeError naming block and operator), overflow wraps, float -> int
casts are defined; float kernels make no checks. Checked kernels inside OpenMP loops (row
loops, GEMM epilogues in a parallel region, a reduction's simd prologue) merge their flags."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from onnx import TensorProto

from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Assign, Expr, For, If, Omp, Raw, Region
from compiler_core.codegen.checks import add_reductions, merge_flag
from compiler_core.codegen.generate import generate
from compiler_core.compile import compile_model
from compiler_core.errors import ModelRuntimeError
from compiler_core.runtime import InferenceSession
from compiler_core.target.abi import DIV_BY_ZERO, DIV_OVERFLOW, MOD_BY_ZERO
from compiler_core.target.targets import TARGETS
from tests.compiler_core.codegen.util import F32, const, model, node, plan, vi, weight
from tests.helpers.ort import run_ort

I32, I64, U8, I8 = TensorProto.INT32, TensorProto.INT64, TensorProto.UINT8, TensorProto.INT8
INT32_MIN, INT64_MIN = -(2**31), -(2**63)


def div_model():
    """The finding: Div(amin, Sub(b, two)) with int32 amin = -2**31 (b = 1: MIN / -1,
    b = 2: division by zero)."""
    nodes = [node("Sub", ["b", "two"], ["d"]), node("Div", ["amin", "d"], ["y"])]
    inits = [const("amin", np.int32(INT32_MIN)), const("two", np.int32(2))]
    return model(nodes, [vi("b", [4], I32)], [vi("y", [4], I32)], inits)


def _compile(proto, path, target="host"):
    return compile_model(plan(proto), target=target, output_dir=path)


def _source(art) -> str:
    return (art / "model.c").read_text()


@pytest.fixture(scope="module")
def div_art(tmp_path_factory):
    return _compile(div_model(), tmp_path_factory.mktemp("div") / "art")


def _b(*values):
    return {"b": np.array(values, dtype=np.int32)}


def test_division_matches_onnxruntime_on_valid_inputs(div_art):
    sess = InferenceSession(div_art)
    feeds = _b(3, 4, 5, -7)
    np.testing.assert_array_equal(sess.run(None, feeds)[0], run_ort(div_model(), feeds)["y"])


@pytest.mark.parametrize(
    ("b", "check", "text"),
    [
        ((3, 2, 4, 5), DIV_BY_ZERO, "the compiled model divided by zero in block 0 (Div)"),
        ((1, 3, 4, 5), DIV_OVERFLOW, "the compiled model overflowed an integer division (the "
                                     "type's minimum divided by -1) in block 0 (Div)"),
    ],
    ids=["zero", "min_by_minus_one"],
)
def test_division_errors_are_reported_not_trapped(div_art, b, check, text):
    sess = InferenceSession(div_art)
    with pytest.raises(ModelRuntimeError) as info:
        sess.run(None, _b(*b))
    assert str(info.value) == text
    assert (info.value.block, info.value.code) == (0, check.code)
    with pytest.raises(ModelRuntimeError):  # the profiled entry point reports it too
        sess.run_profiled(None, _b(*b))
    # the session stays usable
    np.testing.assert_array_equal(sess.run(None, _b(3, 3, 3, 3))[0], np.full(4, INT32_MIN))


def test_int64_division_in_a_parallel_loop(tmp_path):
    """65536 elements: an OpenMP row loop whose reduction merges the threads' flags."""
    shape = [64, 1024]
    nodes = [node("Div", ["x", "d"], ["q"]), node("Add", ["q", "one"], ["y"])]
    proto = model(nodes, [vi("x", shape, I64), vi("d", shape, I64)], [vi("y", shape, I64)],
                  [const("one", np.int64(1))])
    art = _compile(proto, tmp_path / "art")
    assert "#pragma omp parallel for schedule(static) reduction(|:dnf_err)" in _source(art)
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**62), 2**62, shape, dtype=np.int64)
    d = rng.integers(1, 1000, shape, dtype=np.int64) * rng.choice([-1, 1], shape)
    sess = InferenceSession(art, threads=2)
    feeds = {"x": x, "d": d}
    np.testing.assert_array_equal(sess.run(None, feeds)[0], run_ort(proto, feeds)["y"])
    x2, d2 = x.copy(), d.copy()
    x2[63, 1000], d2[63, 1000] = INT64_MIN, -1  # in the second thread's rows
    with pytest.raises(ModelRuntimeError, match=r"overflowed .* in block 0 \(Div\)"):
        sess.run(None, {"x": x2, "d": d2})
    d2[1, 2] = 0  # both errors: division by zero (the lower code) is the one reported
    with pytest.raises(ModelRuntimeError, match=r"divided by zero in block 0 \(Div\)"):
        sess.run(None, {"x": x2, "d": d2})


def test_mod_both_modes_and_errors(tmp_path):
    shape = [6, 50]
    nodes = [node("Mod", ["x", "d"], ["y0"], fmod=0), node("Mod", ["x", "d"], ["y1"], fmod=1)]
    proto = model(nodes, [vi("x", shape, I32), vi("d", shape, I32)],
                  [vi("y0", shape, I32), vi("y1", shape, I32)])
    art = _compile(proto, tmp_path / "art")
    rng = np.random.default_rng(1)
    x = rng.integers(-1000, 1000, shape, dtype=np.int32)
    d = (rng.integers(1, 30, shape) * rng.choice([-1, 1], shape)).astype(np.int32)
    sess = InferenceSession(art)
    want = run_ort(proto, {"x": x, "d": d})
    got = sess.run(None, {"x": x, "d": d})
    np.testing.assert_array_equal(got[0], want["y0"])
    np.testing.assert_array_equal(got[1], want["y1"])
    # MIN % -1 is 0 in both modes (x86 idiv would trap on it)
    x[0, 0], d[0, 0] = INT32_MIN, -1
    got = sess.run(None, {"x": x, "d": d})
    assert got[0][0, 0] == 0 and got[1][0, 0] == 0
    d[5, 49] = 0
    with pytest.raises(ModelRuntimeError) as info:
        sess.run(None, {"x": x, "d": d})
    assert str(info.value) == "the compiled model divided by zero in block 0 (Mod)"
    assert info.value.code == MOD_BY_ZERO.code


def test_overflow_wraps_and_float_to_int_casts_are_defined(tmp_path):
    """As ONNX Runtime computes on x86-64: two's complement wrap-around, and NaN or
    out-of-range floats cast to the type's minimum (int8/uint8 through int32)."""
    n = 8
    nodes = [
        node("Add", ["a", "b"], ["add"]), node("Sub", ["a", "b"], ["sub"]),
        node("Mul", ["a", "b"], ["mul"]), node("Neg", ["a"], ["neg"]),
        node("Abs", ["a"], ["abs"]), node("Mul", ["a64", "a64"], ["mul64"]),
        node("Cast", ["f"], ["c32"], to=I32), node("Cast", ["f"], ["c64"], to=I64),
        node("Cast", ["f"], ["cu8"], to=U8), node("Cast", ["f"], ["ci8"], to=I8),
    ]
    m = 11
    proto = model(
        nodes,
        [vi("a", [n], I32), vi("b", [n], I32), vi("a64", [n], I64), vi("f", [m])],
        [vi("add", [n], I32), vi("sub", [n], I32), vi("mul", [n], I32), vi("neg", [n], I32),
         vi("abs", [n], I32), vi("mul64", [n], I64), vi("c32", [m], I32), vi("c64", [m], I64),
         vi("cu8", [m], U8), vi("ci8", [m], I8)],
    )
    art = _compile(proto, tmp_path / "art")
    a = np.array([2**31 - 1, INT32_MIN, INT32_MIN, 5, -7, 65536, 2**30, 0], np.int32)
    b = np.array([1, -1, INT32_MIN, 9, 3, 65536, 4, INT32_MIN], np.int32)
    a64 = np.array([2**62, INT64_MIN, 3, -(2**40), 7, 2**32 + 1, -1, 0], np.int64)
    f = np.array([np.nan, np.inf, -np.inf, 1e20, -1e20, 300.5, -1.5, 2.5e9, -2.5e9, 127.9,
                  -129.7], np.float32)
    feeds = {"a": a, "b": b, "a64": a64, "f": f}
    names = [o.name for o in InferenceSession(art).get_outputs()]
    got = dict(zip(names, InferenceSession(art).run(None, feeds), strict=True))
    want = run_ort(proto, feeds)
    for name in names:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    with np.errstate(over="ignore"):  # numpy wraps too: an independent reference
        np.testing.assert_array_equal(got["add"], a + b)
        np.testing.assert_array_equal(got["mul"], a * b)
        np.testing.assert_array_equal(got["mul64"], a64 * a64)
    assert got["neg"][1] == INT32_MIN and got["abs"][1] == INT32_MIN
    assert got["c32"][0] == INT32_MIN and got["c64"][1] == INT64_MIN and got["cu8"][5] == 44


@pytest.mark.parametrize("case", ["gemm_region", "reduce_simd"])
def test_checks_inside_anchor_loops(case, tmp_path):
    """A checked Div fused after a GEMM (epilogue inside a '#pragma omp parallel' region) or
    before a reduction (inside '#pragma omp simd reduction'): results and errors hold."""
    rng = np.random.default_rng(2)
    if case == "gemm_region":
        m, k, n = 32, 256, 2048  # weights bigger than activations: column split, a region
        nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Cast", ["mm"], ["mi"], to=I32),
                 node("Div", ["mi", "d"], ["q"]), node("Cast", ["q"], ["y"], to=F32)]
        proto = model(nodes, [vi("x", [m, k]), vi("d", [m, n], I32)], [vi("y", [m, n])],
                      [weight("w", [k, n], scale=10)])
        feeds = {"x": rng.standard_normal((m, k)).astype(np.float32),
                 "d": rng.integers(1, 7, (m, n)).astype(np.int32)}
        pragma = "#pragma omp parallel reduction(|:dnf_err)"
        atol = 1  # float sums in another order may truncate to the neighbouring integer
    else:
        nodes = [node("Div", ["a", "d"], ["q"]), node("ReduceMax", ["q", "ax"], ["y"],
                                                      keepdims=0)]
        proto = model(nodes, [vi("a", [64, 1024], I32), vi("d", [64, 1024], I32)],
                      [vi("y", [64], I32)], [const("ax", np.array([1], np.int64))])
        feeds = {"a": rng.integers(-1000, 1000, (64, 1024)).astype(np.int32),
                 "d": rng.integers(1, 7, (64, 1024)).astype(np.int32)}
        pragma = "#pragma omp simd reduction(max:a0) reduction(|:dnf_err)"
        atol = 0
    planned = plan(proto)
    assert len(planned.plan.blocks) == 1, [b.ops for b in planned.plan.blocks]
    art = compile_model(planned, output_dir=tmp_path / "art")
    assert pragma in _source(art)
    sess = InferenceSession(art, threads=2)
    (got,) = sess.run(None, feeds)
    np.testing.assert_allclose(got, run_ort(proto, feeds)["y"], atol=atol, rtol=0)
    feeds["d"][-1, -3] = 0
    with pytest.raises(ModelRuntimeError, match=r"divided by zero in block 0 \(Div\)"):
        sess.run(None, feeds)


def test_float_kernels_make_no_checks():
    """Float code is unchanged by the checks: void kernels, no flag, no extra clauses."""
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Div", ["m", "s"], ["q"]),
             node("Relu", ["q"], ["r"]), node("ReduceSum", ["r", "ax"], ["y"])]
    proto = model(nodes, [vi("x", [64, 512]), vi("s", [64, 256])], [vi("y", [64, 1])],
                  [weight("w", [512, 256]), const("ax", np.array([1], np.int64))])
    planned = plan(proto)
    gen = generate(planned.ecg, planned.planner.blocks)
    assert gen.kernels and not any(k.checked for k in gen.kernels)
    kernels = gen.source[gen.source.index("/* block 0"):gen.source.index("int dnf_abi_version")]
    assert "dnf_err" not in kernels and "static int k" not in kernels
    assert len(re.findall(r"DNF_KERNEL static void k\d+\(", kernels)) == len(gen.kernels)


def test_add_reductions_only_on_regions_and_simd_loops():
    lines = ["    #pragma omp parallel num_threads(nt0)", "    #pragma omp for schedule(static)",
             "#pragma omp parallel for schedule(static)", "  #pragma omp simd reduction(+:a1)",
             "    x = 1; /* #pragma omp parallel */"]
    assert add_reductions(lines) == [
        "    #pragma omp parallel num_threads(nt0) reduction(|:dnf_err)",
        "    #pragma omp for schedule(static)",
        "#pragma omp parallel for schedule(static) reduction(|:dnf_err)",
        "  #pragma omp simd reduction(+:a1) reduction(|:dnf_err)",
        "    x = 1; /* #pragma omp parallel */",
    ]



def test_merge_flag_is_a_property_of_the_tree():
    """The clause comes from the parallel and simd statements (``flag``), printed by the
    printer; a Raw block's printed pragmas get it by text; the same lines either way."""
    simd = For("k", 0, 8, [Assign("s", "x[k]", "+=")], omp=Omp.SIMD, clause="reduction(+:s)")
    tree = [
        Region([For("i", 0, 64, [Expr("f(i)")], omp=Omp.FOR)], num_threads="nt0"),
        For("r", 0, 9, [If("r > 0", [simd])], omp=Omp.PARALLEL_FOR),
        For("j", 0, 4, [Raw(["#pragma omp simd", "for (;;) g();"])]),
    ]
    merged = merge_flag(tree)
    assert merged[0].flag == "dnf_err" and merged[0].body[0].flag is None  # omp for: none
    assert tree[1].flag is None  # the input tree is left as it was
    lines = render(merged)
    assert lines == add_reductions(render(tree))
    assert [ln for ln in lines if "#pragma" in ln] == [
        "#pragma omp parallel num_threads(nt0) reduction(|:dnf_err)",
        "    #pragma omp for schedule(static)",
        "#pragma omp parallel for schedule(static) reduction(|:dnf_err)",
        "        #pragma omp simd reduction(+:s) reduction(|:dnf_err)",
        "    #pragma omp simd reduction(|:dnf_err)",
    ]


ARM = TARGETS["linux-arm64"]


@pytest.mark.slow
def test_arm64_runner_reports_the_same_error(tmp_path):
    """The static runner prints the error in one line and exits with its own code; the
    runner backend raises the same ModelRuntimeError as the in-process library."""
    assert shutil.which(ARM.compiler()[0]), "no aarch64 cross compiler: run scripts/setup-apt.sh"
    assert ARM.launcher() is not None, "no qemu-aarch64: run scripts/setup-apt.sh"
    art = _compile(div_model(), tmp_path / "arm", target="linux-arm64")
    sess = InferenceSession(art)
    assert sess.target == "linux-arm64"
    feeds = _b(3, 4, 5, -7)
    np.testing.assert_array_equal(sess.run(None, feeds)[0], run_ort(div_model(), feeds)["y"])
    for b, check in (((3, 2, 4, 5), DIV_BY_ZERO), ((1, 3, 4, 5), DIV_OVERFLOW)):
        with pytest.raises(ModelRuntimeError) as info:
            sess.run(None, _b(*b))
        assert (info.value.block, info.value.code) == (0, check.code)
        assert str(info.value) == f"the compiled model {check.what} in block 0 (Div)"


def test_integer_max_min_reductions_start_from_the_type_limits(tmp_path):
    """ReduceMax/Min of int32 and int8 started from (T)INT64_MIN / (T)INT64_MAX, i.e. 0 / -1:
    all-negative maxima came out 0 and all-positive minima -1."""
    ax = const("ax", np.array([1], np.int64))
    nodes = [node("ReduceMax", ["a", "ax"], ["amax"], keepdims=0),
             node("ReduceMin", ["a", "ax"], ["amin"], keepdims=0),
             node("ReduceMax", ["b", "ax"], ["bmax"], keepdims=0),
             node("ReduceMin", ["b", "ax"], ["bmin"], keepdims=0)]
    proto = model(nodes, [vi("a", [2, 5], I32), vi("b", [2, 5], I8)],
                  [vi("amax", [2], I32), vi("amin", [2], I32), vi("bmax", [2], I8),
                   vi("bmin", [2], I8)], [ax])
    art = _compile(proto, tmp_path / "art")
    feeds = {"a": np.array([[-9, -3, -7, -2**31, -5], [4, 9, 2**31 - 1, 3, 8]], np.int32),
             "b": np.array([[-9, -3, -7, -128, -5], [4, 9, 127, 3, 8]], np.int8)}
    sess = InferenceSession(art)
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, feeds), strict=True))
    want = run_ort(proto, feeds)
    for name in names:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    np.testing.assert_array_equal(got["amax"], [-3, 2**31 - 1])  # numpy's answer, by hand
    np.testing.assert_array_equal(got["bmin"], [-128, 3])

"""The vectorizable float math helpers (``compiler_core/codegen/c/dnf_*f.c``) against numpy in
float64: every helper within the max error :mod:`compiler_core.codegen.c.accuracy` states, on a
dense grid, random bit patterns and the special values (exact expected results written out);
the loops calling them vectorize with the kernels' flags; the x86-64 ISA levels and arm64
(under qemu) give the same bits."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from compiler_core.codegen.build import compiler
from compiler_core.codegen.c import source
from compiler_core.codegen.c.accuracy import MAX_ULP, MISH_TAIL_ABS, MISH_TAIL_X
from compiler_core.target.targets import TARGETS

NAMES = list(MAX_ULP)
HOST_FLAGS = [*TARGETS["host"].cflags]
ARM = TARGETS["linux-arm64"]
INF, NAN = np.inf, np.nan


def _program(main: bool) -> str:
    """The helpers (as the generator emits them: helpers_for, dependencies first) and one
    ``apply_<name>(x, y, n)`` loop each; with ``main``, a program that reads n floats from
    argv[1], writes every helper's results to argv[2] (NAMES order)."""
    text = "#include <math.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
    text += source.helpers_for(" ".join(f"{n}(x);" for n in NAMES))
    for n in NAMES:
        text += (f"void apply_{n}(const float* restrict x, float* restrict y, long k) "
                 f"{{ for (long i = 0; i < k; i++) y[i] = {n}(x[i]); }}\n")
    if main:
        calls = "".join(f"    apply_{n}(x, y, k); fwrite(y, 4, k, g);\n" for n in NAMES)
        text += ("int main(int argc, char** argv) {\n"
                 "    FILE* f = fopen(argv[1], \"rb\"); fseek(f, 0, SEEK_END);\n"
                 "    long k = ftell(f) / 4; rewind(f);\n"
                 "    float* x = malloc(k * 4); float* y = malloc(k * 4);\n"
                 "    if (fread(x, 4, k, f) != (size_t)k) return 1;\n"
                 "    FILE* g = fopen(argv[2], \"wb\");\n" + calls
                 + "    fclose(g); return 0;\n}\n")
    return text


def _build_lib(d: Path, extra: list[str]) -> tuple[ctypes.CDLL, str]:
    (d / "h.c").write_text(_program(main=False))
    out = subprocess.run([*compiler(), *HOST_FLAGS, *extra, "h.c", "-o", "h.so"], cwd=d,
                         capture_output=True, text=True, check=True)
    return ctypes.CDLL(str(d / "h.so")), out.stderr


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    return _build_lib(tmp_path_factory.mktemp("transc"), ["-fopt-info-vec-optimized"])


def _run(lib: ctypes.CDLL, name: str, x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, np.float32)
    y = np.empty_like(x)
    getattr(lib, f"apply_{name}")(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data),
                                  ctypes.c_long(x.size))
    return y


def _logistic(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


REFERENCE = {  # float64 numpy, not our code
    "dnf_expf": np.exp,
    "dnf_expm1f": np.expm1,
    "dnf_logf": np.log,
    "dnf_tanhf": np.tanh,
    "dnf_sigmoidf": _logistic,
    "dnf_softplusf": lambda x: np.logaddexp(0.0, x),
    "dnf_mishf": lambda x: x * np.tanh(np.logaddexp(0.0, x)),
}
DOMAIN = {"dnf_logf": (0.0, 100.0), "dnf_expm1f": (-30.0, 89.0)}


def _inputs(name: str) -> np.ndarray:
    """1e6 evenly spaced points over the interesting range, 1e6 random finite bit patterns,
    all subnormal powers of two and every float in [1 - 2^-10, 1 + 2^-10]."""
    lo, hi = DOMAIN.get(name, (-105.0, 105.0))
    rng = np.random.default_rng(len(name))
    bits = rng.integers(0, 2**32, 10**6, dtype=np.uint64).astype(np.uint32).view(np.float32)
    sub = np.ldexp(np.float32(1), np.arange(-149, -125)).astype(np.float32)
    one = np.arange(np.float32(1 - 2**-10).view(np.uint32), np.float32(1 + 2**-10).view(np.uint32),
                    dtype=np.uint32).view(np.float32)
    x = np.concatenate([np.linspace(lo, hi, 10**6, dtype=np.float32), bits[np.isfinite(bits)],
                        sub, -sub, one, -one])
    return np.abs(x) if name == "dnf_logf" else x


def _ulp_error(got: np.ndarray, exact: np.ndarray) -> np.ndarray:
    _, e = np.frexp(np.abs(exact))
    return np.abs(got.astype(np.float64) - exact) / np.maximum(np.ldexp(1.0, e - 24), 2.0**-149)


def test_helpers_come_with_their_dependencies():
    text = source.helpers_for("y = dnf_tanhf(x);")
    assert text.index("float dnf_expf(float a)") < text.index("float dnf_tanhf(float a)")
    assert "dnf_logf(float" not in text
    soft = source.helpers_for("y = dnf_softplusf(x);")
    assert soft.count("static inline float") == 3  # softplus, expf, logf: each once
    assert source.helpers_for("y = dnf_expf(x) + dnf_sigmoidf(x);").count("dnf_expf(float a)") == 1


def test_every_helper_loop_vectorizes(host):
    _, report = host
    lines = _program(main=False).splitlines()
    for n in NAMES:
        line = next(i + 1 for i, t in enumerate(lines) if t.startswith(f"void apply_{n}("))
        assert re.search(rf"h\.c:{line}:\d+: optimized: loop vectorized", report), n


@pytest.mark.parametrize("name", NAMES)
def test_max_error_against_numpy_float64(host, name):
    lib, _ = host
    x = _inputs(name)
    got = _run(lib, name, x)
    with np.errstate(all="ignore"):
        exact = REFERENCE[name](x.astype(np.float64))
        rounded = exact.astype(np.float32)  # inf where float32 overflows
    finite = np.isfinite(rounded)
    # results beyond float32: exactly what float32 rounding gives (inf, NaN)
    assert np.array_equal(got[~finite], rounded[~finite], equal_nan=True), name
    err = _ulp_error(got[finite], exact[finite])
    if name == "dnf_mishf":
        tail = x[finite] < MISH_TAIL_X
        abs_err = np.abs(got[finite][tail].astype(np.float64) - exact[finite][tail])
        assert tail.sum() > 1000 and abs_err.max() <= MISH_TAIL_ABS
        err = err[~tail]
    worst = int(np.argmax(err))
    assert err[worst] <= MAX_ULP[name], (name, x[finite][worst], err[worst])
    assert err.max() > 0.4  # the comparison sees rounding at all (not a vacuous check)


TINY = np.float32(2**-149)
SPECIAL = {  # (input, exact expected float32), written out
    "dnf_expf": [(0.0, 1.0), (-0.0, 1.0), (INF, INF), (-INF, 0.0), (NAN, NAN), (89.0, INF),
                 (-104.0, 0.0), (1.0, np.float32(2.7182817)), (TINY, 1.0)],
    "dnf_expm1f": [(0.0, 0.0), (INF, INF), (-INF, -1.0), (NAN, NAN), (-20.0, -1.0),
                   (TINY, TINY), (1e-10, np.float32(1e-10)), (89.0, INF)],
    "dnf_logf": [(0.0, -INF), (-0.0, -INF), (-1.0, NAN), (-TINY, NAN), (INF, INF), (-INF, NAN),
                 (NAN, NAN), (1.0, 0.0), (TINY, np.float32(-103.27893)),
                 (np.float32(3.4028235e38), np.float32(88.72284))],
    "dnf_tanhf": [(0.0, 0.0), (INF, 1.0), (-INF, -1.0), (NAN, NAN), (20.0, 1.0), (-20.0, -1.0),
                  (TINY, TINY), (-TINY, -TINY)],
    "dnf_sigmoidf": [(0.0, 0.5), (INF, 1.0), (-INF, 0.0), (NAN, NAN), (20.0, 1.0),
                     (-100.0, np.float32(3.720076e-44))],
    "dnf_softplusf": [(0.0, np.float32(0.6931472)), (INF, INF), (-INF, 0.0), (NAN, NAN),
                      (100.0, 100.0), (-100.0, np.float32(3.720076e-44))],
    "dnf_mishf": [(0.0, 0.0), (INF, INF), (-INF, NAN), (NAN, NAN), (30.0, 30.0),
                  (1e30, 1e30)],
}


@pytest.mark.parametrize("name", NAMES)
def test_special_values(host, name):
    lib, _ = host
    x = np.array([a for a, _ in SPECIAL[name]], np.float32)
    want = np.array([b for _, b in SPECIAL[name]], np.float32)
    got = _run(lib, name, x)
    np.testing.assert_array_equal(got, want, err_msg=name)
    if name == "dnf_tanhf":  # tanh keeps the sign of zero
        assert np.signbit(_run(lib, name, np.array([-0.0], np.float32))[0])


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    return set(re.findall(r"^flags\s*:(.*)$", text, re.M)[0].split()) if "flags" in text else set()


@pytest.mark.parametrize(("march", "needs"), [("x86-64-v3", {"avx2", "fma"}),
                                             ("x86-64-v4", {"avx512f", "avx512bw"})])
def test_x86_isa_levels_give_the_same_bits(host, march, needs, tmp_path):
    """The kernels are cloned for x86-64-v3/v4 (target_clones): 8/16-lane vectors, FMA
    available but not contracted (-ffp-contract=off), so the bits are the baseline's."""
    if not needs <= _cpu_flags():
        pytest.skip(f"this CPU cannot run {march} code")
    lib, report = _build_lib(tmp_path, [f"-march={march}", "-fopt-info-vec-optimized"])
    assert "using 32 byte vectors" in report or "using 64 byte vectors" in report
    base, _ = host
    x = np.concatenate([_inputs(n)[::7] for n in ("dnf_expf", "dnf_logf")])
    for n in NAMES:
        np.testing.assert_array_equal(_run(lib, n, x), _run(base, n, x), err_msg=n)


@pytest.mark.slow
def test_arm64_gives_the_host_bits_under_qemu(host, tmp_path):
    """Cross-compiled with the linux-arm64 target's flags (NEON vectors), run under qemu:
    the same bits as the host for every helper (IEEE operations only, no FMA, no libm)."""
    assert shutil.which(ARM.compiler()[0]), "no aarch64 cross compiler: run scripts/setup-apt.sh"
    launcher = ARM.launcher()
    assert launcher is not None, "no qemu-aarch64: run scripts/setup-apt.sh"
    (tmp_path / "m.c").write_text(_program(main=True))
    subprocess.run([*ARM.compiler(), *ARM.cflags, "m.c", "-o", "m.run"], cwd=tmp_path,
                   check=True, capture_output=True)
    x = np.concatenate([_inputs(n)[::4] for n in ("dnf_expf", "dnf_logf")])
    x.tofile(tmp_path / "x.bin")
    subprocess.run([*launcher, str(tmp_path / "m.run"), "x.bin", "y.bin"], cwd=tmp_path,
                   check=True, timeout=600)
    got = np.fromfile(tmp_path / "y.bin", np.float32).reshape(len(NAMES), x.size)
    base, _ = host
    for i, n in enumerate(NAMES):
        np.testing.assert_array_equal(got[i], _run(base, n, x), err_msg=n)


LIBM_CALL = re.compile(r"(?<![\w.])(expf|expm1f|logf|log1pf|tanhf)\(")


def test_emitters_call_the_helpers_and_match_onnx_runtime(tmp_path):
    """Every element-wise emitter built on exp/log/tanh, and Softmax, calls the dnf_*f helpers
    (no libm transcendental left in model.c); results match ONNX Runtime on 3 random inputs,
    scaled to reach the saturating ranges."""
    from tests.compiler_core.codegen.util import compile_and_check, model, node, vi

    ops = [("Exp", {}), ("Log", {}), ("Tanh", {}), ("Sigmoid", {}), ("Softplus", {}),
           ("Mish", {}), ("Elu", {"alpha": 0.7}), ("Selu", {}), ("Celu", {"alpha": 1.5}),
           ("Gelu", {"approximate": "tanh"}), ("Softmax", {"axis": -1})]
    nodes = [node("Mul", ["x", "x"], ["sq"])]  # Log reads x*x (positive)
    for i, (op, attrs) in enumerate(ops):
        nodes.append(node(op, ["sq" if op == "Log" else "x"], [f"y{i}"], **attrs))
    shape = [4, 37, 64]
    proto = model(nodes, [vi("x", shape)], [vi(f"y{i}", shape) for i in range(len(ops))])

    def feeds(seed):
        rng = np.random.default_rng(seed)
        return {"x": (rng.standard_normal(shape) * 6).astype(np.float32)}

    # one block an operator (nothing links them), Log with the Mul it reads
    blocks = [["Mul", "Log"], *([op] for op, _ in ops if op != "Log")]
    _, out = compile_and_check(proto, tmp_path, feeds=feeds, rtol=1e-4, atol=1e-6,
                               blocks=blocks)
    src = (out / "model.c").read_text()
    assert not LIBM_CALL.findall(src)
    for helper in ("dnf_expf", "dnf_logf", "dnf_tanhf", "dnf_sigmoidf", "dnf_softplusf",
                   "dnf_mishf", "dnf_expm1f"):
        assert f"{helper}(" in src, helper

"""The structured C builder: affine indices, the statement printer, the parallel policy and
the resource files (compiler_core/codegen/c)."""

from __future__ import annotations

from compiler_core.codegen.c import source
from compiler_core.codegen.c.affine import Affine, atom
from compiler_core.codegen.c.policy import ELEMENT, GEMM_MAC, parallel_policy
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import (
    Assign,
    Block,
    Comment,
    Decl,
    Expr,
    For,
    If,
    Omp,
    Raw,
    Region,
    While,
    tile_for,
)


def test_affine_arithmetic_and_printing():
    i0, i1 = Affine.of("i0"), Affine.of("i1")
    x = i0 * 768 + i1
    assert x.c() == "i0*768 + i1"
    assert x.terms == {"i0": 768, "i1": 1} and x.const == 0
    y = (i1 * 2 + 1) * 768  # a slice's start + step*i, scaled by a stride
    assert y == Affine({"i1": 1536}, 768)
    assert y.c() == "i1*1536 + 768"
    assert (i0 - 4).c() == "i0 - 4" and str(i0 - 4) == "(i0 - 4)"
    assert (i0 - i0).is_const and str(i0 - i0) == "0"
    assert str(Affine.of(-3)) == "(-3)" and str(i0) == "i0"
    assert (Affine.of(5) - i1).c() == "-i1 + 5"
    assert x.substitute({"i0": Affine.of("r") + 2}).c() == "r*768 + i1 + 1536"
    assert x.var is None and i0.var == "i0"
    assert Affine.of(atom("r0 / 12")) * 64 == Affine({"(r0 / 12)": 64})
    assert hash(i0 + i1) == hash(i1 + i0) and i0 + i1 == i1 + i0


def test_printer_owns_indentation_and_pragmas():
    body = [
        Comment("block 0: Relu"),
        Decl("int64_t", "t", "dnf_row_tile(100)"),
        tile_for("r0", "h0", 100, "t", [Expr("f(r0, h0)")], omp=Omp.PARALLEL_FOR),
        Region([Decl("int", "k", 3),
                For("j", 0, Affine.of("n") + 1, [Assign("y[j]", "k", "+=")], step=4,
                    omp=Omp.FOR)]),
        Block([If("a < b", [Raw(["x = 1;", "    nested;"])], [Assign("x", "2")])]),
    ]
    assert render(body, 1) == [
        "    /* block 0: Relu */",
        "    const int64_t t = dnf_row_tile(100);",
        "    #pragma omp parallel for schedule(static)",
        "    for (int64_t r0 = 0; r0 < 100; r0 += t) {",
        "        const int64_t h0 = r0 + t <= 100 ? t : 100 - r0;",
        "        f(r0, h0);",
        "    }",
        "    #pragma omp parallel",
        "    {",
        "        const int k = 3;",
        "        #pragma omp for schedule(static)",
        "        for (int64_t j = 0; j < n + 1; j += 4) {",
        "            y[j] += k;",
        "        }",
        "    }",
        "    {",
        "        if (a < b) {",
        "            x = 1;",
        "                nested;",
        "        } else {",
        "            x = 2;",
        "        }",
        "    }",
    ]
    loop = For("t0", 0, 8, [Decl("float* restrict", "ws", "p + 4", const=False)],
               omp=Omp.PARALLEL_FOR, num_threads="nt0")
    assert render([loop]) == [
        "#pragma omp parallel for num_threads(nt0) schedule(static)",
        "for (int64_t t0 = 0; t0 < 8; ++t0) {",
        "    float* restrict ws = p + 4;",
        "}",
    ]


def test_parallel_policy_thresholds():
    # element-wise nests: 2^15 elements; sgemm loops: 2^16 multiply-adds; tile loops: 2^18
    assert parallel_policy((1 << 15) * ELEMENT, 2)
    assert not parallel_policy(((1 << 15) - 1) * ELEMENT, 2)
    assert parallel_policy((1 << 16) * GEMM_MAC)
    assert not parallel_policy(((1 << 16) - 1) * GEMM_MAC)
    assert parallel_policy(1 << 18, 2) and not parallel_policy((1 << 18) - 1, 2)
    assert not parallel_policy(1 << 30, 1)  # one iteration: nothing to share


def test_resources_and_helpers_on_demand():
    prelude, entry = source.text("prelude.c"), source.text("entry.c")
    assert "@WEIGHTS_BYTES@" in prelude and "@CALLS@" in entry
    assert "dnf_erff" not in prelude and "dnf_row_tile" not in prelude
    assert source.helpers_for("y[i] = x + 1;") == ""
    both = source.helpers_for("h = dnf_row_tile(64); y = dnf_erff(x);")
    assert "static int64_t dnf_row_tile(int64_t rows)" in both
    assert "static inline float dnf_erff(float a)" in both
    assert "dnf_erff" not in source.helpers_for("h = dnf_row_tile(64);")
    assert source.helpers_for("my_dnf_erff(x)") == ""  # a whole identifier only


def test_printer_simd_clause_and_one_line_forms():
    inner = For("j", 0, 16, [Assign("y[i*16 + j]", "0.0f")], inline=True)
    body = [
        For("i", 0, 4, [inner], inline=True),
        For("k", 2, 9, [Assign("s", "x[k]", "+=")], omp=Omp.SIMD, clause="reduction(+:s)"),
        If("h < 0", [Expr("continue")], inline=True),
        If("h < 0", [Expr("continue")], [Assign("h", "0")], inline=True),  # else: a block
        If("v > b", [Assign("b", "v"), Assign("at", "i")], inline=True),  # several: { }
        If("h < 0", [For("j", 0, 2, [Expr("f(j)")])], inline=True),  # not simple: a block
        While("p > 0 && y[p - 1] < v", [Assign("y[p]", "y[p - 1]"), Expr("--p")]),
    ]
    assert render(body) == [
        "for (int64_t i = 0; i < 4; ++i) for (int64_t j = 0; j < 16; ++j) y[i*16 + j] = 0.0f;",
        "#pragma omp simd reduction(+:s)",
        "for (int64_t k = 2; k < 9; ++k) {",
        "    s += x[k];",
        "}",
        "if (h < 0) continue;",
        "if (h < 0) continue; else {",
        "    h = 0;",
        "}",
        "if (v > b) { b = v; at = i; }",
        "if (h < 0) {",
        "    for (int64_t j = 0; j < 2; ++j) {",
        "        f(j);",
        "    }",
        "}",
        "while (p > 0 && y[p - 1] < v) {",
        "    y[p] = y[p - 1];",
        "    --p;",
        "}",
    ]

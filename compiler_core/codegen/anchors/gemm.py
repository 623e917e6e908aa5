"""GEMM-shaped anchors (MatMul, Gemm) as calls to OpenBLAS ``cblas_sgemm``.

Operands computed inside the block (a fused prologue) are materialized into a packed scratch
buffer first, except a Transpose of the last two axes of a buffer, which becomes transA/transB.
Batched MatMul with broadcasting is a loop of sgemm calls; when B has no batch and A is not
broadcast, the batch folds into the rows of a single call. An element-aligned epilogue runs on
each row tile right after the call that produced it.
"""

from __future__ import annotations

import math

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors import gemm_packed as pk
from compiler_core.codegen.anchors.base import Epilogue
from compiler_core.codegen.attrs import attr, unsupported
from compiler_core.codegen.c.policy import GEMM_MAC, parallel_policy
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Decl, Expr, For, Omp, Raw, Region, Stmt, tile_for
from compiler_core.codegen.cnames import ctype_of, float_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.loops import row_nest
from compiler_core.ir.ecg import value_shape

SGEMM = "scipy_cblas_sgemm"
GEMM_COL_TILE = 64  # columns per parallel Gemm tile (at least)


def _folded_transpose(ctx: KernelContext, v: ir.Value) -> ir.Value | None:
    """The buffer ``t`` when ``v = Transpose(t)`` swaps only the last two axes."""
    node = ctx.producer.get(v)
    if node is None or node.op_type != "Transpose" or v in ctx.materialized:
        return None
    src = node.inputs[0]
    rank = len(value_shape(src))
    perm = attr(node, "perm") or list(range(rank))[::-1]
    swap = list(range(rank - 2)) + [rank - 1, rank - 2]
    if rank < 2 or list(perm) != swap or src not in ctx.materialized:
        return None
    return src


def _operand(ctx: KernelContext, v: ir.Value) -> tuple[str, bool]:
    """(pointer, transposed) of a GEMM operand."""
    if v in ctx.buffers:
        return ctx.ptr(v), False
    src = _folded_transpose(ctx, v)
    assert src is not None, "operand neither materialized nor a folded transpose"
    return ctx.ptr(src), True


def _needs(ctx: KernelContext, node: ir.Node, operands) -> set[ir.Value]:
    for v in [*operands, *node.outputs]:
        if v is not None and not ctype_of(v).is_float:
            raise unsupported(node, "only float32 GEMM is supported")
    return {
        v
        for v in operands
        if v not in ctx.materialized and _folded_transpose(ctx, v) is None
    }


def _trans(t: bool) -> str:
    return "CblasTrans" if t else "CblasNoTrans"


def sgemm_call(m, n, k, alpha, a, lda, ta, b, ldb, tb, beta, c, ldc) -> str:
    """C text of a row-major ``cblas_sgemm`` call statement."""
    return sgemm(m, n, k, alpha, a, lda, ta, b, ldb, tb, beta, c, ldc).text + ";"


def sgemm(m, n, k, alpha, a, lda, ta, b, ldb, tb, beta, c, ldc) -> Expr:
    """``C[m, n] = alpha * op(A) op(B) + beta * C`` (row-major ``cblas_sgemm``)."""
    return Expr(
        f"{SGEMM}(CblasRowMajor, {_trans(ta)}, {_trans(tb)}, {m}, {n}, {k}, {alpha}, "
        f"{a}, {lda}, {b}, {ldb}, {beta}, {c}, {ldc})"
    )


def _epilogue(epilogue: Epilogue | None, lo: str, hi: str) -> list[Stmt]:
    return [] if epilogue is None else [Raw(epilogue(lo, hi, 0))]


def _gemm_work(macs: int) -> int:
    return macs * GEMM_MAC


def _replaces_b(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
    """B, when its packed copy is what the kernel reads (the ``replaces`` of the MatMul and
    Gemm anchors)."""
    return {node.inputs[1]} if pk.ROLE in ctx.derived else set()


class MatMulAnchor:
    tiled_epilogue = True

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        return _needs(ctx, node, node.inputs[:2])

    def derived(self, ctx: KernelContext, node: ir.Node) -> dict[str, ir.Value]:
        """B packed for ``dnf_gemm_pb`` (:mod:`.gemm_packed`) when B is a 2-D constant (A's
        batch, if any, then folds into the rows) and A is not a folded transpose."""
        a_v, b_v = node.inputs[0], node.inputs[1]
        b = pk.constant_matrix(b_v)
        a = value_shape(a_v)
        if not ctx.packed_gemm or b is None or len(a) < 2 or a_v not in ctx.materialized:
            return {}
        return {pk.ROLE: pk.packed_value(f"{b_v.name or 'w'}_packed", b)}

    replaces = _replaces_b

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        return render(self.build(ctx, node, epilogue), 1)

    def build(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[Stmt]:
        a_v, b_v = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        a, b = value_shape(a_v), value_shape(b_v)
        a2 = a if len(a) >= 2 else (1, *a)
        b2 = b if len(b) >= 2 else (*b, 1)
        m, k = a2[-2:]
        n = b2[-1]
        batch = ix.broadcast_shape(a2[:-2], b2[:-2])
        nb = math.prod(batch)
        pa, ta = _operand(ctx, a_v)
        if pk.ROLE in ctx.derived:
            return _packed(ctx, nb * m, n, k, pa, ctx.ptr(ctx.derived[pk.ROLE]), ctx.ptr(y),
                           epilogue)
        pb, tb = _operand(ctx, b_v)
        lda = m if ta else k
        ldb = k if tb else n
        py = ctx.ptr(y)
        one, zero = float_literal(1.0), float_literal(0.0)
        if math.prod(b2[:-2]) == 1 and tuple(a2[:-2]) == tuple(batch) and not ta:
            # Batch folded into M: row tiles spread over the OpenMP threads, each an sgemm
            # call followed by the epilogue on its rows (OpenBLAS itself runs one thread).
            rows = nb * m
            if n > rows and n >= 2 * GEMM_COL_TILE and parallel_policy(_gemm_work(rows * n * k)):
                return _column_split(ctx, rows, n, k, pa, lda, pb, ldb, tb, py, epilogue)
            r, h, tile = (ctx.names.fresh(p) for p in ("r", "h", "h"))
            omp = Omp.PARALLEL_FOR if parallel_policy(_gemm_work(rows * n * k)) else Omp.SERIAL
            call = sgemm(h, n, k, one, f"{pa} + {r}*{k}", lda, ta, pb, ldb, tb, zero,
                         f"{py} + {r}*{n}", n)
            return [
                Decl("int64_t", tile, f"dnf_row_tile({rows})"),
                tile_for(r, h, rows, tile, [call, *_epilogue(epilogue, r, f"{r} + {h}")],
                         omp=omp),
            ]
        # Loop of sgemm calls over the broadcast batch, one batch per OpenMP iteration.
        bi = ctx.names.fresh("b")
        bidx = ix.unravel(bi, batch)
        oa = ix.offset(ix.broadcast(bidx, a2[:-2], batch), a2[:-2]) * (m * k)
        ob = ix.offset(ix.broadcast(bidx, b2[:-2], batch), b2[:-2]) * (k * n)
        omp = Omp.PARALLEL_FOR if parallel_policy(_gemm_work(nb * m * n * k), nb) else Omp.SERIAL
        call = sgemm(m, n, k, one, f"{pa} + {oa.c()}", lda, ta, f"{pb} + {ob.c()}", ldb, tb, zero,
                     f"{py} + {bi}*{m * n}", n)
        body = [call, *_epilogue(epilogue, f"{bi}*{m}", f"({bi} + 1)*{m}")]
        return [For(bi, 0, nb, body, omp=omp)]


def _packed(ctx: KernelContext, rows: int, n: int, k: int, pa: str, pp: str, py: str,
            epilogue: Epilogue | None, bias: str = "NULL", tail=None) -> list[Stmt]:
    """``Y[rows, n] = A B (+ bias)`` with B packed (:mod:`.gemm_packed`): column blocks of
    whole strips per thread when B has the more columns, else row tiles; then ``tail`` and
    the epilogue on row tiles."""
    work = _gemm_work(rows * n * k)
    if n > rows and n >= 2 * GEMM_COL_TILE and parallel_policy(work):
        return _column_split(ctx, rows, n, k, pa, k, pp, n, False, py, epilogue, tail=tail,
                             call=lambda j, w: pk.gemm_pb(rows, k, pa, k, pp, j, f"{j} + {w}",
                                                          py, n, bias),
                             block=pk.column_block(n))
    r, h, tile = (ctx.names.fresh(p) for p in ("r", "h", "h"))
    call = pk.gemm_pb(h, k, f"{pa} + {r}*{k}", k, pp, 0, n, f"{py} + {r}*{n}", n, bias)
    per_rows = [call, *(tail(r, f"{r} + {h}") if tail else []),
                *_epilogue(epilogue, r, f"{r} + {h}")]
    parallel = parallel_policy(work)
    return [
        Decl("int64_t", tile, f"dnf_row_tile({rows})" if parallel else str(max(rows, 1))),
        tile_for(r, h, rows, tile, per_rows, omp=Omp.PARALLEL_FOR if parallel else Omp.SERIAL),
    ]


def _column_split(ctx: KernelContext, rows: int, n: int, k: int, pa: str, lda: int, pb: str,
                  ldb: int, tb: bool, py: str, epilogue: Epilogue | None, *, ta: bool = False,
                  alpha: str | None = None, tail=None, call=None,
                  block: str | None = None) -> list[Stmt]:
    """``Y[rows, n] = alpha * op(A) x op(B)`` when B (the weights, ``k x n``) is the bigger
    operand: each OpenMP thread takes one block of columns (a multiple of 16), so each part
    of B is packed by one sgemm call only (row tiles made every thread repack all of B:
    BERT-base's ``128 x 768 @ 768 x 3072`` spent 16% of a one-thread run in OpenBLAS's
    packing of B and scaled 1.45x on 2 threads). ``tail(lo, hi)`` (statements on the rows
    ``[lo, hi)``: a Gemm's bias) and the epilogue then run on row tiles after the barrier.
    ``call(j, w)`` / ``block``: another GEMM call for the columns ``[j, j + w)`` and the
    columns per thread (C expression) — the packed-B kernel's."""
    nm = ctx.names.fresh
    cw, j, w, r, h, tile = nm("j"), nm("j"), nm("j"), nm("r"), nm("h"), nm("h")
    one, zero = float_literal(1.0), float_literal(0.0)
    b_off = f"{j}*{ldb}" if tb else j
    stmt = call(j, w) if call is not None else sgemm(
        rows, w, k, alpha or one, pa, lda, ta, f"{pb} + {b_off}", ldb, tb, zero, f"{py} + {j}",
        n)
    body: list[Stmt] = [
        Decl("int64_t", cw, block or f"(({n} + omp_get_num_threads() - 1) / "
                                     "omp_get_num_threads() + 15) / 16 * 16"),
        tile_for(j, w, n, cw, [stmt], omp=Omp.FOR),
    ]
    per_rows = [*(tail(r, f"{r} + {h}") if tail else []), *_epilogue(epilogue, r, f"{r} + {h}")]
    if per_rows:
        body += [
            Decl("int64_t", tile, f"dnf_row_tile({rows})"),
            tile_for(r, h, rows, tile, per_rows, omp=Omp.FOR),
        ]
    return [Region(body)]


class GemmAnchor:
    """``Y = alpha * op(A) op(B) + beta * C`` as the MatMul anchor does it: ``sgemm`` with
    ``beta = 0`` on row tiles (or on column blocks when B has more columns than A rows), then,
    on each row tile while it is in cache, ``beta * C`` added (C broadcast to ``[M, N]``) and
    the block's element-wise epilogue. (Before: a pass writing ``beta * C`` into Y, an sgemm
    accumulating into it, and the epilogue as a third pass over Y: GPT-2's Conv1D layers.)"""

    tiled_epilogue = True

    def needs(self, ctx: KernelContext, node: ir.Node) -> set[ir.Value]:
        return _needs(ctx, node, node.inputs[:2])

    def derived(self, ctx: KernelContext, node: ir.Node) -> dict[str, ir.Value]:
        """B packed for ``dnf_gemm_pb`` (:mod:`.gemm_packed`) when B is a 2-D constant, A a
        buffer read as it is (``transA`` 0) and ``alpha`` 1."""
        a_v, b_v = node.inputs[0], node.inputs[1]
        b = pk.constant_matrix(b_v, transposed=bool(attr(node, "transB", 0)))
        if (not ctx.packed_gemm or b is None or attr(node, "transA", 0)
                or float(attr(node, "alpha", 1.0)) != 1.0 or a_v not in ctx.materialized):
            return {}
        return {pk.ROLE: pk.packed_value(f"{b_v.name or 'w'}_packed", b)}

    replaces = _replaces_b

    def emit(self, ctx: KernelContext, node: ir.Node, epilogue: Epilogue | None) -> list[str]:
        return render(self.build(ctx, node, epilogue), 1)

    def build(self, ctx: KernelContext, node: ir.Node,
              epilogue: Epilogue | None = None) -> list[Stmt]:
        a_v, b_v = node.inputs[0], node.inputs[1]
        y = node.outputs[0]
        m, n = value_shape(y)
        ta0, tb0 = bool(attr(node, "transA", 0)), bool(attr(node, "transB", 0))
        k = value_shape(a_v)[0 if ta0 else 1]
        alpha = float(attr(node, "alpha", 1.0))
        pa, fa = _operand(ctx, a_v)
        py = ctx.ptr(y)
        if pk.ROLE in ctx.derived:
            return self._packed(ctx, node, m, n, k, pa, py, epilogue)
        pb, fb = _operand(ctx, b_v)
        ta, tb = ta0 != fa, tb0 != fb
        lda = m if ta else k
        ldb = k if tb else n
        al, zero = float_literal(alpha), float_literal(0.0)
        tail = self._tail(ctx, node, m, n, py)

        parallel = parallel_policy(_gemm_work(m * n * k))
        if parallel and n > m and n >= 2 * GEMM_COL_TILE:
            # a GEMV-shaped classifier head (one row) or B the bigger operand: column blocks
            return _column_split(ctx, m, n, k, pa, lda, pb, ldb, tb, py, epilogue, ta=ta,
                                 alpha=al, tail=tail)
        r, h, tile = (ctx.names.fresh(p) for p in ("r", "h", "h"))
        a_rows = f"{pa} + {r}" if ta else f"{pa} + {r}*{lda}"
        call = sgemm(h, n, k, al, a_rows, lda, ta, pb, ldb, tb, zero, f"{py} + {r}*{n}", n)
        per_rows = [call, *(tail(r, f"{r} + {h}") if tail else []),
                    *_epilogue(epilogue, r, f"{r} + {h}")]
        return [
            Decl("int64_t", tile, f"dnf_row_tile({m})" if parallel else str(max(m, 1))),
            tile_for(r, h, m, tile, per_rows, omp=Omp.PARALLEL_FOR if parallel else Omp.SERIAL),
        ]

    def _tail(self, ctx: KernelContext, node: ir.Node, m: int, n: int, py: str):
        """``tail(lo, hi)``: statements adding ``beta * C`` (broadcast) to Y's rows
        ``[lo, hi)``; None without C."""
        c_v = node.inputs[2] if len(node.inputs) > 2 else None
        beta = float(attr(node, "beta", 1.0))
        if c_v is None or beta == 0.0:
            return None
        bl = float_literal(beta)

        def tail(lo: str, hi: str) -> list[Stmt]:
            def body(idx):  # Y += beta * C (broadcast), on the rows [lo, hi)
                g = ctx.gen(0)
                c = g.at_broadcast(c_v, idx, (m, n))
                at = f"{py}[{ix.linear(idx, (m, n))}]"
                g.line(f"{at} = {at} + {bl} * {c};")
                return [Raw(g.lines)]

            return row_nest(ctx.names, (m, n), body, inner=1, rows=(lo, hi), parallel=False)

        return tail

    def _packed(self, ctx: KernelContext, node: ir.Node, m: int, n: int, k: int, pa: str,
                py: str, epilogue: Epilogue | None) -> list[Stmt]:
        """The packed-B path; a C of n elements (``[n]`` or ``[1, n]``) with ``beta`` 1 is
        the kernel's bias (the sums start from it), another C is added after."""
        c_v = node.inputs[2] if len(node.inputs) > 2 else None
        beta = float(attr(node, "beta", 1.0))
        pp = ctx.ptr(ctx.derived[pk.ROLE])
        if (c_v is not None and beta == 1.0 and c_v in ctx.buffers
                and tuple(value_shape(c_v)) in ((n,), (1, n))):
            return _packed(ctx, m, n, k, pa, pp, py, epilogue, bias=ctx.ptr(c_v))
        return _packed(ctx, m, n, k, pa, pp, py, epilogue, tail=self._tail(ctx, node, m, n, py))

"""The attention kernel: scores, softmax and P·V of one head in one pass per row block.

For each (batch item, row block of ``ROW_BLOCK`` query rows), in parallel over the OpenMP
threads: one ``sgemm`` writes ``alpha * Q_rows K^T`` (``rows x Sk``) into the thread's
workspace slot, each row gets the select and masks applied and its max in one pass, then its
exponentials and their sum, while in cache; a second ``sgemm`` writes ``E V`` into the output
rows and each output row is scaled by its ``1/sum`` (``Dv`` multiplications a row instead of
``Sk``). The score matrix never
reaches the arena: the 3 floor kernels' ``2 x B*H*Sq*Sk`` floats written and read again
become a slot of ``ROW_BLOCK x Sk`` floats per thread. Q, K, V and the output are strided
views of the projections' ``[B, S, H*D]`` tensors (:class:`compiler_core.planner.attention.View`),
passed to BLAS as leading dimensions. A whole row of scores is kept (``Sk`` floats a row), so
the softmax needs no running rescale; long rows get fewer rows a tile (a slot of at most
:data:`SLOT_FLOATS` floats, 8 rows at least). An "online" softmax over key blocks, which
would bound the slot whatever ``Sk``, is not done (8 rows of ``Sk = 65536`` are 2 MiB).

Dead keys: when the chain has a mask (or a Where whose fill is at most :data:`DEAD`), each
tile first finds ``kl``, one past the last key column whose total additive mask is above
``DEAD`` in some of its rows, and computes only the first ``kl`` columns (both products and
the softmax). The columns after it would add exact zeros: their ``exp`` underflows to 0
next to a column of mask at least :data:`LIVE`, which every row of the tile must have
(otherwise ``kl = Sk``: a row with every key masked spreads its softmax over all of them),
for scores under 1e29 in magnitude and a finite V. GPT-2's causal mask (float32's min)
halves the first tile's keys; padded keys (BERT's and GPT-2's attention masks) are skipped
in every tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.codegen.anchors.gemm import sgemm
from compiler_core.codegen.anchors.tiles import (
    WORKSPACE_SLOTS,
    padded,
    tiles,
    workspace_value,
)
from compiler_core.codegen.c import source
from compiler_core.codegen.c.policy import GEMM_MAC
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Function, Raw, Stmt
from compiler_core.codegen.cnames import Names, comment, ctype_of, float_literal
from compiler_core.codegen.context import KernelContext
from compiler_core.codegen.expr import declare_buffers
from compiler_core.errors import UnsupportedOperatorError
from compiler_core.ir.boundary import boundary
from compiler_core.ir.ecg import ECG, value_shape
from compiler_core.planner.attention import Attention, View, attention_flops, contiguous

DEAD = -1e30  # an additive mask at or below this makes its score's exp exactly 0 ...
LIVE = -1e20  # ... next to a score whose mask is at least this (|scores| < 1e29)
SLOT_FLOATS = 1 << 16  # scores a thread keeps at once, unless 8 rows need more
ROW_BLOCK = 64  # query rows per tile (32: 4% slower on TinyBERT, 128: same, fewer tiles)


def _exp() -> str:
    """The exp the softmax calls: the vectorizable helper when the generator has it."""
    return "dnf_expf" if "dnf_expf" in source.HELPERS else "expf"


def _blas(view: View) -> tuple[bool, int]:
    """(transposed, leading dimension) of the matrix made of a view's last two axes."""
    r, c = view.shape[-2:]
    sr, sc = view.strides[-2:]
    if sc == 1 or c == 1:
        return False, max(sr, c, 1) if r > 1 else max(c, 1)
    return True, max(sc, r, 1) if c > 1 else max(r, 1)


def _batch_offset(batch: tuple[int, ...], strides: tuple[int, ...], b: str) -> str:
    """C expression of the element offset of batch item ``b`` (row-major over ``batch``)."""
    terms, div = [], 1
    for d, s in reversed(list(zip(batch, strides, strict=True))):
        if d > 1 and s != 0:
            idx = b if div == 1 else f"({b} / {div})"
            idx = idx if div * d == math.prod(batch) else f"({idx} % {d})"
            terms.append(f"{idx}*{s}")
        div *= d
    return " + ".join(terms) or "0"


def _mask_strides(mask_shape: tuple[int, ...], scores: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of the mask broadcast to the scores' shape (0 along broadcast axes)."""
    pad = (1,) * (len(scores) - len(mask_shape)) + tuple(mask_shape)
    cs = contiguous(pad)
    return tuple(0 if d == 1 else s for d, s in zip(pad, cs, strict=True))


@dataclass
class AttentionKernel:
    """A block of kind ``"attention"`` ready for emission (the same interface as
    :class:`~compiler_core.codegen.kernel.BlockKernel`)."""

    block_id: int
    name: str
    node_ids: list[int]
    ctx: KernelContext
    att: Attention
    inputs: list[ir.Value]
    outputs: list[ir.Value]
    scratch: list[ir.Value]
    row_block: int
    anchor: None = None
    checked: bool = False

    @property
    def ops(self) -> list[str]:
        return [n.op_type for n in self.ctx.nodes]

    def emit(self, pointers: dict[ir.Value, tuple[str, bool]]) -> list[str]:
        ctx, att = self.ctx, self.att
        body: list[Stmt] = []
        decls, declared = declare_buffers(ctx.names, pointers, self.inputs, self.outputs,
                                          self.scratch)
        body += decls
        ctx.buffers.update(declared)
        *batch_l, sq, d = att.q.shape
        batch = tuple(batch_l)
        sk, dv = att.v.shape[-2:]
        nb = math.prod(batch)
        rb = self.row_block
        nrb = -(-sq // rb)
        names = ctx.names.fresh
        bi, r0, rows, i, j = names("b"), names("r"), names("h"), names("i"), names("j")
        mx, sm, inv, srow, orow = (names(n) for n in ("mx", "s", "inv", "sr", "or"))
        ta, lda = _blas(att.q)
        tb, ldb = _blas(att.k)
        tv, ldv = _blas(att.v)
        ldo = att.out.strides[-2] if sq > 1 else dv
        q_off = _batch_offset(batch, att.q.strides[:-2], bi)
        k_off = _batch_offset(batch, att.k.strides[:-2], bi)
        v_off = _batch_offset(batch, att.v.strides[:-2], bi)
        o_off = _batch_offset(batch, att.out.strides[:-2], bi)
        q_row = att.q.strides[-2]
        o_row = att.out.strides[-2]
        pq, pk, pv = (ctx.ptr(x.base) for x in (att.q, att.k, att.v))
        po = ctx.ptr(att.out.base)
        exp = _exp()
        one, zero = float_literal(1.0), float_literal(0.0)

        # Key columns whose additive mask is "dead" (<= DEAD) for every row of a tile add
        # exact zeros to the softmax and to P.V: the tile stops at the last live one.
        skip = bool(att.masks) or (att.select is not None and att.fill <= DEAD)
        kl = names("kl") if skip else str(sk)

        def row_terms(row: str, tag: str) -> tuple[list[str], list[str], str]:
            """(declarations of the mask row pointers of query row ``row``, the statements
            applying select and masks to ``x`` at column j, the C expression of the total
            additive mask at column j)."""
            decls, terms, total = [], [], []
            if att.select is not None:
                cs = _mask_strides(value_shape(att.select), (*batch, sq, sk))
                c_off = _batch_offset(batch, cs[:-2], bi)
                crow, pc = names("cr" if not tag else "ck"), ctx.ptr(att.select)
                decls.append(f"const uint8_t* restrict {crow} = {pc} + {c_off} + "
                             f"({row})*{cs[-2]};")
                fill = float_literal(att.fill)
                terms.append(f"x = {crow}[{j}*{cs[-1]}] ? x : {fill};")
                total.append(f"({crow}[{j}*{cs[-1]}] ? {zero} : {fill})")
            for mask in att.masks:
                ms = _mask_strides(value_shape(mask), (*batch, sq, sk))
                m_off = _batch_offset(batch, ms[:-2], bi)
                mrow, pm = names("mr" if not tag else "mk"), ctx.ptr(mask)
                decls.append(f"const float* restrict {mrow} = {pm} + {m_off} + "
                             f"({row})*{ms[-2]};")
                terms.append(f"x += {mrow}[{j}*{ms[-1]}];")
                total.append(f"{mrow}[{j}*{ms[-1]}]")
            return decls, terms, " + ".join(total) or zero

        def key_length() -> list[str]:
            """C computing ``kl``: 1 + the last key column live in some row of the tile, or
            Sk when a row has no clearly live column (its softmax then spreads over the
            masked ones: nothing may be skipped)."""
            decls, _, total = row_terms(f"{r0} + {i}", "k")
            last, live = names("la"), names("lv")
            at = total.replace(f"[{j}*", f"[{last}*")
            return [
                f"int64_t {kl} = 0;",
                f"for (int64_t {i} = 0; {i} < {rows}; ++{i}) {{",
                *(f"    {d}" for d in decls),
                f"    int64_t {last} = {sk} - 1;",
                f"    while ({last} >= 0 && {at} <= {float_literal(DEAD)}) --{last};",
                f"    int {live} = {last} >= 0 && {at} >= {float_literal(LIVE)};",
                f"    for (int64_t {j} = 0; !{live} && {j} < {last}; ++{j})",
                f"        {live} = {total} >= {float_literal(LIVE)};",
                f"    if (!{live}) {{ {kl} = {sk}; break; }}",
                f"    if ({last} + 1 > {kl}) {kl} = {last} + 1;",
                "}",
            ]

        def tile(t: str, ws: str | None) -> list[Stmt]:
            lines = [
                f"const int64_t {bi} = {t} / {nrb};",
                f"const int64_t {r0} = ({t} % {nrb}) * {rb};",
                f"const int64_t {rows} = {r0} + {rb} <= {sq} ? {rb} : {sq} - {r0};",
                *(key_length() if skip else []),
                sgemm(rows, kl, d, float_literal(att.alpha),
                      f"{pq} + {q_off} + {r0}*{q_row}", lda, ta,
                      f"{pk} + {k_off}", ldb, tb, zero, ws, sk).text + ";",
                f"for (int64_t {i} = 0; {i} < {rows}; ++{i}) {{",
                f"    float* restrict {srow} = {ws} + {i}*{sk};",
            ]
            decls, terms, _ = row_terms(f"{r0} + {i}", "")
            lines += [f"    {x}" for x in decls]
            lines += [
                f"    float {mx} = -INFINITY;",
                f"    #pragma omp simd reduction(max:{mx})",
                f"    for (int64_t {j} = 0; {j} < {kl}; ++{j}) {{",
                f"        float x = {srow}[{j}];",
                *(f"        {t}" for t in terms),
                *([f"        {srow}[{j}] = x;"] if terms else []),
                f"        {mx} = x > {mx} ? x : {mx};",
                "    }",
                f"    float {sm} = {zero};",
                f"    #pragma omp simd reduction(+:{sm})",
                f"    for (int64_t {j} = 0; {j} < {kl}; ++{j}) {{",
                f"        const float e = {exp}({srow}[{j}] - {mx});",
                f"        {srow}[{j}] = e;",
                f"        {sm} += e;",
                "    }",
                f"    {ws}[{rb * sk} + {i}] = {one} / {sm};",
                "}",
                sgemm(rows, dv, kl, one, ws, sk, False, f"{pv} + {v_off}", ldv, tv, zero,
                      f"{po} + {o_off} + {r0}*{o_row}", ldo).text + ";",
                # the softmax's 1/sum scales the Dv outputs of a row, not its Sk weights
                f"for (int64_t {i} = 0; {i} < {rows}; ++{i}) {{",
                f"    float* restrict {orow} = {po} + {o_off} + ({r0} + {i})*{o_row};",
                f"    const float {inv} = {ws}[{rb * sk} + {i}];",
                "    #pragma omp simd",
                f"    for (int64_t {j} = 0; {j} < {dv}; ++{j}) {orow}[{j}] *= {inv};",
                "}",
            ]
            return [Raw(lines)]

        work = attention_flops(att) * GEMM_MAC
        body += tiles(ctx, nb * nrb, work, tile, slot_floats=rb * sk + rb)
        # "block N:" first: the report page finds a kernel's C by it (service/artifact_view.py)
        comment_ = f"block {self.block_id}: {' '.join(comment(o) for o in self.ops)} (attention)"
        fn = Function("void", self.name, "const dnf_ctx* restrict c", body, attrs="DNF_KERNEL",
                      comment=comment_)
        return render([fn])


def _names(values) -> str:
    return ", ".join(comment(v.name or "?") for v in values)


def analyze_attention(ecg: ECG, block_id: int, members: list[int], names: Names,
                      att: Attention) -> AttentionKernel:
    """The kernel of an attention block (``members``: its node indices, sorted)."""
    nodes = [ecg.nodes[i] for i in members]
    for x in (att.q.base, att.k.base, att.v.base, att.out.base, *att.masks):
        if not ctype_of(x).is_float:
            raise UnsupportedOperatorError("attention block: only float32 tensors")
    inputs = list(dict.fromkeys(
        x for x in (att.q.base, att.k.base, att.v.base, att.select, *att.masks)
        if x is not None))
    # The pattern says what the kernel reads; the block boundary must agree (the planner's
    # constraint check, cost model and report use it).
    edge = boundary(ecg, members)
    if not set(inputs) <= set(edge.inputs) or list(edge.outputs) != [att.out.base]:
        raise UnsupportedOperatorError(
            f"attention block {block_id}: its pattern reads {_names(inputs)} and writes "
            f"{_names([att.out.base])}, its boundary reads {_names(edge.inputs)} and writes "
            f"{_names(edge.outputs)}")
    ctx = KernelContext(names=names, nodes=nodes, producer={})
    sk = att.v.shape[-2]
    # a slot of at most 256 KiB a thread once the rows are long (Sk >= 1024)
    rb = min(ROW_BLOCK, att.q.shape[-2], max(8, SLOT_FLOATS // sk))
    ctx.workspace = workspace_value(f"k{block_id}", WORKSPACE_SLOTS * padded(rb * sk + rb))
    return AttentionKernel(
        block_id=block_id,
        name=f"k{block_id}",
        node_ids=list(members),
        ctx=ctx,
        att=att,
        inputs=inputs,
        outputs=[att.out.base],
        scratch=[ctx.workspace],
        row_block=rb,
    )

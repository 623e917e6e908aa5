"""The horizontal GEMM kernel: sibling ``MatMul(X, W_i)`` blocks as one ``sgemm``.

The weights are concatenated at compile time into ``W = [W_1 | W_2 | ...]`` (``K x sum N_i``,
one constant in weights.bin; the ``W_i`` are no longer stored). One ``sgemm`` per row tile of
X writes ``X W`` into a scratch buffer ``[M, sum N_i]``, then each sibling's element-wise
epilogue (a bias addition...) runs on that row tile of its columns (when W has more columns
than X rows, each thread takes a block of columns for all rows instead, so W is packed once,
and the epilogues run on row tiles after the barrier), read as its MatMul's
output with a row stride of ``sum N_i``, and writes the sibling's own output. X is packed by
one call per tile instead of one per sibling, and the siblings share one parallel region.
Each sibling is analyzed as the block it was (:func:`compiler_core.codegen.kernel.analyze_block`)
and its epilogue emitted by that block's own code. On x86-64 targets W is stored packed for
``dnf_gemm_pb`` instead (:mod:`compiler_core.codegen.anchors.gemm_packed`), the calls the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx_ir as ir

from compiler_core.codegen.anchors import gemm_packed as pk
from compiler_core.codegen.anchors.gemm import GEMM_COL_TILE, sgemm
from compiler_core.codegen.anchors.tiles import workspace_value
from compiler_core.codegen.c.policy import GEMM_MAC, parallel_policy
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Decl, Function, Omp, Raw, Region, Stmt, tile_for
from compiler_core.codegen.cnames import Names, comment, ctype_of, float_literal
from compiler_core.codegen.expr import Buffer, declare_buffers
from compiler_core.codegen.kernel import BlockKernel, analyze_block
from compiler_core.errors import UnsupportedOperatorError
from compiler_core.ir.ecg import ECG, value_shape
from compiler_core.planner.horizontal import Horizontal


@dataclass
class HorizontalKernel:
    """A block of kind ``"horizontal"`` ready for emission (the interface of
    :class:`~compiler_core.codegen.kernel.BlockKernel`)."""

    block_id: int
    name: str
    node_ids: list[int]
    subs: list[BlockKernel]
    x: ir.Value
    w: ir.Value  # the concatenated weights
    ys: list[ir.Value]  # each sibling's MatMul output (read from the scratch)
    offsets: list[int]  # each sibling's first column in the scratch
    inputs: list[ir.Value]
    outputs: list[ir.Value]
    scratch: list[ir.Value]
    names: Names
    nt: int = 0  # columns of W (all siblings)
    packed: bool = False  # W packed for dnf_gemm_pb (anchors/gemm_packed.py), else sgemm
    anchor: None = None
    checked: bool = False

    @property
    def ops(self) -> list[str]:
        nodes = sorted((i, op) for s in self.subs
                       for i, op in zip(s.node_ids, s.ops, strict=True))
        return [op for _, op in nodes]

    def emit(self, pointers: dict[ir.Value, tuple[str, bool]]) -> list[str]:
        decls, declared = declare_buffers(self.names, pointers, self.inputs, self.outputs,
                                          self.scratch)
        body: list[Stmt] = list(decls)
        ps = declared[self.scratch[0]].ptr
        *lead, m, k = value_shape(self.x)
        rows = math.prod(lead) * m
        nt = self.nt
        for sub, y, off in zip(self.subs, self.ys, self.offsets, strict=True):
            for v in [*sub.inputs, *sub.outputs, *sub.scratch]:
                if v in declared:
                    sub.ctx.buffers[v] = declared[v]
            py = self.names.fresh("p")
            body.append(Decl("float* restrict", py, f"{ps} + {off}", const=False))
            shape = value_shape(y)
            sub.ctx.buffers[y] = Buffer(py, (*shape[:-1], nt), ctype_of(y))
        r, h, tile = (self.names.fresh(p) for p in ("r", "h", "h"))
        px, pw = declared[self.x].ptr, declared[self.w].ptr
        one, zero = float_literal(1.0), float_literal(0.0)
        work = rows * nt * k * GEMM_MAC
        split = nt > rows and nt >= 2 * GEMM_COL_TILE and parallel_policy(work)
        in_tile: list[Stmt] = []
        if not split and self.packed:
            in_tile.append(pk.gemm_pb(h, k, f"{px} + {r}*{k}", k, pw, 0, nt,
                                      f"{ps} + {r}*{nt}", nt))
        elif not split:
            in_tile.append(sgemm(h, nt, k, one, f"{px} + {r}*{k}", k, False, pw, nt, False,
                                 zero, f"{ps} + {r}*{nt}", nt))
        after: list[Stmt] = []
        for sub in self.subs:
            stages = sub._stages()
            if not stages or stages[0][0] != "anchor":
                raise UnsupportedOperatorError("horizontal block: a sibling without its GEMM")
            rest = stages[1:]
            if rest and rest[0][0] == "expr" and sub._aligned(rest[0][1]):
                in_tile.append(Raw(render(sub._expr_nest(
                    rest[0][1], rows=(r, f"{r} + {h}"), inner=1, parallel=False), 0)))
                rest = rest[1:]
            for _, values in rest:
                after += sub._expr_nest(values)
        if split:
            # W (k x sum N) is the bigger operand: each thread multiplies all rows by its
            # block of columns (each part of W packed once, as anchors/gemm.py's column
            # split), then the epilogues run on row tiles after the barrier.
            cw, j, w = (self.names.fresh("j") for _ in range(3))
            if self.packed:
                call = pk.gemm_pb(rows, k, px, k, pw, j, f"{j} + {w}", ps, nt)
                block = pk.column_block(nt)
            else:
                call = sgemm(rows, w, k, one, px, k, False, f"{pw} + {j}", nt, False, zero,
                             f"{ps} + {j}", nt)
                block = (f"(({nt} + omp_get_num_threads() - 1) / "
                         "omp_get_num_threads() + 15) / 16 * 16")
            region: list[Stmt] = [
                Decl("int64_t", cw, block),
                tile_for(j, w, nt, cw, [call], omp=Omp.FOR),
            ]
            if in_tile:
                region += [Decl("int64_t", tile, f"dnf_row_tile({rows})"),
                           tile_for(r, h, rows, tile, in_tile, omp=Omp.FOR)]
            body += [Region(region), *after]
        else:
            omp = Omp.PARALLEL_FOR if parallel_policy(work) else Omp.SERIAL
            body += [Decl("int64_t", tile, f"dnf_row_tile({rows})"),
                     tile_for(r, h, rows, tile, in_tile, omp=omp), *after]
        if any(sub.ctx.checks for sub in self.subs):
            raise UnsupportedOperatorError("horizontal block: an epilogue with run-time checks")
        # "block N:" first: the report page finds a kernel's C by it (service/artifact_view.py)
        comment_ = f"block {self.block_id}: {' '.join(comment(o) for o in self.ops)} (horizontal)"
        fn = Function("void", self.name, "const dnf_ctx* restrict c", body, attrs="DNF_KERNEL",
                      comment=comment_)
        return render([fn])


def analyze_horizontal(ecg: ECG, block_id: int, names: Names, hz: Horizontal,
                       packed_gemm: bool = False) -> HorizontalKernel:
    """The kernel of a horizontal block: each sibling analyzed as its own block, the weights
    concatenated (and packed for ``dnf_gemm_pb`` when ``packed_gemm``)."""
    subs = [analyze_block(ecg, block_id, list(g), names) for g in hz.groups]
    mms = [ecg.nodes[i] for i in hz.matmuls]
    ws = [mm.inputs[1] for mm in mms]
    ys = [mm.outputs[0] for mm in mms]
    arrays = [np.asarray(w.const_value.numpy(), np.float32) for w in ws]
    cat = np.ascontiguousarray(np.concatenate(arrays, axis=1))
    if packed_gemm:
        w = pk.packed_value(f"k{block_id}_weights_packed", cat)
    else:
        w = ir.Value(name=f"k{block_id}_weights", shape=ir.Shape(list(cat.shape)),
                     type=ir.TensorType(ir.DataType.FLOAT), const_value=ir.Tensor(cat))
    offsets = list(np.cumsum([0, *(a.shape[1] for a in arrays[:-1])]).tolist())
    *lead, m, _ = value_shape(hz.x)
    scratch = workspace_value(f"k{block_id}h", math.prod(lead) * m * cat.shape[1])
    inputs = [hz.x, w]
    outputs: list[ir.Value] = []
    extra: list[ir.Value] = [scratch]
    for sub, wi, y in zip(subs, ws, ys, strict=True):
        inputs += [v for v in sub.inputs if v is not hz.x and v is not wi and v not in inputs]
        outputs += [v for v in sub.outputs if v not in outputs]
        extra += [v for v in sub.scratch if v is not y and v not in extra]
    return HorizontalKernel(
        block_id=block_id, name=f"k{block_id}", node_ids=sorted(hz.nodes), subs=subs,
        x=hz.x, w=w, ys=ys, offsets=offsets, inputs=inputs, outputs=outputs, scratch=extra,
        names=names, nt=int(cat.shape[1]), packed=packed_gemm,
    )

"""One fused block -> one C function.

Analysis (:func:`analyze_block`) decides which values get buffers: the block's inputs (weights
included) and outputs (its :func:`compiler_core.ir.boundary.boundary`), the anchor's outputs,
operands the anchor needs packed, and values a broadcast reads many times (a computed
One-to-Many operand). Everything else stays virtual.
Emission (:meth:`BlockKernel.emit`) walks the materialized values in topological order as
stages: the anchor stage (library call or reduction loops) and expression stages (one loop
nest per group of same-shaped values). An expression stage right after an anchor with a tiled
epilogue (GEMM, Conv, ConvTranspose, pooling, LRN) that reads the anchor element-aligned runs
per output tile inside the anchor's loop. Anchors needing scratch (im2col panels) get a
workspace buffer from the arena (see ``anchors/tiles.py``). A kernel whose code makes run-time
checks (integer division, :mod:`compiler_core.codegen.checks`) returns its error flag; any
other kernel is ``void``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import onnx_ir as ir

from compiler_core.codegen import index as ix
from compiler_core.codegen.anchors import ANCHORS
from compiler_core.codegen.anchors.tiles import workspace_value
from compiler_core.codegen.attrs import unsupported, where
from compiler_core.codegen.c.printer import render
from compiler_core.codegen.c.stmt import Decl, Expr, Function, Raw, Stmt
from compiler_core.codegen.checks import FLAG, merge_flag
from compiler_core.codegen.cnames import Names, comment, ctype_of
from compiler_core.codegen.context import RECOMPUTE_LIMIT, KernelContext
from compiler_core.codegen.expr import Buffer, declare_buffers
from compiler_core.codegen.loops import row_nest
from compiler_core.codegen.ops import INDEX_OPS, REPEATING_OPS, check_supported
from compiler_core.ir.boundary import boundary
from compiler_core.ir.ecg import ECG, value_shape
from compiler_core.ir.mapping import MappingType


def _numel(v: ir.Value) -> int:
    return math.prod(value_shape(v))


@dataclass
class BlockKernel:
    """A block ready for emission. ``inputs``/``outputs``/``scratch`` are the values needing
    storage (the memory plan assigns it); ``name`` is the C function."""

    block_id: int
    name: str
    node_ids: list[int]
    ctx: KernelContext
    anchor: ir.Node | None
    inputs: list[ir.Value]
    outputs: list[ir.Value]
    scratch: list[ir.Value]
    order: dict[ir.Node, int] = field(default_factory=dict)
    # anchor output -> the block output whose storage it shares (an in-place epilogue)
    aliases: dict[ir.Value, ir.Value] = field(default_factory=dict)
    # (block output o, residual r): o may be stored over r when r dies here (see
    # find_residual_storage; the memory plan decides)
    residual_storage: tuple[ir.Value, ir.Value] | None = None

    @property
    def ops(self) -> list[str]:
        return [n.op_type for n in self.ctx.nodes]

    @property
    def checked(self) -> bool:
        """True when the emitted function returns an error flag (known after :meth:`emit`)."""
        return bool(self.ctx.checks)

    # -- emission --------------------------------------------------------------------------
    def emit(self, pointers: dict[ir.Value, tuple[str, bool]]) -> list[str]:
        """The C function. ``pointers[v]`` = (C expression of the address, writable)."""
        ctx = self.ctx
        body: list[Stmt] = []
        decls, declared = declare_buffers(ctx.names, pointers, self.inputs, self.outputs,
                                          self.scratch)
        body += decls
        ctx.buffers.update(declared)
        for y, o in self.aliases.items():  # the anchor writes into the epilogue's output
            ctx.buffers[y] = Buffer(declared[o].ptr, value_shape(y), ctype_of(y))
        stages = self._stages()
        k = 0
        while k < len(stages):
            kind, values = stages[k]
            if kind == "anchor":
                anchor = ANCHORS[self.anchor.op_type]
                epilogue = None
                if (
                    anchor.tiled_epilogue
                    and k + 1 < len(stages)
                    and stages[k + 1][0] == "expr"
                    and self._aligned(stages[k + 1][1])
                ):
                    nxt = stages[k + 1][1]
                    k += 1

                    def epilogue(lo, hi, indent, nxt=nxt):
                        # runs inside the anchor's own parallel loop over tiles
                        return render(self._expr_nest(nxt, rows=(lo, hi), inner=1,
                                                      parallel=False), indent)

                    epilogue.relu_in_place = self._relu_in_place(nxt)
                    epilogue.residual = self._residual_in_place(nxt)

                body.append(Raw(_dedent(anchor.emit(ctx, self.anchor, epilogue))))
            else:
                body += self._expr_nest(values)
            k += 1
        ret = "void"
        if ctx.checks:  # the kernel returns its run-time error flag
            ret = "int"
            body = [Decl("int", FLAG, "0", const=False), *body, Expr(f"return {FLAG}")]
        comment_ = f"block {self.block_id}: {' '.join(comment(o) for o in self.ops)}"
        fn = Function(ret, self.name, "const dnf_ctx* restrict c", body, attrs="DNF_KERNEL",
                      comment=comment_)
        return render(merge_flag([fn]) if ctx.checks else [fn])

    def _relu_in_place(self, values: list[ir.Value]) -> bool:
        """The epilogue is one Relu of the anchor's output written over it (see
        :meth:`find_in_place`): an anchor may apply it as it stores its tile
        (``epilogue.relu_in_place``; ``dnf_gemm_pa``'s ``relu``) and skip the epilogue."""
        if len(values) != 1 or self.anchor is None or len(self.anchor.outputs) != 1:
            return False
        o, y = values[0], self.anchor.outputs[0]
        node = self.ctx.producer.get(o)
        return (node is not None and node.op_type == "Relu" and node.domain in ("", "ai.onnx")
                and list(node.inputs) == [y] and self.aliases.get(y) is o
                and y.dtype == ir.DataType.FLOAT)

    def _residual_in_place(self, values: list[ir.Value]) -> tuple[ir.Value, bool] | None:
        """``(r, relu)`` when the epilogue is ``Add(y, r)`` or ``Sum(y, r)`` (either order), or
        ``Relu`` of it, written over the anchor's output ``y``, with ``r`` a float buffer of
        ``y``'s shape read at the element written (a ResNet shortcut): an anchor may add ``r``
        (then apply the Relu) as it stores its tile and skip the epilogue
        (``epilogue.residual``; ``dnf_gemm_pa``'s and ``dnf_transpose``'s ``res``). None
        otherwise."""
        if len(values) != 1 or self.anchor is None or len(self.anchor.outputs) != 1:
            return None
        o, y = values[0], self.anchor.outputs[0]
        if self.aliases.get(y) is not o or y.dtype != ir.DataType.FLOAT:
            return None
        ctx = self.ctx
        node = ctx.producer.get(o)
        relu = node is not None and node.op_type == "Relu" and node.domain in ("", "ai.onnx")
        if relu:
            a = node.inputs[0]
            if a is None or a in ctx.buffers or a is y:
                return None
            node = ctx.producer.get(a)
        if (node is None or node.op_type not in ("Add", "Sum")
                or node.domain not in ("", "ai.onnx")):
            return None
        ins = list(node.inputs)
        if len(ins) != 2 or ins.count(y) != 1:
            return None
        r = ins[1] if ins[0] is y else ins[0]
        if (r not in ctx.buffers or r.dtype != ir.DataType.FLOAT
                or value_shape(r) != value_shape(y)):
            return None
        return r, relu

    def _stages(self) -> list[tuple[str, list[ir.Value]]]:
        ctx = self.ctx
        computed = [v for v in (*self.outputs, *self.scratch, *self.aliases)
                    if v in ctx.producer]
        computed.sort(key=lambda v: (self.order[ctx.producer[v]], _out_pos(ctx.producer[v], v)))
        stages: list[tuple[str, list[ir.Value]]] = []
        for v in computed:
            node = ctx.producer[v]
            if node is self.anchor:
                if not stages or stages[-1][0] != "anchor":
                    stages.append(("anchor", [v]))
                else:
                    stages[-1][1].append(v)
                continue
            if stages and stages[-1][0] == "expr":
                group = stages[-1][1]
                if value_shape(group[0]) == value_shape(v) and not (
                    self._reach(v) & set(group)
                ):
                    group.append(v)
                    continue
            stages.append(("expr", [v]))
        return stages

    def _reach(self, v: ir.Value) -> set[ir.Value]:
        """Materialized values read when evaluating ``v`` from its producer."""
        ctx = self.ctx
        out: set[ir.Value] = set()
        stack = [u for u in ctx.producer[v].inputs if u is not None]
        seen: set[ir.Value] = set()
        while stack:
            u = stack.pop()
            if u in seen:
                continue
            seen.add(u)
            if u in ctx.buffers or ctx.in_buffer(u):
                out.add(u)
            else:
                stack += [w for w in ctx.producer[u].inputs if w is not None]
        return out

    def _expr_nest(
        self,
        values: list[ir.Value],
        *,
        rows: tuple[str, str] | None = None,
        inner: int | None = None,
        log: list | None = None,
        parallel: bool = True,
    ) -> list[Stmt]:
        """One loop nest writing ``values`` (same shape) element by element."""
        ctx = self.ctx
        shape = value_shape(values[0])

        def body(idx: ix.Index) -> list[Stmt]:
            g = ctx.gen(0)
            for v in values:
                e = g.compute(v, idx)
                g.line(f"{ctx.ptr(v)}[{ix.linear(idx, shape)}] = {e};")
            if log is not None:
                log.append((idx, g.reads))
            return [Raw(g.lines)]

        return row_nest(ctx.names, shape, body, rows=rows, inner=inner, parallel=parallel)

    def _aligned(self, values: list[ir.Value]) -> bool:
        """True when ``values`` have the anchor's output shape and read its output only at
        the element being written (so they can run per row tile): every read of the anchor
        output in one (discarded) loop body has the affine index of the loop itself."""
        y = self.anchor.outputs[0]
        shape = value_shape(y)
        if len(shape) < 1 or any(not _same_rows(value_shape(v), shape) for v in values):
            return False
        log: list = []
        self._expr_nest(values, inner=1, log=log)  # a trial body; its names are discarded
        ((idx, reads),) = log
        extra = len(idx) - len(shape)  # leading 1s of the epilogue's or the anchor's shape
        idx = tuple(idx[extra:]) if extra >= 0 else (ix.ZERO,) * -extra + tuple(idx)
        want = tuple(ix.ZERO if d == 1 else i for i, d in zip(idx, shape, strict=True))
        return all(r == want for v, r in reads if v is y)

    def find_in_place(self) -> dict[ir.Value, ir.Value]:
        """Anchor output ``y`` -> block output ``o`` when ``o`` can take ``y``'s storage: the
        stage right after the anchor is a tiled epilogue computing ``o`` alone (same dtype, same
        rows as ``y``: its shape up to leading 1s, reading ``y`` only at the element it writes,
        see :meth:`_aligned`) and
        nothing else in the block reads ``y``. The anchor then writes its tile into ``o`` and
        the epilogue rewrites the tile in place while it is in cache: no arena tensor for ``y``
        and one buffer less in cache per tile [ours]. Empty when that does not hold."""
        a = self.anchor
        if a is None or not ANCHORS[a.op_type].tiled_epilogue or len(a.outputs) != 1:
            return {}
        y = a.outputs[0]
        if y not in self.scratch:
            return {}
        stages = self._stages()
        k = next(i for i, (kind, _) in enumerate(stages) if kind == "anchor")
        if (stages[k][1] != [y] or k + 1 >= len(stages) or stages[k + 1][0] != "expr"
                or len(stages[k + 1][1]) != 1):
            return {}
        o = stages[k + 1][1][0]
        if (o not in self.outputs or ctype_of(o) != ctype_of(y)
                or not _same_rows(value_shape(o), value_shape(y))
                or any(y in self._reach(v) for _, vs in stages[k + 2:] for v in vs)):
            return {}
        return {y: o} if self._on_trial_buffers(lambda: self._aligned([o])) else {}

    def find_residual_storage(self) -> tuple[ir.Value, ir.Value] | None:
        """``(o, r)`` when the block output ``o`` may be stored over the residual ``r``: the
        anchor writes into ``o`` (:attr:`aliases`) and applies ``Add(y, r)`` (+ Relu) as it
        stores (:meth:`_residual_in_place`) on every path it may take, reading ``r[e]`` just
        before it writes ``o[e]`` and writing no element of ``o`` before that
        (``Anchor.stores_residual_last``); ``r`` is read by nothing else in the block, the
        anchor included. The memory plan then gives ``o`` the storage of ``r`` when ``r``'s
        last reader is this block (:func:`compiler_core.codegen.generate.generate`): one
        tensor less to read into cache, since the tile's lines are already there
        [ours; ONNX Runtime's FusedConv with a Sum input does the same]. None otherwise."""
        if len(self.aliases) != 1 or self.anchor is None:
            return None
        (y, o), = self.aliases.items()
        stores = getattr(ANCHORS[self.anchor.op_type], "stores_residual_last", None)
        if stores is None or not stores(self.ctx, self.anchor):
            return None
        found = self._on_trial_buffers(lambda: self._residual_in_place([o]))
        if found is None:
            return None
        r = found[0]
        readers = [n for n in self.ctx.nodes if r in n.inputs]
        if (r not in self.inputs or r in self.anchor.inputs or len(readers) != 1
                or ctype_of(r) != ctype_of(o) or value_shape(r) != value_shape(o)):
            return None
        return o, r

    def _on_trial_buffers(self, fn):
        """``fn()`` with every input, output and scratch value given a buffer (at address 0),
        as :meth:`emit` will; the context's buffers and checks are restored after."""
        ctx = self.ctx
        saved = dict(ctx.buffers), set(ctx.checks)
        every = [*self.inputs, *self.outputs, *self.scratch]
        _, trial = declare_buffers(Names(), {v: ("0", True) for v in every},
                                   self.inputs, self.outputs, self.scratch)
        ctx.buffers.update(trial)
        try:
            return fn()
        finally:
            ctx.buffers.clear()
            ctx.buffers.update(saved[0])
            ctx.checks.clear()
            ctx.checks.update(saved[1])


def _same_rows(shape: tuple[int, ...], anchor: tuple[int, ...]) -> bool:
    """``shape`` is the anchor output's shape with leading 1s added or removed (a Reshape of a
    GEMM's ``[S, H]`` to ``[1, S, H]``): the same elements in the same rows, so an epilogue of
    that shape runs on the anchor's row tiles."""
    def strip(s: tuple[int, ...]) -> tuple[int, ...]:
        k = 0
        while k < len(s) - 1 and s[k] == 1:
            k += 1
        return tuple(s[k:])
    return strip(shape) == strip(anchor)


def _dedent(lines: list[str]) -> list[str]:
    """An anchor's lines (made at indent 1) relative to the function body."""
    return [ln[4:] if ln.startswith("    ") else ln for ln in lines]


def _out_pos(node: ir.Node, v: ir.Value) -> int:
    return list(node.outputs).index(v)


def analyze_block(ecg: ECG, block_id: int, members: list[int], names: Names,
                  packed_gemm: bool = False) -> BlockKernel:
    """Decide buffers and the anchor of the block made of ``members`` (node indices);
    ``packed_gemm``: GEMM anchors may read constant weights packed at compile time (x86-64
    targets, :mod:`compiler_core.codegen.anchors.gemm_packed`)."""
    nodes = [ecg.nodes[i] for i in members]
    producer: dict[ir.Value, ir.Node] = {}
    anchor: ir.Node | None = None
    for node in nodes:
        check_supported(node, ANCHORS)
        if node.op_type in ANCHORS:
            if anchor is not None:
                raise unsupported(node, f"a second Many-to-Many operator in a block with "
                                        f"{where(anchor)}")
            anchor = node
        elif ecg.info[ecg.index(node)].mapping_type is MappingType.MANY_TO_MANY:
            raise unsupported(node, "no code generator for this operator yet")  # pragma: no cover
        for v in node.outputs:
            producer[v] = node
    used = {v for v in producer if v in ecg.graph_outputs or ecg.value_consumers.get(v)}
    edge = boundary(ecg, members)  # shape/axes tensors and inlined scalars are parameters
    for v in (*edge.inputs, *edge.params):
        ctype_of(v)
    inputs, outputs = list(edge.inputs), list(edge.outputs)
    ctx = KernelContext(names=names, nodes=nodes, producer=producer, packed_gemm=packed_gemm)
    ctx.materialized = set(inputs) | set(outputs)
    if anchor is not None:
        ctx.materialized |= {v for v in anchor.outputs if v in used}
        ctx.materialized |= ANCHORS[anchor.op_type].needs(ctx, anchor)
        derive = getattr(ANCHORS[anchor.op_type], "derived", None)
        if derive is not None:  # compile-time constants the anchor reads (packed weights)
            ctx.derived = derive(ctx, anchor)
            inputs += ctx.derived.values()
            ctx.materialized |= set(ctx.derived.values())
            replaces = getattr(ANCHORS[anchor.op_type], "replaces", None)
            gone = replaces(ctx, anchor) if replaces is not None else set()
            # read only in their derived form, unless another node of the block reads them
            inputs = [v for v in inputs if v not in gone or not ctx.only_reader(anchor, v)]
    # A computed value read through a broadcast (One-to-Many) is evaluated once per output
    # element; when it is costly, give it a buffer so the work is done once per input
    # element [ours].
    for node in nodes:
        if node is anchor or (node.op_type in INDEX_OPS and node.op_type not in REPEATING_OPS):
            continue  # the anchor decides about its own operands (``needs``)
        out_n = max((_numel(o) for o in node.outputs if o in used), default=0)
        for v in node.inputs:
            if (
                v is not None
                and v in producer
                and v not in ctx.materialized
                and producer[v].op_type not in INDEX_OPS
                and _numel(v) < out_n
                and ctx.cost(v) >= RECOMPUTE_LIMIT
            ):
                ctx.materialized.add(v)
    for v in producer:
        ctype_of(v)
    scratch = sorted(
        (v for v in ctx.materialized if v in producer and v not in outputs),
        key=lambda v: (ecg.index(producer[v]), _out_pos(producer[v], v)),
    )
    workspace = getattr(ANCHORS[anchor.op_type], "workspace", None) if anchor else None
    floats = workspace(ctx, anchor) if workspace is not None else 0
    if floats:
        ctx.workspace = workspace_value(f"k{block_id}", floats)
        scratch.append(ctx.workspace)
    kernel = BlockKernel(
        block_id=block_id,
        name=f"k{block_id}",
        node_ids=list(members),
        ctx=ctx,
        anchor=anchor,
        inputs=inputs,
        outputs=outputs,
        scratch=scratch,
        order={n: ecg.index(n) for n in nodes},
    )
    kernel.aliases = kernel.find_in_place()
    kernel.scratch = [v for v in scratch if v not in kernel.aliases]
    kernel.residual_storage = kernel.find_residual_storage()
    return kernel

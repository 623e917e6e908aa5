"""Recognizing scaled dot-product attention in an ECG (issue #13, "beyond the floor").

The chain ``MatMul(Q, K^T) -> (Mul | Div by a one-element constant)? -> (Where(cond, .,
fill))? -> (Add mask){0,2} -> Softmax(last axis) -> MatMul(., V)`` (the Where: GPT-2's
causal mask, a boolean tensor and a one-element fill value) counts as three Many-to-Many
operators, so the mapping-type floor gives it at least three kernels (scores, softmax,
P·V) with the score matrix written to and read from memory twice. :func:`find_attention` returns each such chain
as an :class:`Attention`, which the planner makes one block of kind ``"attention"``
(:mod:`compiler_core.planner.beyond`) and the code generator one kernel
(:mod:`compiler_core.codegen.attention`).

The Reshape/Transpose nodes between the projections and the chain (``[B, S, H*D] -> [B, S,
H, D] -> [B, H, S, D]``, and back after P·V) move no data in the fused kernel: they become
strided *views* (:class:`View`) of the tensor in memory, so the projections write their
plain ``[B, S, H*D]`` result and the kernel reads each head with a row stride of ``H*D``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import onnx_ir as ir

from compiler_core.ir.ecg import ECG, is_constant, value_shape

VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})  # same bytes, new shape


def contiguous(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Row-major element strides of ``shape``."""
    out, s = [], 1
    for d in reversed(shape):
        out.append(s)
        s *= d
    return tuple(reversed(out))


@dataclass(frozen=True)
class View:
    """A tensor of logical shape ``shape`` read from (or written to) ``base``'s memory:
    element ``idx`` is at ``sum(idx[k] * strides[k])`` floats from ``base``'s start.
    ``nodes``: the Reshape/Transpose node indices the view replaces (empty: ``base`` itself,
    contiguous)."""

    base: ir.Value
    shape: tuple[int, ...]
    strides: tuple[int, ...]
    nodes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Attention:
    """One recognized chain. ``q``: ``[..., Sq, D]``, ``k``: K^T as ``[..., D, Sk]``, ``v``:
    ``[..., Sk, Dv]``, ``out``: ``[..., Sq, Dv]`` (views, batch dims equal); ``alpha`` the
    scale applied to the scores; ``select``: a boolean tensor (broadcast to ``[..., Sq, Sk]``)
    keeping a scaled score where true, ``fill`` where false, or None; ``masks`` the tensors
    added next, in order (broadcast likewise; a causal and a padding mask); ``chain`` the
    node indices MatMul, scale, Where, Adds, Softmax, MatMul (the ones present); ``nodes``
    every node index of the block (chain and views)."""

    q: View
    k: View
    v: View
    out: View
    alpha: float
    masks: tuple[ir.Value, ...]
    chain: tuple[int, ...]
    select: ir.Value | None = None
    fill: float = 0.0

    @property
    def nodes(self) -> tuple[int, ...]:
        views = (*self.q.nodes, *self.k.nodes, *self.v.nodes, *self.out.nodes)
        return tuple(sorted({*self.chain, *views}))

    @property
    def floor_blocks(self) -> int:
        """Kernels the mapping-type floor needs for the chain: its Many-to-Many operators."""
        return 3


def _single_use(ecg: ECG, v: ir.Value) -> int | None:
    """The one node reading ``v`` (None when several, none, or ``v`` is a graph output)."""
    users = ecg.value_consumers.get(v, [])
    if len(users) != 1 or v in ecg.graph_outputs:
        return None
    return users[0]


def _producer(ecg: ECG, v: ir.Value) -> int | None:
    node = v.producer()
    if node is None:
        return None
    try:
        return ecg.index(node)
    except KeyError:
        return None


def _perm(node: ir.Node, rank: int) -> list[int]:
    a = node.attributes.get("perm")
    return list(a.value) if a is not None else list(range(rank))[::-1]


def view_of_operand(ecg: ECG, v: ir.Value) -> View:
    """``v`` as a view of the tensor before the Transposes and then reshapes that produce it
    (each read only on the way to ``v``): walking back, Transposes permute the index, the
    first reshape turns the index into memory strides, more reshapes keep them."""
    return _view(ecg, v, forward=False)


def view_of_result(ecg: ECG, v: ir.Value) -> View:
    """``v`` as a view of the tensor the Transposes and then reshapes after it produce (each
    the only reader of the one before): the kernel writes that tensor directly."""
    return _view(ecg, v, forward=True)


def _next(ecg: ECG, cur: ir.Value, forward: bool) -> tuple[int, ir.Value] | None:
    """The node one step along the chain from ``cur`` and the value beyond it: its only reader
    and that reader's output (``forward``), or its producer and the producer's first input
    (read only here); None where the chain ends."""
    if forward:
        c = _single_use(ecg, cur)
        if c is None:
            return None
        node = ecg.nodes[c]
        if node.inputs[0] is not cur or len(node.outputs) != 1:
            return None
        return c, node.outputs[0]
    p = _producer(ecg, cur)
    if p is None or _single_use(ecg, cur) is None:
        return None
    src = ecg.nodes[p].inputs[0]
    if src is None or src.shape is None:
        return None
    return p, src


def _view(ecg: ECG, v: ir.Value, *, forward: bool) -> View:
    shape = value_shape(v)
    dim_map = list(range(len(shape)))  # v's axis -> axis of ``cur`` (index mode)
    strides: list[int] | None = None  # set once a reshape fixed the memory layout
    cur, nodes = v, []
    while (step := _next(ecg, cur, forward)) is not None:
        k, beyond = step
        node = ecg.nodes[k]
        if node.op_type == "Transpose" and strides is None:
            perm = _perm(node, len(shape))
            if forward:  # v's axis d is the output's axis perm^-1[d]
                inv = [0] * len(perm)
                for i, q in enumerate(perm):
                    inv[q] = i
                perm = inv
            dim_map = [perm[d] for d in dim_map]
        elif node.op_type in VIEW_OPS:
            if strides is None:
                cs = contiguous(value_shape(cur))
                strides = [cs[d] for d in dim_map]
        else:
            break
        nodes.append(k)
        cur = beyond
    if strides is None:
        cs = contiguous(value_shape(cur))
        strides = [cs[d] for d in dim_map]
    return View(cur, shape, tuple(strides), tuple(nodes))


def _blas_ok(view: View) -> bool:
    """A BLAS operand: one of the last two axes has stride 1 (or length 1)."""
    r, c = view.shape[-2:]
    sr, sc = view.strides[-2:]
    return sc == 1 or sr == 1 or c == 1 or r == 1


def _plain(v: ir.Value) -> View:
    shape = value_shape(v)
    return View(v, shape, contiguous(shape))


def _scalar(v: ir.Value | None) -> float | None:
    if v is None or not is_constant(v) or v.const_value is None:
        return None
    arr = v.const_value.numpy()
    if arr.size != 1 or arr.dtype.kind != "f":
        return None
    return float(arr.reshape(()))


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    """True when ``shape`` broadcasts to ``to`` (numpy rules) without changing it."""
    return len(shape) <= len(to) and all(
        m in (1, d) for m, d in zip(shape[::-1], to[::-1], strict=False))


def _is_float(v: ir.Value) -> bool:
    return v.dtype == ir.DataType.FLOAT


def _match(ecg: ECG, i: int) -> Attention | None:
    mm1 = ecg.nodes[i]
    if mm1.op_type != "MatMul" or len(mm1.inputs) != 2 or None in mm1.inputs:
        return None
    a, b = mm1.inputs
    s = mm1.outputs[0]
    if not all(_is_float(x) and x.shape is not None for x in (a, b, s)):
        return None
    sa, sb, ss = value_shape(a), value_shape(b), value_shape(s)
    if len(sa) < 3 or len(sa) != len(sb) or sa[:-2] != sb[:-2]:
        return None  # a batched (per-head) product without broadcasting
    chain = [i]
    alpha = 1.0
    cur = s
    nxt = _single_use(ecg, cur)
    if nxt is None:
        return None
    node = ecg.nodes[nxt]
    if node.op_type in ("Mul", "Div") and node.inputs[0] is cur:
        c = _scalar(node.inputs[1])
        if c is None or (node.op_type == "Div" and c == 0.0):
            return None
        alpha = c if node.op_type == "Mul" else 1.0 / c
        chain.append(nxt)
    elif node.op_type == "Mul" and node.inputs[1] is cur and _scalar(node.inputs[0]) is not None:
        alpha = _scalar(node.inputs[0])
        chain.append(nxt)
    if len(chain) == 2:
        cur = node.outputs[0]
        nxt = _single_use(ecg, cur)
        if nxt is None:
            return None
        node = ecg.nodes[nxt]
    select, fill = None, 0.0
    if node.op_type == "Where" and node.inputs[1] is cur and node.inputs[0] is not None:
        cond, f = node.inputs[0], _scalar(node.inputs[2])
        if (f is None or cond.dtype != ir.DataType.BOOL or cond.shape is None
                or not _broadcasts(value_shape(cond), ss)
                or value_shape(node.outputs[0]) != ss):
            return None
        select, fill = cond, f
        chain.append(nxt)
        cur = node.outputs[0]
        nxt = _single_use(ecg, cur)
        if nxt is None:
            return None
        node = ecg.nodes[nxt]
    masks: list[ir.Value] = []
    while node.op_type == "Add" and len(masks) < 2:
        other = node.inputs[1] if node.inputs[0] is cur else node.inputs[0]
        if other is None or other is cur or not _is_float(other) or other.shape is None:
            return None
        if not _broadcasts(value_shape(other), ss) or value_shape(node.outputs[0]) != ss:
            return None
        masks.append(other)
        chain.append(nxt)
        cur = node.outputs[0]
        nxt = _single_use(ecg, cur)
        if nxt is None:
            return None
        node = ecg.nodes[nxt]
    if node.op_type != "Softmax":
        return None
    axis = node.attributes.get("axis")
    ax = -1 if axis is None else int(axis.value)
    if ax not in (-1, len(ss) - 1):
        return None
    chain.append(nxt)
    p = node.outputs[0]
    nxt = _single_use(ecg, p)
    if nxt is None:
        return None
    mm2 = ecg.nodes[nxt]
    if mm2.op_type != "MatMul" or mm2.inputs[0] is not p or mm2.inputs[1] is None:
        return None
    vv, o = mm2.inputs[1], mm2.outputs[0]
    if not (_is_float(vv) and vv.shape is not None and o.shape is not None):
        return None
    sv = value_shape(vv)
    if len(sv) != len(ss) or sv[:-2] != ss[:-2] or sv[-2] != ss[-1]:
        return None
    chain.append(nxt)
    views = []
    for x, make in ((a, view_of_operand), (b, view_of_operand), (vv, view_of_operand),
                    (o, view_of_result)):
        view = make(ecg, x)
        views.append(view if _blas_ok(view) else _plain(x))
    q, k, v, out = views
    if out.strides[-1] != 1:  # sgemm writes rows with unit stride
        out = _plain(o)
    return Attention(q, k, v, out, alpha, tuple(masks), tuple(chain), select, fill)


def find_attention(ecg: ECG) -> list[Attention]:
    """Every attention chain of ``ecg`` (node order of its first MatMul), chains that share
    no node."""
    found: list[Attention] = []
    taken: set[int] = set()
    for i in range(len(ecg.nodes)):
        m = _match(ecg, i)
        if m is None or taken & set(m.nodes):
            continue
        found.append(m)
        taken |= set(m.nodes)
    return found


def attention_flops(att: Attention) -> int:
    """Multiply-adds of both products."""
    *batch, sq, d = att.q.shape
    sk, dv = att.v.shape[-2:]
    return math.prod(batch) * sq * sk * (d + dv)

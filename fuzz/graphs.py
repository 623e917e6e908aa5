"""Random small graphs of the operators the compiler supports, built with ``onnx.helper``.

:func:`random_subgraph` draws one connected graph of 1..``max_ops`` operators (elementwise with
broadcasting, comparisons and logic, shape and index operators, and the Many-to-Many anchors:
MatMul, Gemm, reductions, Softmax, LayerNormalization, pooling, Conv) over float32, int32,
int64 and bool where the operator allows. Every name is prefixed, so many sub-graphs can be
packed into one model (:func:`pack`). Inputs carry a value range (``normal``, ``positive``,
``small``, ``int``) so that Log, Sqrt, Div, Pow and friends are compared where the reference
is well conditioned; integer divisors never hold 0 (integer division by zero is undefined).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from fuzz.choose import Chooser

OPSET = 20
F, I32, I64, B = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL
NP = {F: np.float32, I32: np.int32, I64: np.int64, B: np.bool_}
INTS = (I32, I64)


@dataclass
class Tensor:
    name: str
    dtype: int
    shape: tuple[int, ...]


@dataclass
class SubGraph:
    """One random graph: its nodes, inputs (with value ranges), initializers and outputs."""

    prefix: str
    nodes: list = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)
    ranges: dict[str, str] = field(default_factory=dict)
    inits: list = field(default_factory=list)
    outputs: list[Tensor] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)

    def describe(self) -> str:
        ins = ", ".join(f"{t.name}:{TensorProto.DataType.Name(t.dtype)}{list(t.shape)}"
                        for t in self.inputs)
        return f"{' -> '.join(self.ops)} ({ins})"


class _Builder:
    def __init__(self, ch: Chooser, prefix: str) -> None:
        self.ch = ch
        self.g = SubGraph(prefix)
        self.pool: list[Tensor] = []
        self.n = 0

    def name(self, base: str) -> str:
        self.n += 1
        return f"{self.g.prefix}{base}{self.n}"

    def shape(self, rank: int | None = None) -> tuple[int, ...]:
        rank = self.ch.int(0, 4) if rank is None else rank
        return tuple(self.ch.int(1, 5) for _ in range(rank))

    def fresh(self, dtype: int, shape: tuple[int, ...], rng: str = "normal") -> Tensor:
        t = Tensor(self.name("in"), dtype, shape)
        self.g.inputs.append(t)
        self.g.ranges[t.name] = "int" if dtype in INTS and rng == "normal" else rng
        return t

    def const(self, array: np.ndarray) -> str:
        name = self.name("c")
        self.g.inits.append(numpy_helper.from_array(array, name))
        return name

    def pick(self, dtypes: tuple[int, ...], min_rank: int = 0) -> Tensor:
        """A tensor of one of ``dtypes`` from the pool (usually the newest), or a new input."""
        found = [t for t in self.pool if t.dtype in dtypes and len(t.shape) >= min_rank]
        if found and self.ch.int(0, 3) > 0:
            return found[-1] if self.ch.bool() else self.ch.choice(found)
        rank = self.ch.int(min_rank, max(min_rank, 4))
        return self.fresh(self.ch.choice(dtypes), self.shape(rank))

    def node(self, op: str, inputs: list[str], dtype: int, shape, **attrs) -> Tensor:
        out = Tensor(self.name(op.lower()), dtype, tuple(shape))
        self.g.nodes.append(helper.make_node(op, inputs, [out.name], **attrs))
        self.g.ops.append(op)
        self.pool.append(out)
        return out

    def broadcast_partner(self, a: Tensor, dtype: int, rng: str = "normal") -> tuple[Tensor, tuple]:
        """A second operand broadcasting against ``a``; returns it and the result shape."""
        k = self.ch.int(0, 3)
        if k == 0:
            same = [t for t in self.pool if t.dtype == dtype and t.shape == a.shape and t is not a]
            if same and rng == "normal":
                return self.ch.choice(same), a.shape
        if k == 1:  # the other operand has the bigger rank
            extra = self.shape(self.ch.int(0, max(0, 4 - len(a.shape))))
            shape = extra + tuple(d if self.ch.int(0, 3) else 1 for d in a.shape)
            b = self.fresh(dtype, shape, rng)
            return b, tuple(np.broadcast_shapes(a.shape, shape))
        drop = self.ch.int(0, len(a.shape))
        shape = tuple(1 if self.ch.int(0, 2) == 0 else d for d in a.shape[drop:])
        b = self.fresh(dtype, shape, rng)
        return b, tuple(np.broadcast_shapes(a.shape, shape))


UNARY_FLOAT = ("Abs", "Neg", "Relu", "Sigmoid", "Tanh", "Exp", "Floor", "Ceil", "Round", "Sin",
               "Cos", "Atan", "Erf", "Sign", "Softplus", "Softsign", "HardSwish", "Identity",
               "Gelu")
UNARY_POSITIVE = ("Log", "Sqrt", "Reciprocal")
UNARY_INT = ("Abs", "Neg", "Relu", "Sign", "Identity")
BINARY = ("Add", "Sub", "Mul", "Max", "Min")
COMPARE = ("Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual")


def _unary(b: _Builder) -> Tensor:
    ch = b.ch
    k = ch.int(0, 5)
    if k == 0:
        t = b.fresh(F, b.shape(), "positive")
        return b.node(ch.choice(UNARY_POSITIVE), [t.name], F, t.shape)
    if k == 1:
        t = b.pick(INTS)
        return b.node(ch.choice(UNARY_INT), [t.name], t.dtype, t.shape)
    if k == 2:
        t = b.pick((F,))
        op = ch.choice(("Elu", "LeakyRelu", "HardSigmoid"))
        attrs = {"alpha": ch.choice((0.1, 0.2, 1.0, 1.5))}
        if op == "HardSigmoid":
            attrs["beta"] = ch.choice((0.5, 0.3))
        return b.node(op, [t.name], F, t.shape, **attrs)
    if k == 3:
        t = b.fresh(F, b.shape(), "small")
        return b.node("Tan", [t.name], F, t.shape)
    t = b.pick((F,))
    return b.node(ch.choice(UNARY_FLOAT), [t.name], F, t.shape)


def _binary(b: _Builder) -> Tensor:
    ch = b.ch
    k = ch.int(0, 7)
    if k == 0:  # float division by a well-conditioned divisor
        a = b.pick((F,))
        d, shape = b.broadcast_partner(a, F, "positive")
        return b.node("Div", [a.name, d.name], F, shape)
    if k == 1:  # integer division: divisor never 0
        a = b.pick(INTS)
        d, shape = b.broadcast_partner(a, a.dtype, "nonzero")
        return b.node("Div", [a.name, d.name], a.dtype, shape)
    if k == 2:
        a = b.fresh(F, b.shape(), "positive")
        e, shape = b.broadcast_partner(a, F, "small")
        return b.node("Pow", [a.name, e.name], F, shape)
    if k == 3:
        a = b.pick((F, *INTS))
        o, shape = b.broadcast_partner(a, a.dtype)
        return b.node(ch.choice(COMPARE), [a.name, o.name], B, shape)
    if k == 4:
        a = b.pick((B,))
        o, shape = b.broadcast_partner(a, B)
        if ch.int(0, 3) == 0:
            return b.node("Not", [a.name], B, a.shape)
        return b.node(ch.choice(("And", "Or", "Xor")), [a.name, o.name], B, shape)
    if k == 5:  # Where(cond, x, y)
        x = b.pick((F, *INTS))
        c, shape = b.broadcast_partner(x, B)
        y, out = b.broadcast_partner(Tensor("", x.dtype, tuple(shape)), x.dtype)
        return b.node("Where", [c.name, x.name, y.name], x.dtype, out)
    if k == 6:  # variadic
        a = b.pick((F,))
        o, shape = b.broadcast_partner(a, F)
        return b.node(ch.choice(("Sum", "Mean", "Max", "Min")), [a.name, o.name, a.name], F, shape)
    a = b.pick((F, *INTS))
    o, shape = b.broadcast_partner(a, a.dtype)
    op = ch.choice(BINARY)
    if op in ("Max", "Min") and a.dtype == I32 and ch.bool():
        op = "Add"
    return b.node(op, [a.name, o.name], a.dtype, shape)


def _shape_op(b: _Builder) -> Tensor:
    ch = b.ch
    k = ch.int(0, 11)
    t = b.pick((F, *INTS, B), min_rank=1)
    r = len(t.shape)
    if k == 0:
        perm = list(range(r))
        for i in range(r - 1, 0, -1):
            j = ch.int(0, i)
            perm[i], perm[j] = perm[j], perm[i]
        return b.node("Transpose", [t.name], t.dtype, [t.shape[p] for p in perm], perm=perm)
    if k == 1:
        n = int(np.prod(t.shape))
        dims = [d for d in range(1, n + 1) if n % d == 0]
        first = ch.choice(dims)
        target = [first, n // first]
        spec = list(target)
        if ch.bool():
            spec[ch.int(0, 1)] = -1
        return b.node("Reshape", [t.name, b.const(np.array(spec, np.int64))], t.dtype, target)
    if k == 2:
        axis = ch.int(-r, r)
        a = axis + r if axis < 0 else axis
        shape = (int(np.prod(t.shape[:a])), int(np.prod(t.shape[a:])))
        return b.node("Flatten", [t.name], t.dtype, shape, axis=axis)
    if k == 3 and r < 4:
        axis = ch.int(-(r + 1), r)
        a = axis % (r + 1)
        shape = t.shape[:a] + (1,) + t.shape[a:]
        return b.node("Unsqueeze", [t.name, b.const(np.array([axis], np.int64))], t.dtype, shape)
    if k == 4:
        ones = [i for i, d in enumerate(t.shape) if d == 1]
        if ones:
            i = ch.choice(ones)
            return b.node("Squeeze", [t.name, b.const(np.array([i - r if ch.bool() else i],
                                                                np.int64))],
                          t.dtype, t.shape[:i] + t.shape[i + 1:])
    if k == 5:
        axis = ch.int(0, r - 1)
        shape2 = tuple(ch.int(1, 4) if i == axis else d for i, d in enumerate(t.shape))
        o = b.fresh(t.dtype, shape2)
        out = tuple(d + shape2[i] if i == axis else d for i, d in enumerate(t.shape))
        ins = [t.name, o.name] if ch.bool() else [o.name, t.name]
        return b.node("Concat", ins, t.dtype, out, axis=axis - r if ch.bool() else axis)
    if k == 6:
        axis = ch.int(0, r - 1)
        d = t.shape[axis]
        step = ch.choice((1, 1, 2, -1, -2))
        if step > 0:
            start, end = ch.int(-d, d - 1), ch.choice((d, 2**62, -1, ch.int(0, d)))
        else:
            start, end = ch.choice((d - 1, -1, 2**62)), ch.choice((-2**62, 0, -d - 1))
        out = len(range(*slice(start, end, step).indices(d)))
        if out == 0:
            start, end, step, out = 0, d, 1, d
        shape = t.shape[:axis] + (out,) + t.shape[axis + 1:]
        ins = [t.name, b.const(np.array([start], np.int64)), b.const(np.array([end], np.int64)),
               b.const(np.array([axis], np.int64)), b.const(np.array([step], np.int64))]
        return b.node("Slice", ins, t.dtype, shape)
    if k == 7:
        axis = ch.int(0, r - 1)
        d = t.shape[axis]
        idx_shape = b.shape(ch.int(0, 2))
        idx = np.array([ch.int(-d, d - 1) for _ in range(int(np.prod(idx_shape)))],
                       np.int64).reshape(idx_shape)
        shape = t.shape[:axis] + idx_shape + t.shape[axis + 1:]
        return b.node("Gather", [t.name, b.const(idx)], t.dtype, shape, axis=axis)
    if k == 8:
        target = tuple(ch.int(2, 3) if d == 1 and ch.bool() else d for d in t.shape)
        if ch.bool():
            target = (ch.int(1, 3),) + target
        return b.node("Expand", [t.name, b.const(np.array(target, np.int64))], t.dtype, target)
    if k == 9 and t.dtype != B:
        mode = ch.choice(("constant", "reflect", "edge"))
        pads = [ch.int(0, 2 if mode != "reflect" else max(0, min(2, t.shape[i % r] - 1)))
                for i in range(2 * r)]
        shape = tuple(d + pads[i] + pads[i + r] for i, d in enumerate(t.shape))
        return b.node("Pad", [t.name, b.const(np.array(pads, np.int64))], t.dtype, shape,
                      mode=mode)
    if k == 10:
        to = ch.choice((F, I32, I64, B))
        return b.node("Cast", [t.name], to, t.shape, to=to)
    if k == 11 and t.dtype == F:
        lo, hi = sorted((ch.choice((-1.0, -0.5, 0.0)), ch.choice((0.5, 1.0, 6.0))))
        return b.node("Clip", [t.name, b.const(np.array(lo, np.float32)),
                               b.const(np.array(hi, np.float32))], F, t.shape)
    return b.node("Identity", [t.name], t.dtype, t.shape)


def _anchor(b: _Builder) -> Tensor:
    ch = b.ch
    k = ch.int(0, 8)
    if k == 0:
        a = b.pick((F,), min_rank=1)
        kk = a.shape[-1]
        n = ch.int(1, 6)
        if len(a.shape) == 1:
            w = b.fresh(F, (kk, n))
            return b.node("MatMul", [a.name, w.name], F, (n,))
        bshape = (kk, n) if ch.bool() else a.shape[:-2] + (kk, n)
        w = b.fresh(F, bshape)
        out = tuple(np.broadcast_shapes(a.shape[:-2], bshape[:-2])) + (a.shape[-2], n)
        return b.node("MatMul", [a.name, w.name], F, out)
    if k == 1:
        m, kk, n = ch.int(1, 6), ch.int(1, 6), ch.int(1, 6)
        ta, tb = ch.int(0, 1), ch.int(0, 1)
        a = b.fresh(F, (kk, m) if ta else (m, kk))
        w = b.fresh(F, (n, kk) if tb else (kk, n))
        ins = [a.name, w.name]
        if ch.bool():
            ins.append(b.fresh(F, ch.choice(((n,), (m, n), (1, n), (m, 1)))).name)
        return b.node("Gemm", ins, F, (m, n), transA=ta, transB=tb,
                      alpha=ch.choice((1.0, 0.5)), beta=ch.choice((1.0, 2.0)))
    if k == 2:
        t = b.pick((F,), min_rank=1)
        r = len(t.shape)
        op = ch.choice(("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSumSquare"))
        axes = sorted({ch.int(0, r - 1) for _ in range(ch.int(1, r))})
        keep = ch.int(0, 1)
        shape = tuple(1 if i in axes else d for i, d in enumerate(t.shape)) if keep else \
            tuple(d for i, d in enumerate(t.shape) if i not in axes)
        spec = [a - r if ch.bool() else a for a in axes]
        return b.node(op, [t.name, b.const(np.array(spec, np.int64))], F, shape, keepdims=keep)
    if k == 3:
        t = b.pick((F,), min_rank=1)
        r = len(t.shape)
        return b.node(ch.choice(("Softmax", "LogSoftmax")), [t.name], F, t.shape,
                      axis=ch.int(-r, r - 1))
    if k == 4:
        t = b.pick((F,), min_rank=1)
        r = len(t.shape)
        axis = ch.int(-r, r - 1)
        norm = t.shape[axis:] if axis >= 0 else t.shape[axis:]
        scale = b.fresh(F, norm)
        ins = [t.name, scale.name] + ([b.fresh(F, norm).name] if ch.bool() else [])
        return b.node("LayerNormalization", ins, F, t.shape, axis=axis,
                      epsilon=ch.choice((1e-5, 1e-3)))
    # 4-D operators on NCHW
    n, c, h, w = ch.int(1, 2), ch.int(1, 4), ch.int(1, 7), ch.int(1, 7)
    x = b.fresh(F, (n, c, h, w))
    if k == 5:
        kh, kw = ch.int(1, min(3, h)), ch.int(1, min(3, w))
        sh, sw = ch.int(1, 2), ch.int(1, 2)
        op = ch.choice(("MaxPool", "AveragePool"))
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
        return b.node(op, [x.name], F, (n, c, oh, ow), kernel_shape=[kh, kw], strides=[sh, sw])
    if k == 6:
        op = ch.choice(("GlobalAveragePool", "GlobalMaxPool"))
        return b.node(op, [x.name], F, (n, c, 1, 1))
    if k == 7:
        group = c if ch.bool() else 1
        m = c * ch.int(1, 2) if group == c else ch.int(1, 4)
        kh, kw = ch.int(1, min(3, h)), ch.int(1, min(3, w))
        p = ch.int(0, 1)
        s = ch.int(1, 2)
        wt = b.fresh(F, (m, c // group, kh, kw))
        ins = [x.name, wt.name] + ([b.fresh(F, (m,)).name] if ch.bool() else [])
        oh, ow = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        return b.node("Conv", ins, F, (n, m, oh, ow), group=group, kernel_shape=[kh, kw],
                      pads=[p, p, p, p], strides=[s, s])
    scale, bias, mean = (b.fresh(F, (c,)) for _ in range(3))
    var = b.fresh(F, (c,), "positive")
    return b.node("BatchNormalization", [x.name, scale.name, bias.name, mean.name, var.name], F,
                  x.shape, epsilon=1e-5)


STEPS = (_unary, _binary, _shape_op, _anchor)


def random_subgraph(ch: Chooser, prefix: str, max_ops: int = 4) -> SubGraph:
    b = _Builder(ch, prefix)
    for _ in range(ch.int(1, max_ops)):
        ch.choice(STEPS)(b)
    consumed = {i for node in b.g.nodes for i in node.input}
    outs = [t for t in b.pool if t.name not in consumed] or b.pool[-1:]
    b.g.outputs = outs
    used = {i for node in b.g.nodes for i in node.input}
    b.g.inputs = [t for t in b.g.inputs if t.name in used]
    return b.g


def pack(subgraphs: list[SubGraph], name: str = "fuzz") -> onnx.ModelProto:
    """One model holding every sub-graph side by side (disjoint inputs and outputs)."""
    nodes, inputs, inits, outputs = [], [], [], []
    for g in subgraphs:
        nodes += g.nodes
        inputs += [helper.make_tensor_value_info(t.name, t.dtype, t.shape) for t in g.inputs]
        inits += g.inits
        outputs += [helper.make_tensor_value_info(t.name, t.dtype, t.shape) for t in g.outputs]
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=10)


def feeds(subgraphs: list[SubGraph], seed: int) -> dict[str, np.ndarray]:
    """Random inputs honouring each input's value range."""
    rng = np.random.default_rng(seed)
    out = {}
    for g in subgraphs:
        for t in g.inputs:
            kind = g.ranges[t.name]
            dt = NP[t.dtype]
            if t.dtype == B:
                v = rng.integers(0, 2, t.shape).astype(bool)
            elif t.dtype in INTS:
                v = rng.integers(-4, 5, t.shape).astype(dt)
                if kind == "nonzero":
                    v[v == 0] = 3
            elif kind == "positive":
                v = rng.uniform(0.5, 2.0, t.shape).astype(dt)
            elif kind == "small":
                v = rng.uniform(-1.0, 1.0, t.shape).astype(dt)
            else:
                v = rng.standard_normal(t.shape).astype(dt)
            out[t.name] = np.asarray(v, dtype=dt)
    return out

"""A deterministic synthetic graph of ~10,000 nodes with static shapes, to time the planner.

The graph repeats a *unit* of realistic cells on small tensors, so it builds in well under a
second and runs in ONNX Runtime:

- a conv cell (ResNet/ShuffleNet-like): Conv-BatchNormalization-Relu, a 3x3 group conv on a
  channel split, Concat, channel shuffle (Reshape-Transpose-Reshape), a depthwise conv with
  HardSigmoid-gated SE-style scaling (GlobalAveragePool, Conv, HardSigmoid, Mul), a residual Add;
- a bridge to tokens (Reshape + Transpose: [1,C,H,W] -> [1,HW,C]);
- a transformer cell (BERT-like, LayerNorm decomposed as older exporters wrote it):
  Q/K/V MatMul+Add, Reshape/Transpose to heads, MatMul, Mul(scale), Add(mask), Softmax,
  MatMul, Transpose/Reshape back, output projection, residual Add, LayerNorm
  (ReduceMean/Sub/Mul/ReduceMean/Add/Sqrt/Div/Mul/Add), FFN with erf-GELU, residual, LayerNorm;
- a bridge back to images.

Units repeat until the graph is `num_nodes` nodes long; the tail is padded with element-wise
nodes so the count is exact. Every mapping type occurs (One-to-One, One-to-Many broadcasts,
Many-to-Many, Reorganize, Shuffle).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from bench.modelutil import ORT_IR_VERSION

OPSET = 17
C, H, W = 16, 4, 4  # image cell: 1 x C x H x W
S, D, HEADS = H * W, C, 2  # token cell: 1 x S x D, HEADS heads of D // HEADS
FFN = 2 * D


class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def _name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, value: np.ndarray, prefix: str = "w") -> str:
        name = self._name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def weight(self, *shape: int, scale: float | None = None) -> str:
        fan_in = int(np.prod(shape[1:])) if len(shape) > 2 else shape[0]
        std = scale if scale is not None else float(np.sqrt(1.0 / max(fan_in, 1)))
        return self.const((self.rng.standard_normal(shape) * std).astype(np.float32))

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attrs) -> str | list[str]:
        names = [self._name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names


def _conv_bn_relu(b: _Builder, x: str, cin: int, cout: int, k: int, group: int = 1) -> str:
    w = b.weight(cout, cin // group, k, k, scale=float(np.sqrt(2.0 / (cin // group * k * k))))
    y = b.op("Conv", x, w, kernel_shape=[k, k], pads=[k // 2] * 4, group=group)
    scale = b.const((1 + 0.1 * b.rng.standard_normal(cout)).astype(np.float32))
    bias = b.const((0.1 * b.rng.standard_normal(cout)).astype(np.float32))
    mean = b.const((0.1 * b.rng.standard_normal(cout)).astype(np.float32))
    var = b.const(b.rng.uniform(0.5, 1.5, cout).astype(np.float32))
    y = b.op("BatchNormalization", y, scale, bias, mean, var)
    return b.op("Relu", y)


def conv_cell(b: _Builder, x: str) -> str:
    """1xCxHxW -> 1xCxHxW; 24 nodes."""
    y = _conv_bn_relu(b, x, C, C, 1)  # 3
    halves = b.op("Split", y, b.const(np.array([C // 2, C // 2], np.int64)), outputs=2, axis=1)
    left = _conv_bn_relu(b, halves[0], C // 2, C // 2, 3, group=2)  # 3
    right = b.op("Sigmoid", halves[1])
    right = b.op("Mul", halves[1], right)  # SiLU
    y = b.op("Concat", left, right, axis=1)
    y = b.op("Reshape", y, b.const(np.array([1, 2, C // 2, H, W], np.int64)))  # channel shuffle
    y = b.op("Transpose", y, perm=[0, 2, 1, 3, 4])
    y = b.op("Reshape", y, b.const(np.array([1, C, H, W], np.int64)))
    dw = b.weight(C, 1, 3, 3, scale=float(np.sqrt(2.0 / 9)))
    y = b.op("Conv", y, dw, b.weight(C, scale=0.05), kernel_shape=[3, 3], pads=[1] * 4, group=C)
    se = b.op("GlobalAveragePool", y)
    se = b.op("Conv", se, b.weight(C, C, 1, 1), b.weight(C, scale=0.05), kernel_shape=[1, 1])
    se = b.op("HardSigmoid", se, alpha=1.0 / 6, beta=0.5)
    y = b.op("Mul", y, se)  # broadcast over H, W
    y = b.op("Add", y, x)  # residual
    return b.op("Relu", y)


def _layer_norm(b: _Builder, x: str) -> str:
    """Decomposed LayerNorm over the last axis; 9 nodes."""
    mean = b.op("ReduceMean", x, axes=[-1])
    xc = b.op("Sub", x, mean)
    var = b.op("ReduceMean", b.op("Mul", xc, xc), axes=[-1])
    std = b.op("Sqrt", b.op("Add", var, b.const(np.array(1e-5, np.float32))))
    y = b.op("Div", xc, std)
    gamma = b.const((1 + 0.1 * b.rng.standard_normal(D)).astype(np.float32))
    y = b.op("Mul", y, gamma)
    return b.op("Add", y, b.const((0.1 * b.rng.standard_normal(D)).astype(np.float32)))


def _linear(b: _Builder, x: str, din: int, dout: int) -> str:
    y = b.op("MatMul", x, b.weight(din, dout))
    return b.op("Add", y, b.weight(dout, scale=0.05))


def transformer_cell(b: _Builder, x: str, mask: str, head_shape: str, flat_shape: str) -> str:
    """1xSxD -> 1xSxD; 56 nodes."""
    dh = D // HEADS
    q = b.op("Transpose", b.op("Reshape", _linear(b, x, D, D), head_shape), perm=[0, 2, 1, 3])
    k = b.op("Transpose", b.op("Reshape", _linear(b, x, D, D), head_shape), perm=[0, 2, 3, 1])
    v = b.op("Transpose", b.op("Reshape", _linear(b, x, D, D), head_shape), perm=[0, 2, 1, 3])
    s = b.op("MatMul", q, k)
    s = b.op("Mul", s, b.const(np.array(1.0 / np.sqrt(dh), np.float32)))
    s = b.op("Add", s, mask)
    p = b.op("Softmax", s, axis=-1)
    o = b.op("MatMul", p, v)
    o = b.op("Reshape", b.op("Transpose", o, perm=[0, 2, 1, 3]), flat_shape)
    o = _linear(b, o, D, D)
    x = _layer_norm(b, b.op("Add", x, o))
    h = _linear(b, x, D, FFN)
    g = b.op("Erf", b.op("Div", h, b.const(np.array(np.sqrt(2.0), np.float32))))
    g = b.op(
        "Mul",
        b.op("Mul", h, b.op("Add", g, b.const(np.array(1.0, np.float32)))),
        b.const(np.array(0.5, np.float32)),
    )  # GELU(h) = h * (1 + erf(h/sqrt2)) / 2
    h = _linear(b, g, FFN, D)
    return _layer_norm(b, b.op("Add", x, h))


def synthetic_graph(num_nodes: int = 10000, seed: int = 0) -> onnx.ModelProto:
    """A valid, static-shape ONNX model of exactly `num_nodes` nodes (for num_nodes >= 100)."""
    if num_nodes < 100:
        raise ValueError("num_nodes must be at least 100")
    b = _Builder(seed)
    # Shared constants, as real models share one attention mask across layers.
    mask = np.zeros((1, 1, S, S), np.float32)
    mask[..., S - 2 :] = -10000.0  # two padded key positions
    mask_name = b.const(mask, "attention_mask")
    head_shape = b.const(np.array([1, S, HEADS, D // HEADS], np.int64), "head_shape")
    flat_shape = b.const(np.array([1, S, D], np.int64), "token_shape")
    seq_shape = b.const(np.array([1, C, S], np.int64), "seq_shape")
    img_shape = b.const(np.array([1, C, H, W], np.int64), "img_shape")

    x = "x"
    tail = 4  # a classifier head: GlobalAveragePool, Flatten, MatMul, Softmax
    while True:
        start = len(b.nodes)
        y = conv_cell(b, x)
        t = b.op("Transpose", b.op("Reshape", y, seq_shape), perm=[0, 2, 1])
        t = transformer_cell(b, t, mask_name, head_shape, flat_shape)
        y2 = b.op("Reshape", b.op("Transpose", t, perm=[0, 2, 1]), img_shape)
        unit = len(b.nodes) - start
        x = y2
        if len(b.nodes) + unit + tail > num_nodes:
            break
    # Pad with element-wise nodes (alternating broadcast Mul and Relu) to hit the count exactly.
    pad_scale = b.const(np.full((1, C, 1, 1), 0.9, np.float32), "pad_scale")
    while len(b.nodes) + tail < num_nodes:
        x = b.op("Relu", x) if len(b.nodes) % 2 else b.op("Mul", x, pad_scale)
    y = b.op("Flatten", b.op("GlobalAveragePool", x), axis=1)
    y = b.op("MatMul", y, b.weight(C, 10))
    b.nodes.append(helper.make_node("Softmax", [y], ["y"], axis=-1))

    graph = helper.make_graph(
        b.nodes,
        f"synthetic_{num_nodes}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, H, W])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        initializer=b.inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="bench.synthetic",
        ir_version=ORT_IR_VERSION,
    )
    return model


INPUT_SHAPES = {"x": (1, C, H, W)}


def random_inputs(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal(INPUT_SHAPES["x"]).astype(np.float32)}

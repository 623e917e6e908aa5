"""Helpers for rewrite tests: build a small ONNX graph, rewrite it, compare with ORT."""

from __future__ import annotations

import numpy as np
import onnx
import onnx_ir as ir
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from compiler_core.passes import RewriteReport, rewrite_model

OPSET = 21
_DTYPES = {
    np.float32: TensorProto.FLOAT,
    np.uint32: TensorProto.UINT32,
    np.uint64: TensorProto.UINT64,
    np.int64: TensorProto.INT64,
}


def node(op: str, inputs: list[str], outputs: list[str] | str, **attrs) -> onnx.NodeProto:
    outs = [outputs] if isinstance(outputs, str) else outputs
    return helper.make_node(op, inputs, outs, name=f"{op}_{outs[0]}", **attrs)


def model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, tuple[tuple[int, ...], type]],
    outputs: list[str],
    consts: dict[str, np.ndarray] | None = None,
    opset: int = OPSET,
) -> onnx.ModelProto:
    """A shape-inferred model; ``inputs``: name -> (shape, numpy dtype)."""
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(n, _DTYPES[dt], list(s)) for n, (s, dt) in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in outputs],
        [numpy_helper.from_array(np.asarray(a), name=n) for n, a in (consts or {}).items()],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return onnx.shape_inference.infer_shapes(proto, strict_mode=True)


def to_ir(proto: onnx.ModelProto) -> ir.Model:
    return ir.serde.deserialize_model(proto)


def run(proto: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    proto = onnx.ModelProto.FromString(proto.SerializeToString())
    proto.ir_version = 10  # onnxruntime 1.31 reads IR <= 13
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})


def run_reference(proto: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """onnx's reference evaluator, for types onnxruntime has no kernel for (ReduceSum uint)."""
    names = [i.name for i in proto.graph.input]
    return list(ReferenceEvaluator(proto).run(None, {n: feeds[n] for n in names}))


def ops(m: ir.Model) -> list[str]:
    return [n.op_type for n in m.graph]


def find(m: ir.Model, op: str) -> list[ir.Node]:
    return [n for n in m.graph if n.op_type == op]


def rewrite_and_check(
    proto: onnx.ModelProto,
    feeds: dict[str, np.ndarray],
    *,
    fast_math: bool = False,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    runner=run,
) -> tuple[ir.Model, RewriteReport]:
    """Rewrite; assert the result is valid, statically shaped, and numerically the same."""
    expected = runner(proto, feeds)
    m = to_ir(proto)
    report = rewrite_model(m, fast_math=fast_math)
    out = ir.serde.serialize_model(m)
    onnx.checker.check_model(out, full_check=True)
    names = [n.name for n in m.graph]
    assert len(names) == len(set(names)), "node names are not unique"
    for n in m.graph:
        for v in n.outputs:
            assert v.shape is not None and all(isinstance(d, int) for d in v.shape), v
            assert v.dtype is not None, v
        assert any(v.uses() or v.is_graph_output() for v in n.outputs), f"dangling {n.name}"
    got = runner(out, feeds)
    assert [o.name for o in m.graph.outputs] == [o.name for o in proto.graph.output]
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
    return m, report


def rand(*shape: int, lo: float = -2.0, hi: float = 2.0, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + len(shape)).uniform(lo, hi, shape).astype(np.float32)

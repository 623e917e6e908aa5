import collections

import numpy as np
import onnx
import onnxruntime as ort

from bench.synthetic import random_inputs, synthetic_graph


def test_synthetic_10000_nodes_is_valid_and_static():
    model = synthetic_graph()
    onnx.checker.check_model(model, full_check=True)
    assert abs(len(model.graph.node) - 10000) <= 200
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        assert all(d.HasField("dim_value") for d in dims), vi.name


def test_synthetic_is_deterministic_and_varied():
    a, b = synthetic_graph(2000, seed=3), synthetic_graph(2000, seed=3)
    assert a.SerializeToString() == b.SerializeToString()
    assert len(a.graph.node) == 2000
    ops = collections.Counter(n.op_type for n in a.graph.node)
    for op in ("Conv", "MatMul", "Softmax", "Reshape", "Transpose", "Add", "Relu", "Mul"):
        assert ops[op] > 0, op


def test_synthetic_runs_in_ort():
    model = synthetic_graph(1000)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, random_inputs(0))
    assert y.shape == (1, 10)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y.sum(), 1.0, rtol=1e-5)

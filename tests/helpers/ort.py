"""Run ONNX Runtime on an ``onnx_ir`` model or a ``ModelProto``: the numerical reference.

onnx 1.23 writes IR version 14, which onnxruntime 1.31 refuses (it reads up to 13), so the
proto handed to ORT gets IR version 10 when it is newer (the opsets we use need at most 10).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import onnx
import onnx_ir as ir
import onnxruntime as ort

ORT_MAX_IR_VERSION = 10


def to_ort_proto(model: ir.Model | onnx.ModelProto | str | os.PathLike) -> onnx.ModelProto:
    """A ``ModelProto`` ORT accepts (a copy; the argument is not modified)."""
    if isinstance(model, ir.Model):
        proto = ir.to_proto(model)
    elif isinstance(model, onnx.ModelProto):
        proto = onnx.ModelProto()
        proto.CopyFrom(model)
    else:
        proto = onnx.load(os.fspath(model))
    if proto.ir_version > ORT_MAX_IR_VERSION:
        proto.ir_version = ORT_MAX_IR_VERSION
    return proto


def ort_session(
    model: ir.Model | onnx.ModelProto | str | os.PathLike, *, threads: int = 2
) -> ort.InferenceSession:
    """A CPU ``InferenceSession`` over ``model`` (warnings silenced)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    data = to_ort_proto(model).SerializeToString()
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def run_ort(
    model: ir.Model | onnx.ModelProto | str | os.PathLike,
    feeds: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Run ``model`` once on ``feeds``; returns ``{output name: array}``."""
    session = ort_session(model)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


_NP_FLOAT = {
    ir.DataType.FLOAT: np.float32,
    ir.DataType.DOUBLE: np.float64,
    ir.DataType.FLOAT16: np.float16,
}


def random_inputs(model: ir.Model, seed: int = 0) -> dict[str, np.ndarray]:
    """Random feeds for the graph inputs of a statically shaped ``onnx_ir`` model.

    Floating inputs are standard normal; integer and bool inputs are zeros.
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in model.graph.inputs:
        shape = tuple(int(d) for d in value.shape)
        dtype = value.dtype
        if dtype in _NP_FLOAT:
            feeds[value.name] = rng.standard_normal(shape).astype(_NP_FLOAT[dtype])
        else:
            feeds[value.name] = np.zeros(shape, dtype=dtype.numpy())
    return feeds


def assert_same_outputs(
    expected: Mapping[str, np.ndarray],
    actual: Mapping[str, np.ndarray],
    *,
    rtol: float = 1e-3,
    atol: float = 1e-4,
) -> None:
    """Same output names, shapes and values (within tolerance)."""
    assert set(expected) == set(actual), (sorted(expected), sorted(actual))
    for name, want in expected.items():
        got = actual[name]
        assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)

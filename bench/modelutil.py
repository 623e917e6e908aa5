"""Small ONNX helpers the zoo and the baselines share."""

from __future__ import annotations

import collections
import os
import tempfile
from collections.abc import Mapping, Sequence

import onnx

# onnx 1.23 writes IR version 14; onnxruntime 1.31 accepts at most 13. Everything we hand to
# ORT is saved with this IR version (it is what torch's exporter writes as well).
ORT_IR_VERSION = 10


def cap_ir_version(model: onnx.ModelProto, ir_version: int = ORT_IR_VERSION) -> onnx.ModelProto:
    """Lower the model's IR version to one ONNX Runtime loads (in place; returns the model)."""
    if model.ir_version > ir_version:
        model.ir_version = ir_version
    return model


def initializer_names(graph: onnx.GraphProto) -> set[str]:
    return {t.name for t in graph.initializer}


def runtime_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """Graph inputs that are not initializers (IR < 4 lists every initializer as an input)."""
    inits = initializer_names(graph)
    return [i for i in graph.input if i.name not in inits]


def pin_input_shapes(
    model: onnx.ModelProto, input_shapes: Mapping[str, Sequence[int]]
) -> onnx.ModelProto:
    """Return a copy of `model` whose named inputs have the given static dims.

    Dynamic dims (dim_param, '?', or -1) are replaced by dim_value; a static dim that disagrees
    with the requested shape raises ValueError. Outputs' symbolic dims are left to inference.
    """
    pinned = onnx.ModelProto()
    pinned.CopyFrom(model)
    by_name = {i.name: i for i in pinned.graph.input}
    for name, shape in input_shapes.items():
        if name not in by_name:
            raise ValueError(f"model has no input {name!r} (inputs: {sorted(by_name)})")
        tshape = by_name[name].type.tensor_type.shape
        if len(tshape.dim) not in (0, len(shape)):
            raise ValueError(f"input {name!r} has rank {len(tshape.dim)}, asked for {tuple(shape)}")
        if len(tshape.dim) == 0:
            for _ in shape:
                tshape.dim.add()
        for dim, want in zip(tshape.dim, shape, strict=True):
            if dim.HasField("dim_value") and dim.dim_value > 0 and dim.dim_value != want:
                raise ValueError(f"input {name!r} dim is {dim.dim_value}, asked for {want}")
            dim.Clear()
            dim.dim_value = int(want)
    return pinned


def op_histogram(graph: onnx.GraphProto) -> collections.Counter[str]:
    """op_type counts of the top-level graph (domain-qualified when not the default domain)."""
    return collections.Counter(
        n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}" for n in graph.node
    )


def save_atomic(model: onnx.ModelProto, path: str) -> None:
    """Save `model` (weights inside the file) to `path` via a temporary file and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=directory)
    os.close(fd)
    try:
        onnx.save_model(model, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

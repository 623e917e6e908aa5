"""The model's structure without its weights, for the ONNX checker and version converter.

Both serialize the whole ``ModelProto`` (the converter several times), which for BERT-base
means copying 440 MB of weights for checks that only read the graph's structure. The skeleton
is a new, small proto: the same nodes, inputs, outputs, small initializers and metadata, with
each large initializer declared as a graph input of the same type and shape instead.
"""

from __future__ import annotations

import onnx

# Initializers smaller than this stay in the skeleton: converter adapters may read small
# constants (shapes, axes, scales), never weights.
MIN_STRIPPED_BYTES = 4096

_GRAPH_FIELDS = ("node", "input", "output", "value_info", "sparse_initializer")
_MODEL_FIELDS = ("opset_import", "functions", "metadata_props")


def _large(proto: onnx.ModelProto) -> list[onnx.TensorProto]:
    declared = {i.name for i in proto.graph.input}
    return [
        t
        for t in proto.graph.initializer
        if t.name not in declared and t.ByteSize() >= MIN_STRIPPED_BYTES
    ]


def skeleton(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, set[str], int]:
    """A copy of ``proto`` whose large initializers are graph inputs; returns it, their names
    and their serialized size in bytes. ``proto`` itself is not modified."""
    tensors = _large(proto)
    large = {t.name for t in tensors}
    skel = onnx.ModelProto()
    for field in ("ir_version", "producer_name", "producer_version", "domain",
                  "model_version", "doc_string"):
        if proto.HasField(field):
            setattr(skel, field, getattr(proto, field))
    for field in _MODEL_FIELDS:
        getattr(skel, field).extend(getattr(proto, field))
    g, sg = proto.graph, skel.graph
    if g.HasField("name"):
        sg.name = g.name
    for field in _GRAPH_FIELDS:
        getattr(sg, field).extend(getattr(g, field))
    sg.initializer.extend(t for t in g.initializer if t.name not in large)
    sg.input.extend(
        onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims)
        for t in g.initializer
        if t.name in large
    )
    return skel, large, sum(t.ByteSize() for t in tensors)


def with_weights(
    skel: onnx.ModelProto, original: onnx.ModelProto, large: set[str]
) -> onnx.ModelProto:
    """Put the large initializers of ``original`` back into ``skel`` (or a converted copy of
    it), in place, removing their stand-in graph inputs; returns ``skel``."""
    if not large:
        return skel
    inputs = [i for i in skel.graph.input if i.name not in large]
    del skel.graph.input[:]
    skel.graph.input.extend(inputs)
    skel.graph.initializer.extend(t for t in original.graph.initializer if t.name in large)
    return skel

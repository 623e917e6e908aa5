"""The import pipeline: ONNX file or ``ModelProto`` -> statically shaped ``onnx_ir`` model.

One step per line in :func:`import_model`; each step lives in its own module:
``load`` (bytes, external data safety), ``validate`` (operators, cycles, onnx.checker),
``opset`` (accepted range, conversion to opset 21), ``shapes`` (user inputs, pinning, static
check), ``infer`` (ONNX shape inference) and ``fold`` (constant-only and shape-only sub-graphs).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import onnx
import onnx_ir as ir
import onnx_ir.passes.common as ir_common

from compiler_core.errors import ModelLoadError
from compiler_core.frontend import (
    derived_sizes,
    fold,
    infer,
    load,
    opset,
    shapes,
    skeleton,
    validate,
)
from compiler_core.ir.ops import ONNX_DOMAINS


@dataclass
class ImportedModel:
    """A model ready for the compiler.

    ``model``: every value has a static shape and a dtype; constant-only and shape-computing
    sub-graphs are folded into initializers (no Constant nodes remain except a constant graph
    output); the graph is sorted topologically; every node and value has a unique name, except
    optional outputs the model leaves out: those stay unnamed (``""``) with no shape, as in ONNX.
    The graph inputs are the user inputs only (weights listed among them are dropped).
    ``source``: the file path as given, or ``"<ModelProto>"``.
    ``opset``: the default-domain opset after import (21 unless the converter could not reach it).
    ``original_nodes``: compute nodes after folding (Constant nodes not counted), i.e. the
    nodes the user wrote minus the constant-only and shape-only sub-graphs.
    """

    model: ir.Model
    source: str
    opset: int
    original_nodes: int


def import_model(
    model: str | os.PathLike | onnx.ModelProto,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> ImportedModel:
    """Load, validate, normalize and statically shape an ONNX model.

    ``input_shapes`` pins the shape of graph inputs, e.g. ``{"x": (1, 3, 640, 640)}``; every
    dynamic dimension of every input must be pinned.

    Raises (all from :mod:`compiler_core.errors`, each with one line naming the culprit):
    :class:`ModelLoadError` (missing/non-ONNX/truncated file, unsafe or missing external data),
    :class:`ModelValidationError` (opset outside 9..21, cycle, onnx.checker failure),
    :class:`UnsupportedOperatorError` (operator outside the default ONNX domain or unknown),
    :class:`ShapeError` (unpinned dynamic dimension, contradicting pin, shape left dynamic),
    :class:`ResourceLimitError` (model or a folded constant of 2 GiB or more).
    """
    proto, source = load.load_proto(model)
    first_opset = opset.default_opset(proto, source)
    proto = validate.inline_functions(proto, source)
    validate.check_operators(proto, first_opset, source)
    validate.sort_topologically(proto, source)
    validate.check_graph_io(proto, source)
    skel, large, weight_bytes = skeleton.skeleton(proto)  # weights out of the checks' way
    minus_one = validate.minus_one_dims_to_dynamic(skel)  # onnx's C++ reads -1 as a size
    validate.run_checker(skel, source, weight_bytes)
    legacy_softmax = opset.legacy_softmax_outputs(proto, source)
    converted, final_opset = opset.normalize_opset(skel, source)
    proto = skeleton.with_weights(converted, proto, large) if converted is not skel else proto
    validate.restore_minus_one_dims(proto, minus_one)
    ir_model = _to_ir(proto, source)
    absent = [v for node in ir_model.graph for v in node.outputs if not v.name]
    shapes.drop_initializer_inputs(ir_model)
    shapes.pin_input_shapes(ir_model, input_shapes, source)
    infer.clear_intermediate_shapes(ir_model)
    derived_sizes.check_derived_sizes(ir_model, source)
    infer.infer_shapes(ir_model, source)
    opset.restore_legacy_softmax(ir_model, legacy_softmax)
    fold.fold_constants(ir_model, source)
    infer.infer_shapes(ir_model, source)
    ir_model.graph.sort()
    ir_common.NameFixPass()(ir_model)
    _keep_absent(absent)
    shapes.check_static(ir_model, source)
    return ImportedModel(
        model=ir_model,
        source=source,
        opset=final_opset,
        original_nodes=count_compute_nodes(ir_model),
    )


def _to_ir(proto: onnx.ModelProto, source: str) -> ir.Model:
    try:
        return ir.from_proto(proto)
    except Exception as e:  # noqa: BLE001 - deserialization of a checked model; defensive
        raise ModelLoadError(f"{source}: cannot build the in-memory graph: {e}") from e


def _keep_absent(values: list[ir.Value]) -> None:
    """Optional outputs the model leaves out (``""``, e.g. GRU's Y when only Y_h is wanted)
    stay out: onnx_ir's NameFixPass names them, which would make the node compute them."""
    for value in values:
        if not value.uses() and not value.is_graph_output():
            value.name = ""
            value.shape = None
            value.type = None


def count_compute_nodes(model: ir.Model) -> int:
    """Nodes of the main graph that are not ``Constant``."""
    return sum(
        1
        for n in model.graph
        if not (n.op_type == "Constant" and n.domain in ONNX_DOMAINS)
    )

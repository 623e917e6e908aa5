"""Default-domain opset: the accepted range and normalization to one version.

Models with default-domain (``""`` / ``ai.onnx``) opset 9 through 21 are accepted. They are
converted with ``onnx.version_converter`` to :data:`TARGET_OPSET` (21), so later stages see one
semantics per operator: Split/Squeeze/Unsqueeze/Reduce* axes as inputs, Resize instead of
Upsample, Clip min/max as inputs, Dropout ratio as an input, BatchNormalization without the
legacy ``spatial`` attribute, and so on.

Robustness: if the converter fails for 21 (or its result fails ``onnx.checker``), the next
lower version is tried, down to the model's own version, and :func:`normalize_opset` reports
the version it reached. Every model the project tests against (the two PP-OCR models, opsets 11
and 12, and the six ``onnx`` light_* graphs, opset 9 with IR version 3) converts to 21 directly
(no fallback needed); the only fix-up is the softmax one below. After conversion the IR version is raised to the minimum the
opset needs (IR 10 for opset 21), because the converter keeps the old one (3 for the light
graphs); weights listed among the graph inputs are dealt with later (see ``shapes.py``).

Special handling, Softmax/LogSoftmax/Hardmax before opset 13: their old semantics (coerce the
input to 2-D at ``axis``) are kept by the converter as ``Shape``, ``Flatten`` -> op(axis=-1) ->
``Reshape`` unless it knows that ``axis`` is the last one, which it rarely does (it sees no
shapes). That adds two compute nodes the user never wrote (light_squeezenet's 4-D softmax over
[1,1000,1,1], the PP-OCR classifier's 2-D softmax). Once shapes are static, :func:`restore_legacy_softmax` puts
back the single operator, with the same ``axis``, wherever the old and new semantics coincide
(every dimension after ``axis`` is 1); otherwise the converter's correct expansion stays.
"""

from __future__ import annotations

import onnx
import onnx_ir as ir
from onnx import version_converter

from compiler_core.errors import ModelValidationError
from compiler_core.ir.ops import ONNX_DOMAINS

MIN_OPSET = 9
MAX_OPSET = 21
TARGET_OPSET = 21


def default_opset(proto: onnx.ModelProto, source: str) -> int:
    """The model's default-domain opset; :class:`ModelValidationError` if outside 9..21."""
    versions = [o.version for o in proto.opset_import if o.domain in ONNX_DOMAINS]
    if not versions:
        raise ModelValidationError(
            f"{source}: the model imports no default-domain (ai.onnx) opset; "
            f"supported opsets are {MIN_OPSET}..{MAX_OPSET}"
        )
    version = max(versions)
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise ModelValidationError(
            f"{source}: default-domain opset {version} is not supported "
            f"(supported: {MIN_OPSET}..{MAX_OPSET})"
        )
    return version


def normalize_opset(proto: onnx.ModelProto, source: str) -> tuple[onnx.ModelProto, int]:
    """Convert ``proto`` to the highest default-domain opset <= 21 the converter handles.

    Returns ``(model, opset)``; ``model`` is a new proto unless no conversion was needed or
    possible (then it is ``proto`` itself, with its original opset).
    """
    current = default_opset(proto, source)
    converted, opset = proto, current
    for target in range(TARGET_OPSET, current, -1):
        try:
            candidate = version_converter.convert_version(proto, target)
            onnx.checker.check_model(candidate)
        except Exception:  # noqa: BLE001 - any converter failure: try the next version down
            continue
        converted, opset = candidate, target
        break
    needed = onnx.helper.find_min_ir_version_for(
        [onnx.helper.make_opsetid("", opset)], ignore_unknown=True
    )
    if converted.ir_version < needed:
        converted.ir_version = needed
    return converted, opset


_SOFTMAX_FAMILY = ("Softmax", "LogSoftmax", "Hardmax")


def legacy_softmax_outputs(proto: onnx.ModelProto, source: str) -> set[str]:
    """Output names of the top-level Softmax-family nodes whose semantics change at opset 13."""
    if default_opset(proto, source) >= 13:
        return set()
    return {
        n.output[0]
        for n in proto.graph.node
        if n.op_type in _SOFTMAX_FAMILY and n.domain in ONNX_DOMAINS and n.output
    }


def restore_legacy_softmax(model: ir.Model, names: set[str]) -> int:
    """Undo the converter's Flatten/Reshape around a legacy softmax where it is a no-op.

    Needs static shapes. Matches only the converter's exact pattern around a node the user
    wrote (``names`` from :func:`legacy_softmax_outputs`)::

        Reshape(op(Flatten(x, axis=a), axis=-1) named "<out>_intermediate", Shape(x)) -> <out>

    and replaces it with ``op(x, axis=a)`` when every dimension of ``x`` after ``a`` is 1.
    Returns the number of nodes restored.
    """
    graph = model.graph
    restored = 0
    for reshape in list(graph):
        if reshape.op_type != "Reshape" or reshape.outputs[0].name not in names:
            continue
        op = reshape.inputs[0].producer() if reshape.inputs[0] is not None else None
        if op is None or op.op_type not in _SOFTMAX_FAMILY:
            continue
        if op.outputs[0].name != f"{reshape.outputs[0].name}_intermediate":
            continue
        flatten = op.inputs[0].producer() if op.inputs[0] is not None else None
        shape = reshape.inputs[1].producer() if reshape.inputs[1] is not None else None
        if flatten is None or flatten.op_type != "Flatten" or shape is None:
            continue
        x = flatten.inputs[0]
        if shape.op_type != "Shape" or shape.inputs[0] is not x or x is None or x.shape is None:
            continue
        dims = x.shape.dims
        rank = len(dims)
        axis = flatten.attributes.get_int("axis", 1)
        axis = axis + rank if axis < 0 else axis
        trailing = dims[axis + 1 :]
        if not 0 <= axis < rank or not all(isinstance(d, int) and d == 1 for d in trailing):
            continue
        if len(op.outputs[0].uses()) != 1 or len(shape.outputs[0].uses()) != 1:
            continue
        if len(flatten.outputs[0].uses()) != 1:
            continue
        new = ir.Node("", op.op_type, [x], [ir.AttrInt64("axis", axis)], name=op.name)
        ir.convenience.replace_nodes_and_values(
            graph, reshape, [shape, flatten, op, reshape], [new], reshape.outputs, new.outputs
        )
        restored += 1
    return restored

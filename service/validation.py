"""Is a stored file a valid ONNX model? Run before an upload is accepted.

Reading goes through the compiler frontend's safe loader (``compiler_core.frontend.load``): it
checks every external-data reference (absolute paths, ``..``, symlinks leaving the model's own
directory) before opening any of them. Then ``onnx.checker`` checks the graph on the stored file.

The model's inputs are stored and shown in every listing, so they are bounded like the
``input_shapes`` a client can send to pin them: at most 1024 inputs, names of at most 1024
characters, rank at most 64; symbolic dimension names are shown cut to 80 characters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from compiler_core.errors import DnnFusionError
from compiler_core.frontend.load import load_proto
from service.schemas.compilations import MAX_INPUT_NAME, MAX_INPUTS, MAX_RANK
from service.text import one_line, short


class ModelRejected(Exception):
    """Not an ONNX model, an invalid graph, or unsafe external data; ``str`` says why."""


@dataclass(frozen=True)
class ModelFacts:
    opset: int | None
    inputs: list[dict[str, Any]] = field(default_factory=list)


def inspect_model(path: Path, *, root: Path, shown_as: str | None = None) -> ModelFacts:
    """Validate the model at ``path`` (external data resolved only in its own directory).

    Messages name files relative to ``root`` (the upload's staging directory), never by their
    server path; ``shown_as`` (the uploaded file's name, for a lone .onnx upload) replaces the
    stored file's own name in them. Raises :class:`ModelRejected` with a one-line reason.
    """

    def reason(err: BaseException) -> str:
        text = str(err)
        if shown_as is not None:
            text = text.replace(str(path), short(repr(shown_as), 200))
        text = text.replace(str(root) + os.sep, "").replace(str(root), "the upload")
        return one_line(text, 1000)

    try:
        proto, _ = load_proto(path)
    except DnnFusionError as err:
        raise ModelRejected(reason(err)) from None
    try:
        # The path form: the C++ checker reads the file itself (no 2 GiB protobuf limit) and
        # checks that external data stays in the model's directory too.
        onnx.checker.check_model(str(path))
    except (onnx.checker.ValidationError, ValueError, OSError) as err:
        raise ModelRejected(f"invalid ONNX graph: {reason(err)}") from None
    return ModelFacts(opset=_opset(proto), inputs=_inputs(proto))


def _opset(proto: onnx.ModelProto) -> int | None:
    for imp in proto.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return None


def _dtype_name(name: str, elem_type: int) -> str:
    """The TensorProto.DataType name; raises :class:`ModelRejected` for a value ONNX does not
    define (the checker lets such an input through)."""
    try:
        return onnx.TensorProto.DataType.Name(elem_type)
    except ValueError:
        raise ModelRejected(
            f"invalid ONNX graph: input {name[:200]!r} has an unknown element type {elem_type}"
        ) from None


def _inputs(proto: onnx.ModelProto) -> list[dict[str, Any]]:
    constants = {t.name for t in proto.graph.initializer}
    values = [v for v in proto.graph.input if v.name not in constants]
    if len(values) > MAX_INPUTS:
        raise ModelRejected(
            f"the model has {len(values)} inputs; at most {MAX_INPUTS} are supported"
        )
    out = []
    for value in values:
        shown = short(repr(value.name))
        if len(value.name) > MAX_INPUT_NAME:
            raise ModelRejected(
                f"model input {shown}: name longer than {MAX_INPUT_NAME} characters"
            )
        ttype = value.type.tensor_type
        if len(ttype.shape.dim) > MAX_RANK:
            raise ModelRejected(f"model input {shown}: rank above {MAX_RANK}")
        dims: list[int | str | None] = []
        for d in ttype.shape.dim:
            if d.HasField("dim_value"):
                dims.append(int(d.dim_value))
            else:
                dims.append(short(d.dim_param) if d.dim_param else None)
        dtype = _dtype_name(value.name, ttype.elem_type) if ttype.elem_type else None
        out.append({"name": value.name, "dtype": dtype, "shape": dims})
    return out

"""Reading an ONNX model into a ``ModelProto``, with safe external data.

A model comes as a file path or an in-memory ``onnx.ModelProto``. Files are parsed from their
bytes (protobuf errors become :class:`ModelLoadError`). Tensors stored as external data
(ONNX "external data" format: a ``location`` relative to the model file plus ``offset`` /
``length``) are allowed only inside the model's own directory. Every external reference of
every tensor (initializers, sparse initializers, tensor attributes such as ``Constant.value``,
in sub-graphs and local functions too) is checked *before* any of them is read: an absolute
path, a ``..`` escape or a symlink resolving outside the directory is refused, and nothing
outside the directory is ever opened.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import onnx
from google.protobuf.message import DecodeError

from compiler_core.errors import ModelLoadError

PROTO_SOURCE = "<ModelProto>"


@dataclass(frozen=True)
class ExternalRef:
    """One tensor whose bytes live in an external file, after the safety check."""

    tensor: onnx.TensorProto
    owner: str  # what holds the tensor, for messages: "initializer 'w'", ...
    path: str  # resolved absolute path, inside the model directory
    offset: int
    length: int | None


def load_proto(model: str | os.PathLike | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Return ``(proto, source)`` with all tensor data in memory.

    ``source`` is the file path as given, or ``"<ModelProto>"``. A given ``ModelProto`` is
    copied, never modified. Raises :class:`ModelLoadError` for a missing or unreadable file,
    bytes that are not an ONNX model (random or text data, a truncated file), and unsafe or
    missing external data (naming the tensor and the path).
    """
    if isinstance(model, onnx.ModelProto):
        proto = onnx.ModelProto()
        proto.CopyFrom(model)
        refs = list(_external_tensors(proto))
        if refs:
            tensor, owner = refs[0]
            raise ModelLoadError(
                f"{PROTO_SOURCE}: {owner} stores its data in external file "
                f"{_location(tensor)!r}, but a ModelProto has no directory to read it from; "
                "pass the model's file path instead"
            )
        _check_model_proto(proto, PROTO_SOURCE)
        check_tensor_data(proto, PROTO_SOURCE)
        return proto, PROTO_SOURCE
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"import_model expects a path or onnx.ModelProto, got {type(model)!r}")
    source = os.fspath(model)
    proto = _parse_file(source)
    base_dir = os.path.dirname(os.path.abspath(source))
    refs = [_check_external(t, owner, base_dir, source) for t, owner in _external_tensors(proto)]
    for ref in refs:  # only after every reference passed the check
        _read_external(ref, source)
    check_tensor_data(proto, source)
    return proto, source


def _parse_file(source: str) -> onnx.ModelProto:
    if not os.path.exists(source):
        raise ModelLoadError(f"{source}: no such file")
    if not os.path.isfile(source):
        raise ModelLoadError(f"{source}: not a regular file")
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelLoadError(f"{source}: cannot read file: {e.strerror or e}") from e
    if not data:
        raise ModelLoadError(f"{source}: empty file, not an ONNX model")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise ModelLoadError(
            f"{source}: not an ONNX model or truncated file (protobuf parse failed: {e})"
        ) from e
    _check_model_proto(proto, source)
    return proto


def _check_model_proto(proto: onnx.ModelProto, source: str) -> None:
    """Protobuf accepts many byte strings; a real model has an IR version, opsets and a graph."""
    if proto.ir_version <= 0 or not proto.HasField("graph") or not proto.opset_import:
        missing = [
            what
            for what, ok in (
                ("ir_version", proto.ir_version > 0),
                ("graph", proto.HasField("graph")),
                ("opset_import", len(proto.opset_import) > 0),
            )
            if not ok
        ]
        raise ModelLoadError(
            f"{source}: not an ONNX model or truncated file (missing {', '.join(missing)})"
        )
    if not proto.graph.output:
        raise ModelLoadError(
            f"{source}: not an ONNX model or truncated file (graph has no outputs)"
        )
    bad = _non_text_field(proto, "model")
    if bad is not None:
        raise ModelLoadError(f"{source}: corrupt model: {bad} is not valid UTF-8 text")


def _non_text_field(message, path: str) -> str | None:
    """Path of the first ``string`` field holding bytes (protobuf hands invalid UTF-8 in
    proto2 string fields over as ``bytes``), or None."""
    for field, value in message.ListFields():
        where = f"{path}.{field.name}"
        repeated = _is_repeated(field)
        items = value if repeated else [value]
        if field.type == field.TYPE_STRING:
            for i, item in enumerate(items):
                if not isinstance(item, str):
                    return f"{where}[{i}]" if repeated else where
        elif field.type == field.TYPE_MESSAGE:
            for i, item in enumerate(items):
                label = (
                    getattr(item, "name", "") if isinstance(getattr(item, "name", ""), str) else ""
                )
                found = _non_text_field(item, f"{where}[{label or i!r}]" if repeated else where)
                if found is not None:
                    return found
    return None


def _is_repeated(field) -> bool:
    flag = getattr(field, "is_repeated", None)
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED


def _location(tensor: onnx.TensorProto) -> str:
    return next((e.value for e in tensor.external_data if e.key == "location"), "")


def _external_tensors(proto: onnx.ModelProto) -> Iterator[tuple[onnx.TensorProto, str]]:
    """Every tensor of the model that refers to external data, with a description."""
    for tensor, owner in _all_tensors(proto):
        if _is_external(tensor):
            yield tensor, owner


def _all_tensors(proto: onnx.ModelProto) -> Iterator[tuple[onnx.TensorProto, str]]:
    graphs = [proto.graph]
    for func in proto.functions:
        for node in func.node:
            yield from _node_tensors(node, graphs)
    while graphs:
        graph = graphs.pop()
        for t in graph.initializer:
            yield t, f"initializer {t.name!r}"
        for s in graph.sparse_initializer:
            yield s.values, f"sparse initializer {s.values.name!r}"
            yield s.indices, f"indices of sparse initializer {s.values.name!r}"
        for node in graph.node:
            yield from _node_tensors(node, graphs)


def _node_tensors(
    node: onnx.NodeProto, graphs: list[onnx.GraphProto]
) -> Iterator[tuple[onnx.TensorProto, str]]:
    for attr in node.attribute:
        owner = f"tensor attribute {attr.name!r} of node {node.name!r} ({node.op_type})"
        tensors = [attr.t] if attr.HasField("t") else []
        tensors += list(attr.tensors)
        sparse = ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(
            attr.sparse_tensors
        )
        for s in sparse:
            tensors += [s.values, s.indices]
        for t in tensors:
            yield t, owner
        if attr.HasField("g"):
            graphs.append(attr.g)
        graphs.extend(attr.graphs)


def _is_external(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data) > 0


def _check_external(
    tensor: onnx.TensorProto, owner: str, base_dir: str, source: str
) -> ExternalRef:
    """Validate one external reference without opening anything outside ``base_dir``."""
    info = {e.key: e.value for e in tensor.external_data}
    loc = info.get("location", "")
    where = f"{source}: {owner} has external data location {loc!r}"
    if not loc or "\x00" in loc:
        raise ModelLoadError(f"{where}: empty or invalid path")
    if os.path.isabs(loc) or loc.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", loc):
        raise ModelLoadError(f"{where}: absolute paths are not allowed")
    parts = re.split(r"[\\/]+", loc)
    if ".." in parts:
        raise ModelLoadError(f"{where}: '..' escapes the model directory")
    base_real = os.path.realpath(base_dir)
    path = os.path.realpath(os.path.join(base_dir, loc))
    if os.path.commonpath([path, base_real]) != base_real or path == base_real:
        raise ModelLoadError(f"{where}: resolves outside the model directory (symlink?)")
    if not os.path.isfile(path):
        raise ModelLoadError(f"{where}: no such file in {base_dir}")
    try:
        offset = int(info.get("offset", "0") or 0)
        length = int(info["length"]) if info.get("length") else None
    except ValueError as e:
        raise ModelLoadError(f"{where}: invalid offset/length") from e
    if offset < 0 or (length is not None and length < 0):
        raise ModelLoadError(f"{where}: negative offset/length")
    size = os.path.getsize(path)
    end = offset + (length if length is not None else 0)
    if offset > size or end > size:
        raise ModelLoadError(
            f"{where}: offset {offset} + length {length or 0} exceeds the file size {size}"
        )
    return ExternalRef(tensor=tensor, owner=owner, path=path, offset=offset, length=length)


def _read_external(ref: ExternalRef, source: str) -> None:
    try:
        with open(ref.path, "rb") as f:
            f.seek(ref.offset)
            data = f.read() if ref.length is None else f.read(ref.length)
    except OSError as e:
        raise ModelLoadError(
            f"{source}: cannot read external data of {ref.owner} from {ref.path}: {e.strerror}"
        ) from e
    expected = _expected_nbytes(ref.tensor)
    if expected is not None and len(data) != expected:
        raise ModelLoadError(
            f"{source}: external data of {ref.owner} in {ref.path} has {len(data)} bytes, "
            f"its dims and dtype need {expected}"
        )
    ref.tensor.raw_data = data
    ref.tensor.data_location = onnx.TensorProto.DEFAULT
    del ref.tensor.external_data[:]


_T = onnx.TensorProto
# The typed field each dtype stores its values in when raw_data is empty, and values per
# element (complex: 2), as the ONNX spec (onnx.proto, TensorProto) lays them out.
_TYPED_FIELD = {
    _T.FLOAT: ("float_data", 1), _T.COMPLEX64: ("float_data", 2),
    _T.DOUBLE: ("double_data", 1), _T.COMPLEX128: ("double_data", 2),
    _T.INT64: ("int64_data", 1), _T.UINT32: ("uint64_data", 1), _T.UINT64: ("uint64_data", 1),
    **{t: ("int32_data", 1) for t in (_T.INT32, _T.INT16, _T.INT8, _T.UINT16, _T.UINT8, _T.BOOL,
                                      _T.FLOAT16, _T.BFLOAT16)},
}


def check_tensor_data(proto: onnx.ModelProto, source: str) -> None:
    """Every tensor in the model holds exactly the data its dims and dtype claim: ``raw_data``
    of ``prod(dims) * itemsize`` bytes, or that many values in the dtype's typed field (ONNX
    spec, TensorProto). Raises :class:`ModelLoadError` naming the tensor, what it holds and
    what it needs; dtypes of no fixed size (strings, sub-byte) are left to their readers."""
    for tensor, owner in _all_tensors(proto):
        expected = _expected_nbytes(tensor)
        if expected is None or _is_external(tensor):
            continue
        dims = list(tensor.dims)
        dtype = onnx.TensorProto.DataType.Name(tensor.data_type)
        if tensor.HasField("raw_data"):
            held = len(tensor.raw_data)
            if held != expected:
                raise ModelLoadError(f"{source}: {owner} holds {held} bytes of raw data; its "
                                     f"dims {dims} and dtype {dtype} need {expected}")
            continue
        field, per = _TYPED_FIELD.get(tensor.data_type, (None, 1))
        if field is None:
            continue
        count = expected // max(1, onnx.helper.tensor_dtype_to_np_dtype(
            tensor.data_type).itemsize) * per
        held = len(getattr(tensor, field))
        others = [f for f, _ in set(_TYPED_FIELD.values()) if f != field and len(getattr(tensor, f))]
        if held != count or others:
            extra = f" (and values in {', '.join(sorted(others))})" if others else ""
            raise ModelLoadError(f"{source}: {owner} holds {held} values in {field}{extra}; its "
                                 f"dims {dims} and dtype {dtype} need {count}")


def _expected_nbytes(tensor: onnx.TensorProto) -> int | None:
    """Bytes a tensor's dims and dtype need, or None when not fixed (strings, sub-byte)."""
    try:
        itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
    except (KeyError, ValueError, TypeError):
        return None
    if tensor.data_type in _SUB_BYTE or tensor.data_type == onnx.TensorProto.STRING:
        return None
    count = 1
    for d in tensor.dims:
        count *= d
    return count * itemsize


_SUB_BYTE = {
    getattr(onnx.TensorProto, name)
    for name in ("INT4", "UINT4", "FLOAT4E2M1", "INT2", "UINT2")
    if hasattr(onnx.TensorProto, name)
}

"""Small ONNX models and archives built on the fly for the service tests."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_model(seed: int = 0, *, dynamic: bool = False) -> onnx.ModelProto:
    """y = Relu(x + w); ``seed`` changes the weights, so every seed gives different bytes."""
    w = np.full((1, 4), float(seed), dtype=np.float32)
    batch = "N" if dynamic else 1
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def tiny_bytes(seed: int = 0) -> bytes:
    return tiny_model(seed).SerializeToString()


def invalid_graph_bytes() -> bytes:
    """Parses as ONNX, fails the checker: a node reads a tensor nothing produces."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["nowhere"], ["y"])],
        "broken",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def with_external_data(seed: int = 0, location: str = "weights.bin") -> tuple[bytes, bytes]:
    """(model bytes, data bytes): the weight ``w`` stored in the external file ``location``."""
    model = tiny_model(seed)
    data = (
        model.graph.initializer[0].raw_data
        or numpy_helper.to_array(model.graph.initializer[0]).tobytes()
    )
    tensor = model.graph.initializer[0]
    tensor.ClearField("float_data")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(data)))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return model.SerializeToString(), data


def zip_bytes(members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return buf.getvalue()


def tar_gz_bytes(
    members: dict[str, bytes],
    *,
    symlinks: dict[str, str] | None = None,
    hardlinks: dict[str, str] | None = None,
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
        for name, target in (hardlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.LNKTYPE, target
            tf.addfile(info)
    return buf.getvalue()


def zip_bomb_bytes(uncompressed: int) -> bytes:
    """A model plus one member of ``uncompressed`` zero bytes (deflates ~1000:1)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.onnx", tiny_bytes())
        with zf.open("zeros.bin", "w", force_zip64=True) as out:
            chunk = bytes(1 << 20)
            left = uncompressed
            while left > 0:
                out.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path

"""A small model whose weights live in an external-data file, packed as ``.tar.gz``."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def external_data_archive(folder: Path) -> Path:
    """``folder/model.tar.gz`` holding ``model.onnx`` (x float32[1, 64] -> MatMul W[64, 64] ->
    Relu -> y) and ``weights.bin`` (W, 16 kB)."""
    w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Relu", ["m"], ["y"])],
        "external_weights",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    src = folder / "src"
    src.mkdir()
    onnx.save_model(model, src / "model.onnx", save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    assert (src / "weights.bin").stat().st_size == w.nbytes
    out = folder / "model.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for name in ("model.onnx", "weights.bin"):
            tar.add(src / name, arcname=name)
    return out

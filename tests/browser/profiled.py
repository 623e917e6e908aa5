"""A tiny model with one "profile" fusion, measured on this machine into the service's
profiling database by ``dnnfusion profile --device host`` (the user's own command)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.browser.server import CLI
from tests.service.procs import REPO

OPS = "Reshape | MatMul+Add"  # Reorganize followed by Many-to-Many + One-to-One: a "profile" cell


def reshape_matmul_model(path: Path) -> Path:
    """x float32[1, 8, 8] -> Reshape [1, 64] -> MatMul W[64, 64] -> Add b[64] -> y[1, 64]."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((64, 64)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal(64).astype(np.float32), "B"),
        numpy_helper.from_array(np.array([1, 64], np.int64), "S"),
    ]
    graph = helper.make_graph(
        [
            helper.make_node("Reshape", ["x", "S"], ["r"], name="reshape"),
            helper.make_node("MatMul", ["r", "W"], ["m"], name="matmul"),
            helper.make_node("Add", ["m", "B"], ["y"], name="add"),
        ],
        "reshape_matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    onnx.save(model, path)
    return path


def profile_into(data_dir: Path, model: Path) -> str:
    """``dnnfusion profile --device host --model MODEL`` into the service's SQLite database;
    its stdout (one line per measured fusion)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("DNNFUSION_") and k != "DATABASE_URL"}
    env["DNNFUSION_DATA_DIR"] = str(data_dir)
    done = subprocess.run(
        [*CLI, "profile", "--device", "host", "--model", str(model), "--min-ms", "5"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout + done.stderr

"""README command 1's script, end to end on a small model: serve, upload, compile, download,
run against ONNX Runtime."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

pytestmark = pytest.mark.slow  # the README's demo, a real compile over REST

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "demo_rest.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_script_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Relu", ["m"], ["y"])],
        "mlp",
        [helper.make_tensor_value_info("x", 1, ["N", 16])],
        [helper.make_tensor_value_info("y", 1, ["N", 8])],
        [numpy_helper.from_array(rng.standard_normal((16, 8)).astype(np.float32), "w")],
    )
    path = tmp_path / "mlp.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--model", str(path), "--input-shape", "x=4x16",
         "--port", str(_free_port()), "--timeout", "300"],
        capture_output=True, text=True, timeout=400,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "compute nodes (original) 2" in out
    assert "fused blocks             1" in out
    assert "within rtol 1e-3, atol 1e-4" in out
    assert "[demo]   succeeded" in out

"""`dnnfusion plan|compile` on models that crash or that claim huge shapes: exit 2 with one
`error:` line on stderr, never a traceback or a dead process."""

from __future__ import annotations

import onnx
import pytest
from onnx import TensorProto, helper

from tests.cli.test_compile_cli import run_cli
from tests.helpers.crashing import int_min_div_model, zero_div_model


def assert_one_error_line(res) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if not ln.startswith("[dnnfusion]")]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr
    return lines[0]


@pytest.mark.parametrize(("build", "expect"), [
    (int_min_div_model, "compiled model"),
    (zero_div_model, "by zero"),
])
@pytest.mark.slow  # compiles and runs in the sandbox
def test_compile_of_a_trapping_model_exits_2(build, expect, tmp_path):
    path = tmp_path / "trap.onnx"
    onnx.save(build(), path)
    res = run_cli("compile", path, "-o", tmp_path / "art")
    assert expect in assert_one_error_line(res)
    assert not (tmp_path / "art").exists()


@pytest.fixture(scope="module")
def image_model(tmp_path_factory):
    """x[N,3,H,W] -> Relu -> r -> Exp -> y, every dim but the channels dynamic."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Exp", ["r"], ["y"])],
        "img",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, "H", "W"])],
    )
    path = tmp_path_factory.mktemp("img") / "img.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


@pytest.mark.slow  # CLI processes
@pytest.mark.parametrize("verb", ["plan", "compile"])
def test_huge_input_shape_is_refused_with_the_estimate(verb, image_model, tmp_path):
    args = [verb, image_model, "--input-shape", "x=1x3x100000x100000"]
    res = run_cli(*args, *(["-o", tmp_path / "art"] if verb == "compile" else []))
    line = assert_one_error_line(res)
    # 1*3*1e5*1e5 float32 = 1.2e11 bytes = 111.8 GiB, three times (input, output, r).
    assert "the model needs about 335.3 GiB (weights 0 B + inputs 111.8 GiB + outputs " \
        "111.8 GiB + largest intermediate 'r' [1, 3, 100000, 100000] FLOAT 111.8 GiB), over " \
        "the memory limit of 8.0 GiB; set memory_limit_bytes" in line, line
    assert "planning" not in res.stderr  # refused before planning


def test_int64_overflowing_shape_is_a_shape_error(image_model):
    res = run_cli("plan", image_model, "--input-shape", "x=1x3x4294967296x4294967296")
    line = assert_one_error_line(res)
    assert "tensor 'x' of shape [1, 3, 4294967296, 4294967296] (FLOAT)" in line, line


@pytest.mark.slow  # CLI processes
def test_limit_from_the_environment(image_model):
    # 1x3x64x64 float32: 48 KiB per tensor, 144 KiB in all; a 100 KiB limit refuses it.
    res = run_cli("plan", image_model, "--input-shape", "x=1x3x64x64",
                  env={"DNNFUSION_MEMORY_LIMIT_BYTES": str(100 * 1024)})
    assert "over the memory limit of 100.0 KiB" in assert_one_error_line(res)
    ok = run_cli("plan", image_model, "--input-shape", "x=1x3x64x64", "-q",
                 env={"DNNFUSION_MEMORY_LIMIT_BYTES": str(200 * 1024)})
    assert ok.returncode == 0, ok.stderr

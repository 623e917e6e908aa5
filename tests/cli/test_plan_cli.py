"""`dnnfusion plan` end to end: summary, PLAN.json, DOT, and bad input (exit code 2)."""

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from bench.real_models import real_model_path
from dnnfusion.cli import main

CLS = str(real_model_path("ppocr_mobile_v2_cls.onnx"))


def test_plan_real_model_writes_json_and_dot(tmp_path, capsys):
    out_json, out_dot = tmp_path / "plan.json", tmp_path / "plan.dot"
    code = main(["plan", CLS, "--input-shape", "x=1x3x48x192", "-q",
                 "--json", str(out_json), "--dot", str(out_dot)])
    assert code == 0
    text = capsys.readouterr().out
    plan = json.loads(out_json.read_text())
    for key in ("original_nodes", "rewritten_nodes", "floor", "blocks", "unfused_edges",
                "rewrites"):
        assert key in plan
    assert f"fused blocks                  {len(plan['blocks'])}" in text
    assert plan["fused_blocks"] == len(plan["blocks"])
    # Every rewritten node is in exactly one block.
    names = [n for b in plan["blocks"] for n in b["nodes"]]
    assert len(names) == len(set(names)) == plan["rewritten_nodes"]
    for b in plan["blocks"]:
        assert len(b["nodes"]) == len(b["ops"]) and b["mapping_type"]
        # At most one Many-to-Many anchor per block (Table 3 never fuses two).
        assert sum(op in ("Conv", "GlobalAveragePool", "MatMul", "Softmax", "MaxPool")
                   for op in b["ops"]) <= 1
    for e in plan["unfused_edges"]:
        assert e["reason"] in ("never_pair", "not_convex", "constraint", "unprofitable",
                               "opaque")
    assert plan["floor"] <= plan["fused_blocks"]
    dot = out_dot.read_text()
    assert dot.startswith("digraph fusion_plan {") and dot.count("[label=") >= len(plan["blocks"])
    # Block labels break lines with DOT's \n escape, not a backslash shown literally.
    assert '"#0 Many-to-Many\\nConv' in dot and "\\\\n" not in dot


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "dnnfusion", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["plan", "/nonexistent/model.onnx"], "model.onnx"),
        (["plan", CLS], "x"),  # dynamic dims left unpinned: names the input
        (["plan", CLS, "--input-shape", "x=1x3x48"], "x"),  # rank contradicts the model
        (["plan", CLS, "--input-shape", "x=1xAx3"], "--input-shape"),
        (["plan", CLS, "--input-shape", "nope=1x3x48x192"], "nope"),
    ],
)
@pytest.mark.slow  # one CLI process per bad input
def test_bad_input_exits_2_with_one_line(args, needle):
    r = _run_cli(*args, "-q")
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr


def test_not_onnx_file_exits_2(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is not a model\n")
    r = _run_cli("plan", str(bad), "-q")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "notes.onnx" in r.stderr


def test_truncated_file_exits_2(tmp_path):
    data = Path(CLS).read_bytes()
    bad = tmp_path / "half.onnx"
    bad.write_bytes(data[: len(data) // 2])
    r = _run_cli("plan", str(bad), "-q")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "half.onnx" in r.stderr


def test_plan_model_python_api_matches_cli_json(tmp_path):
    from compiler_core import plan_model

    plan = plan_model(onnx.load(CLS), input_shapes={"x": (1, 3, 48, 192)})
    out = tmp_path / "p.json"
    assert main(["plan", CLS, "--input-shape", "x=1x3x48x192", "-q", "--json", str(out)]) == 0
    cli = json.loads(out.read_text())
    assert plan.fused_blocks == cli["fused_blocks"]
    assert [b.nodes for b in plan.blocks] == [b["nodes"] for b in cli["blocks"]]

"""`dnnfusion compile` end to end: progress on stderr, summary, --tar, and bad input (exit 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile

import onnx
import pytest

from dnnfusion.cli import main
from tests.compiler_core.codegen.util import model, node, vi, weight

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def mlp():
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Add", ["m", "b"], ["a"]),
             node("Relu", ["a"], ["y"])]
    return model(nodes, [vi("x", [2, 8])], [vi("y", [2, 4])],
                 [weight("w", [8, 4]), weight("b", [4], seed=1)])


@pytest.fixture(scope="module")
def mlp_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "mlp.onnx"
    onnx.save(mlp(), path)
    return path


def run_cli(*args, env=None, cwd=None):
    full = dict(os.environ, PYTHONPATH=REPO, **(env or {}))
    return subprocess.run([sys.executable, "-m", "dnnfusion", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=full, cwd=cwd)


@pytest.mark.slow  # a real model compiled and compared
def test_compile_prints_progress_and_summary(mlp_path, tmp_path):
    out = tmp_path / "art"
    r = run_cli("compile", mlp_path, "-o", out, "--tar")
    assert r.returncode == 0, r.stderr
    stages = [ln.split()[1].rstrip(".") for ln in r.stderr.splitlines()
              if ln.startswith("[dnnfusion]")]
    assert stages == ["importing", "rewriting", "planning", "generating", "building",
                      "validating", "packing", "done"]
    summary = dict(ln.split(None, 1) for ln in r.stdout.splitlines() if ln.strip())
    manifest = json.loads((out / "manifest.json").read_text())
    assert summary["artifact"] == f"{out} (target host)"
    assert summary["blocks"].startswith(f"{len(manifest['blocks'])} fused blocks from 3 ONNX")
    assert f"({manifest['arena_bytes']} bytes" in summary["arena"]
    assert summary["archive"].startswith(f"{out}.tar.gz")
    with tarfile.open(f"{out}.tar.gz") as tar:
        assert "art/manifest.json" in tar.getnames()


def test_compile_in_process_quiet_and_recompile(mlp_path, tmp_path, capsys):
    out = tmp_path / "art"
    assert main(["compile", str(mlp_path), "-o", str(out), "-q", "--fast-math"]) == 0
    assert main(["compile", str(mlp_path), "-o", str(out), "-q", "--no-rewrite"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # -q: no progress
    assert captured.out.count("artifact") == 2 and (out / "model.so").is_file()


def _one_error_line(r, needle):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: "), r.stderr
    assert needle in lines[-1], lines[-1]
    assert "Traceback" not in r.stderr


def test_missing_model(tmp_path):
    _one_error_line(run_cli("compile", tmp_path / "nope.onnx", "-o", tmp_path / "a", "-q"),
                    "nope.onnx")


def test_not_onnx(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    _one_error_line(run_cli("compile", bad, "-o", tmp_path / "a", "-q"), "bad.onnx")


def test_unsupported_operator(tmp_path):
    # Det: a registry row without a code generator (Hardmax has one since operator coverage)
    p = model([node("Det", ["x"], ["y"])], [vi("x", [2, 3, 3])], [vi("y", [2])])
    path = tmp_path / "h.onnx"
    onnx.save(p, path)
    _one_error_line(run_cli("compile", path, "-o", tmp_path / "a", "-q"), "Det")
    assert not (tmp_path / "a").exists()


def test_missing_compiler(mlp_path, tmp_path):
    r = run_cli("compile", mlp_path, "-o", tmp_path / "a", "-q",
                env={"CC": str(tmp_path / "no-such-cc"), "DNNFUSION_CACHE_DIR": str(tmp_path)})
    _one_error_line(r, "no-such-cc")


def test_bad_input_shape_and_target(mlp_path, tmp_path):
    _one_error_line(run_cli("compile", mlp_path, "-o", tmp_path / "a", "--input-shape",
                            "x=2xQ", "-q"), "--input-shape")
    r = run_cli("compile", mlp_path, "-o", tmp_path / "a", "--target", "riscv")
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_output_is_foreign_directory(mlp_path, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    _one_error_line(run_cli("compile", mlp_path, "-o", tmp_path, "-q"),
                    "not a dnnfusion artifact")
    assert (tmp_path / "keep.txt").read_text() == "mine"

"""Artifact layout, code-injection safety, runtime input validation and refusals."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from compiler_core.compile import compile_model
from compiler_core.errors import DnnFusionError, ResourceLimitError, UnsupportedOperatorError
from compiler_core.runtime import ArtifactError, InferenceSession, InvalidArgument
from tests.compiler_core.codegen.util import (
    compile_and_check,
    const,
    model,
    node,
    plan,
    vi,
    weight,
)

EVIL = '*/ system("x"); /*\n"quote\' \\ #include <x>'


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    nodes = [node("MatMul", ["x", "w"], ["m"]), node("Relu", ["m"], ["y"])]
    p = model(nodes, [vi("x", [3, 4])], [vi("y", [3, 5])], [weight("w", [4, 5])])
    return compile_model(plan(p), output_dir=tmp_path_factory.mktemp("a") / "art")


def _copy(artifact, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(artifact, dst)
    return dst


def test_artifact_files_and_manifest(artifact):
    names = {p.name for p in artifact.iterdir()}
    assert names == {"manifest.json", "model.c", "model.so", "weights.bin", "plan.json",
                     "report.json"}
    m = json.loads((artifact / "manifest.json").read_text())
    assert m["schema_version"] == 1 and m["target"] == "host"
    assert m["inputs"] == [{"name": "x", "dtype": "float32", "shape": [3, 4]}]
    assert set(m["files"]) == names - {"manifest.json"}
    assert "-ffast-math" not in m["compiler"]["flags"]
    assert not any(p.name.startswith(".") for p in artifact.parent.iterdir())


def test_session_interface(artifact):
    sess = InferenceSession(artifact)
    (i,), (o,) = sess.get_inputs(), sess.get_outputs()
    assert (i.name, i.shape, i.type) == ("x", [3, 4], "tensor(float)")
    assert (o.name, o.shape, o.type) == ("y", [3, 5], "tensor(float)")
    x = np.ones((3, 4), np.float32)
    (y,) = sess.run(["y"], {"x": x})
    outs, times = sess.run_profiled(None, {"x": x})
    np.testing.assert_array_equal(outs[0], y)
    assert len(times) == 1 and times[0] >= 0


@pytest.mark.parametrize(
    ("feed", "message"),
    [
        ({"z": np.ones((3, 4), np.float32)}, "unknown input name 'z'"),
        ({}, "missing input 'x'"),
        ({"x": np.ones((3, 4), np.float64)}, "dtype tensor(double) given, tensor(float)"),
        ({"x": np.ones((4, 3), np.float32)}, "shape [4, 3] given, [3, 4] expected"),
    ],
)
def test_bad_inputs(artifact, feed, message):
    sess = InferenceSession(artifact)
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        sess.run(None, feed)
    with pytest.raises(InvalidArgument, match="unknown output name"):
        sess.run(["nope"], {"x": np.ones((3, 4), np.float32)})


def test_missing_weights(artifact, tmp_path):
    art = _copy(artifact, tmp_path)
    (art / "weights.bin").unlink()
    with pytest.raises(ArtifactError, match="missing file weights.bin"):
        InferenceSession(art)


def test_corrupted_weights(artifact, tmp_path):
    art = _copy(artifact, tmp_path)
    with open(art / "weights.bin", "r+b") as f:
        f.write(b"\xff\xff\xff\xff")
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        InferenceSession(art)
    with open(art / "weights.bin", "ab") as f:  # wrong size: the library refuses it too
        f.write(b"\0")
    with pytest.raises(ArtifactError, match="cannot map"):
        InferenceSession(art, verify=False)


def test_schema_version_mismatch(artifact, tmp_path):
    art = _copy(artifact, tmp_path)
    m = json.loads((art / "manifest.json").read_text())
    m["schema_version"] = 999
    (art / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="schema_version 999 is not supported"):
        InferenceSession(art)
    with pytest.raises(ArtifactError, match="no manifest.json"):
        InferenceSession(tmp_path)


def test_names_cannot_inject_code(tmp_path):
    nodes = [
        node("Mul", [EVIL + "x", "k" + EVIL], ["m" + EVIL], name=EVIL),
        node("Transpose", ["m" + EVIL], [EVIL + "y"], name="*/" + EVIL, perm=[1, 0]),
    ]
    p = model(nodes, [vi(EVIL + "x", [3, 4])], [vi(EVIL + "y", [4, 3])],
              [const("k" + EVIL, np.float32(2.0))])
    planned, out = compile_and_check(p, tmp_path, blocks=1)
    src = (out / "model.c").read_text()
    for bad in ("system", '"quote', "#include <x>", "*/ s"):
        assert bad not in src
    assert src.count("*/") == src.count("/*")


def test_unsupported_operator_is_refused(tmp_path):
    # Det: an operator with a registry row but no code generator (Hardmax, used here before,
    # has one since the operator-coverage work)
    p = model([node("Det", ["x"], ["y"])], [vi("x", [2, 3, 3])], [vi("y", [2])])
    with pytest.raises(UnsupportedOperatorError, match="Det"):
        compile_model(plan(p), output_dir=tmp_path / "a")
    assert not (tmp_path / "a").exists()
    assert list(tmp_path.iterdir()) == []  # no half-written artifact left behind


def test_memory_limit(tmp_path):
    p = model([node("MatMul", ["x", "w"], ["y"])], [vi("x", [3, 64])], [vi("y", [3, 64])],
              [weight("w", [64, 64])])
    with pytest.raises(ResourceLimitError, match="memory limit"):
        compile_model(plan(p), output_dir=tmp_path / "a", options={"memory_limit_bytes": 1000})


def test_bad_options_and_target(artifact, tmp_path):
    with pytest.raises(DnnFusionError, match="unknown compile option"):
        compile_model(None, output_dir=tmp_path / "a", options={"nope": 1})
    with pytest.raises(DnnFusionError, match="unknown target"):
        compile_model(None, target="gpu", output_dir=tmp_path / "a")


def test_recompile_replaces_artifact_but_not_foreign_dirs(tmp_path):
    p = model([node("Relu", ["x"], ["y"])], [vi("x", [2, 3])], [vi("y", [2, 3])])
    out = compile_model(plan(p), output_dir=tmp_path / "a")
    out = compile_model(plan(p), output_dir=tmp_path / "a")
    assert InferenceSession(out).run(None, {"x": -np.ones((2, 3), np.float32)})[0].sum() == 0
    foreign = tmp_path / "b"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(DnnFusionError, match="not a dnnfusion artifact"):
        compile_model(plan(p), output_dir=foreign)
    assert (foreign / "keep.txt").read_text() == "mine"


def test_progress_stages(tmp_path):
    p = model([node("Relu", ["x"], ["y"])], [vi("x", [2, 3])], [vi("y", [2, 3])])
    stages = []
    compile_model(plan(p), output_dir=tmp_path / "a", progress=stages.append)
    assert stages == ["generating", "building", "validating"]


def test_compile_model_from_proto(tmp_path):
    """The full flow: import, rewrite, plan, generate, build, validate."""
    p = model([node("Relu", ["x"], ["r"]), node("Exp", ["r"], ["y"])], [vi("x", [2, 3])],
              [vi("y", [2, 3])])
    stages = []
    out = compile_model(p, output_dir=tmp_path / "a", progress=stages.append)
    assert stages[:3] == ["importing", "rewriting", "planning"]
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(InferenceSession(out).run(None, {"x": x})[0],
                               np.exp(np.maximum(x, 0)), rtol=1e-6)

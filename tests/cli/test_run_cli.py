"""`dnnfusion run`: outputs, --outputs npz, --profile, --threads, and bad input (exit 2)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from compiler_core.compile import compile_model, pack_artifact
from dnnfusion.cli import main
from tests.cli.test_compile_cli import mlp, run_cli
from tests.compiler_core.codegen.util import plan

X = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 8)


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    return compile_model(plan(mlp()), output_dir=tmp_path_factory.mktemp("r") / "art")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    path = tmp_path_factory.mktemp("i") / "in.npz"
    np.savez(path, x=X)
    return path


def _expected(art):
    from compiler_core.runtime import InferenceSession

    return InferenceSession(art).run(None, {"x": X})[0]


def test_run_prints_outputs_and_writes_npz(art, inputs, tmp_path, capsys):
    out = tmp_path / "out.npz"
    assert main(["run", str(art), "--inputs", str(inputs), "--outputs", str(out),
                 "--threads", "1"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split() == ["y", "float32", "[2,", "4]"]
    assert "1 threads" in captured.err
    with np.load(out) as data:
        assert data.files == ["y"]
        np.testing.assert_array_equal(data["y"], _expected(art))


def test_run_archive(art, inputs, tmp_path, capsys):
    tgz = pack_artifact(art, tmp_path / "a.tar.gz")
    assert main(["run", str(tgz), "--inputs", str(inputs)]) == 0
    assert "y  float32  [2, 4]" in capsys.readouterr().out


def test_profile_shows_slowest_blocks_with_ops(art, inputs, capsys):
    assert main(["run", str(art), "--inputs", str(inputs), "--profile", "--runs", "3",
                 "--top", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"profile: \d+ fused blocks, median of 3 runs", out)
    rows = [ln for ln in out.splitlines() if re.match(r"\s+1\s+\d+\s+[\d.]+\s+[\d.]+%", ln)]
    assert len(rows) == 1
    assert "MatMul" in rows[0] and re.search(r"\bk\d+\b", rows[0])  # ops and kernel name


def _bad(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert needle in lines[0], lines[0]


def test_missing_artifact(tmp_path, inputs):
    _bad(["run", tmp_path / "nope", "--inputs", inputs], "no such artifact")


def test_corrupted_artifact(art, inputs, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(art, bad)
    with open(bad / "model.so", "r+b") as f:
        f.seek(200)
        f.write(b"\xde\xad")
    _bad(["run", bad, "--inputs", inputs], "checksum mismatch")


@pytest.mark.parametrize(
    ("arrays", "needle"),
    [
        ({"z": X}, "unknown input name 'z'"),
        ({"x": X.astype(np.float64)}, "dtype tensor(double) given"),
        ({"x": X.reshape(4, 4)}, "shape [4, 4] given, [2, 8] expected"),
        ({}, "missing input 'x'"),
    ],
)
def test_wrong_npz_contents(art, tmp_path, arrays, needle):
    path = tmp_path / "in.npz"
    np.savez(path, **arrays)
    _bad(["run", art, "--inputs", path], needle)


def test_bad_npz_files(art, tmp_path):
    (tmp_path / "text.npz").write_text("not numpy")
    _bad(["run", art, "--inputs", tmp_path / "text.npz"], "not an .npz file")
    np.save(tmp_path / "one.npy", X)
    _bad(["run", art, "--inputs", tmp_path / "one.npy"], "single .npy array")
    _bad(["run", art, "--inputs", tmp_path / "none.npz"], "no such file")


def test_bad_threads(art, inputs):
    _bad(["run", art, "--inputs", inputs, "--threads", "0"], "--threads")


def test_model_error_is_one_line_and_exit_2(tmp_path, capsys):
    """An integer division by zero inside the compiled model: `error: ...`, exit 2, no crash."""
    from tests.compiler_core.codegen.test_int_semantics import div_model

    art = compile_model(plan(div_model()), output_dir=tmp_path / "art")
    np.savez(tmp_path / "in.npz", b=np.array([3, 2, 4, 5], np.int32))
    assert main(["run", str(art), "--inputs", str(tmp_path / "in.npz")]) == 2
    err = capsys.readouterr().err
    assert err == "error: the compiled model divided by zero in block 0 (Div)\n"

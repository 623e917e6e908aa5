"""linux-arm64's SGEMM: Debian's static arm64 OpenBLAS (serial) when installed, the portable C
SGEMM as the fallback ($DNNFUSION_ARM64_BLAS forces either). The choice rules on a fake
multiarch tree; both runners built from a GEMM-heavy zoo model, run under qemu-aarch64 at two
threads, against ONNX Runtime."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from compiler_core.compile import compile_model
from compiler_core.errors import DnnFusionError
from compiler_core.runtime import InferenceSession
from compiler_core.target.static_blas import ENV_CHOICE, choose_blas, static_openblas
from compiler_core.target.targets import TARGETS

ARM = TARGETS["linux-arm64"]
TRIPLET = "aarch64-linux-gnu"


def _fake_tree(root: Path, version: str = "0.3.21") -> Path:
    """What libopenblas-serial-dev:arm64 installs, as far as the choice looks."""
    lib = root / "usr/lib" / TRIPLET / "openblas-serial"
    inc = root / "usr/include" / TRIPLET / "openblas-serial"
    lib.mkdir(parents=True)
    inc.mkdir(parents=True)
    (lib / "libopenblas.a").write_bytes(b"!<arch>\n")
    (inc / "cblas.h").write_text("/* cblas */\n")
    (inc / "openblas_config.h").write_text(f'#define OPENBLAS_VERSION " OpenBLAS {version} "\n')
    return root


def test_choice_static_openblas_when_installed(tmp_path):
    root = str(_fake_tree(tmp_path))
    got = choose_blas("openblas-static", TRIPLET, "auto", root=root)
    assert got.kind == "openblas-static"
    assert got.label == "openblas-0.3.21 (static, arm64, serial)"
    assert got.library == f"{root}/usr/lib/{TRIPLET}/openblas-serial/libopenblas.a"
    assert got.include == f"{root}/usr/include/{TRIPLET}/openblas-serial"
    assert choose_blas("openblas-static", TRIPLET, "openblas", root=root) == got
    assert choose_blas("openblas-static", TRIPLET, "", root=root) == got  # unset = auto


def test_choice_fallback_and_forcing(tmp_path):
    root = str(_fake_tree(tmp_path / "with"))
    forced = choose_blas("openblas-static", TRIPLET, " Portable ", root=root)
    assert forced.kind == "portable" and forced.label == f"portable (${ENV_CHOICE}=portable)"
    empty = str(tmp_path / "empty")
    fallback = choose_blas("openblas-static", TRIPLET, "auto", root=empty)
    assert fallback.kind == "portable"
    assert fallback.label == (f"portable (no static OpenBLAS for {TRIPLET}: apt-get install "
                              "libopenblas-serial-dev:arm64 (scripts/setup-apt.sh))")
    assert static_openblas(TRIPLET, empty) is None
    with pytest.raises(DnnFusionError, match=r"=openblas but no static OpenBLAS for aarch64"):
        choose_blas("openblas-static", TRIPLET, "openblas", root=empty)
    with pytest.raises(DnnFusionError, match=r"expected one of auto, openblas, portable"):
        choose_blas("openblas-static", TRIPLET, "mkl", root=root)
    assert choose_blas("openblas", choice="portable").kind == "openblas"  # host: not affected
    assert choose_blas("portable").label == "portable"


@pytest.fixture(scope="module")
def bert():
    from bench.zoo import ZOO

    assert shutil.which(ARM.compiler()[0]), "no aarch64 cross compiler: run scripts/setup-apt.sh"
    assert ARM.launcher() is not None, "no qemu-aarch64: run scripts/setup-apt.sh"
    entry = ZOO["bert_tiny_test"]
    feeds = entry.random_inputs(seed=3)
    want = ort.InferenceSession(str(entry.path()), providers=["CPUExecutionProvider"]).run(
        None, feeds)
    return entry, feeds, want


@pytest.mark.slow
@pytest.mark.parametrize("choice", ["openblas", "portable"])
def test_arm64_runner_matches_onnxruntime(bert, choice, tmp_path, monkeypatch):
    """``openblas`` fails (not skips) when libopenblas-serial-dev:arm64 is missing: it is a
    project dependency (scripts/setup-apt.sh)."""
    entry, feeds, want = bert
    monkeypatch.setenv(ENV_CHOICE, choice)
    art = compile_model(entry.path(), entry.input_shapes, "linux-arm64",
                        output_dir=tmp_path / choice)
    manifest = json.loads((art / "manifest.json").read_text())
    runner = (art / "model.run").read_bytes()
    assert runner[18] == 183  # ELF e_machine EM_AARCH64
    if choice == "openblas":
        assert manifest["blas"].startswith("openblas-0.3") and manifest["blas"].endswith(
            "(static, arm64, serial)")
        assert "portable_gemm.c" not in manifest["files"]
        shim = (art / "cblas.h").read_text()  # one sgemm call at a time (serial OpenBLAS)
        assert "#define scipy_cblas_sgemm(...)" in shim and "omp critical" in shim
        assert b"gotoblas" in runner and b"scipy_cblas_sgemm" not in runner
    else:
        assert manifest["blas"] == f"portable (${ENV_CHOICE}=portable)"
        assert {"portable_gemm.c", "cblas.h"} <= set(manifest["files"])
        assert b"gotoblas" not in runner and b"scipy_cblas_sgemm" in runner
    sess = InferenceSession(art, threads=2)
    got = sess.run(None, feeds)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)

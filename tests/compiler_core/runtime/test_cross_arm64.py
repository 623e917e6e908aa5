"""Target linux-arm64: the same C cross-compiled into a static runner (linking the static arm64
OpenBLAS), run under qemu-aarch64, gives the host build's outputs on real models (transformers
and a CNN). The portable-SGEMM fallback: test_arm64_blas.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import numpy as np
import pytest

from compiler_core.compile import compile_model, pack_artifact
from compiler_core.runtime import InferenceSession
from compiler_core.target.targets import TARGETS

ARM = TARGETS["linux-arm64"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def cross_toolchain():
    """The cross compiler and qemu are project dependencies (scripts/setup-apt.sh, run by
    .ci/run): missing ones fail the tests rather than skip them."""
    assert shutil.which(ARM.compiler()[0]), "no aarch64 cross compiler: run scripts/setup-apt.sh"
    assert ARM.launcher() is not None, "no qemu-aarch64: run scripts/setup-apt.sh"
MODELS = ["bert_tiny_test", "distilbert_tiny_test", "ppocr_mobile_v2_cls"]


@pytest.fixture(scope="module")
def zoo():
    from bench.zoo import ZOO

    return ZOO


@pytest.mark.parametrize("name", MODELS)
def test_arm64_matches_host(zoo, name, tmp_path):
    entry = zoo[name]
    path = entry.path()
    host = compile_model(path, entry.input_shapes, output_dir=tmp_path / "host")
    arm = compile_model(path, entry.input_shapes, "linux-arm64", output_dir=tmp_path / "arm")
    manifest = json.loads((arm / "manifest.json").read_text())
    assert manifest["target"] == "linux-arm64" and manifest["runner"] == "model.run"
    assert {"model.run", "runner.c", "cblas.h"} <= set(manifest["files"])
    # Debian's static arm64 OpenBLAS is a project dependency (scripts/setup-apt.sh): the default.
    assert manifest["blas"].startswith("openblas-") and "portable_gemm.c" not in manifest["files"]
    assert (arm / "model.run").read_bytes()[18] == 183  # ELF e_machine EM_AARCH64
    feeds = entry.random_inputs(seed=0)
    want = InferenceSession(host).run(None, feeds)
    sess = InferenceSession(arm, threads=2)
    assert sess.target == "linux-arm64" and sess.threads == 2
    t0 = time.perf_counter()
    got = sess.run(None, feeds)
    print(f"{name}: qemu run {time.perf_counter() - t0:.2f} s")
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-3, atol=1e-4)
    outs, times = sess.run_profiled(None, feeds)
    assert len(times) == len(manifest["blocks"]) and all(t >= 0 for t in times)
    np.testing.assert_array_equal(outs[0], got[0])


def test_runner_command_line(zoo, tmp_path):
    """What a phone user does through adb shell: raw files in, raw files out."""
    entry = zoo["bert_tiny_test"]
    arm = compile_model(entry.path(), entry.input_shapes, "linux-arm64",
                        output_dir=tmp_path / "arm")
    launcher = ARM.launcher()
    info = subprocess.run([*launcher, str(arm / "model.run"), "--info"], capture_output=True,
                          text=True, check=True).stdout
    assert "input 0 128 input_ids" in info and "output 0 4096 last_hidden_state" in info
    feeds = entry.random_inputs(seed=1)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    for n in names:
        feeds[n].tofile(tmp_path / f"{n}.bin")
    outs = [tmp_path / "o0.bin", tmp_path / "o1.bin"]
    res = subprocess.run([*launcher, str(arm / "model.run"), "-t", "1", "-r", "2", "-p",
                          str(arm / "weights.bin"), *[str(tmp_path / f"{n}.bin") for n in names],
                          *map(str, outs)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("block ") == json.loads(
        (arm / "manifest.json").read_text())["blocks"].__len__()
    assert "run_ms" in res.stdout
    want = InferenceSession(arm).run(None, feeds)[0]
    np.testing.assert_array_equal(np.fromfile(outs[0], np.float32).reshape(want.shape), want)
    # A wrong-sized input is refused with exit code 2.
    (tmp_path / "short.bin").write_bytes(b"\0" * 8)
    bad = subprocess.run([*launcher, str(arm / "model.run"), str(arm / "weights.bin"),
                          str(tmp_path / "short.bin"), *[str(tmp_path / f"{n}.bin")
                                                         for n in names[1:]], *map(str, outs)],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "expected exactly 128 bytes" in bad.stderr
    # The archive form works for runner artifacts too.
    tgz = pack_artifact(arm)
    np.testing.assert_array_equal(InferenceSession(tgz).run(None, feeds)[0], want)

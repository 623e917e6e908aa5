"""``dnnfusion submit`` against a real ``dnnfusion serve``: end to end as a user runs it (a
subprocess, output not a terminal), and every kind of bad input as one ``error:`` line with
exit code 2."""

from __future__ import annotations

import re
import socket
import subprocess
import tarfile

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from compiler_core.runtime import InferenceSession
from dnnfusion.cli import main
from tests.client.server import CLI, REPO, clean_env
from tests.service import onnx_models as m

pytestmark = pytest.mark.slow


def test_submit_end_to_end(service, tmp_path):
    model = tmp_path / "dyn.onnx"
    onnx.save(m.tiny_model(21, dynamic=True), model)
    out = tmp_path / "out" / "dyn.tar.gz"
    env = clean_env(DNNFUSION_URL=service.base_url, DNNFUSION_API_KEY=service.keys["alice"])
    done = subprocess.run(
        [*CLI, "submit", str(model), "--input-shape", "x=3x4", "-o", str(out), "--timeout", "300"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=400,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    fields = dict(re.match(r"(\S+(?: \S+)*?)\s{2,}(.*)", ln).groups() for ln in lines)
    assert fields["model"] == "dyn.onnx"
    assert re.fullmatch(r"2 -> 1 fused blocks \(2\.00x fewer kernels\)", fields["nodes"])
    assert re.fullmatch(r"ours \d+\.\d\d ms, ONNX Runtime \d+\.\d\d ms \(speed-up \d+\.\d\dx\)",
                        fields["latency"])
    assert fields["artifact"] == f"{out} (0.0 MiB, {out.stat().st_size} bytes)"
    # progress: plain lines (no terminal), the stages by name, the elapsed time first
    assert "\r" not in done.stderr and "Traceback" not in done.stderr
    assert re.search(r"^\[\s+\d+\.\d s\] importing done \(\d+\.\d s\)$", done.stderr, re.M)
    assert re.search(r"^\[\s+\d+\.\d s\] building done \(\d+\.\d s\)$", done.stderr, re.M)
    assert re.search(r"^\[\s+\d+\.\d s\] succeeded$", done.stderr, re.M)
    with tarfile.open(out) as tar:
        assert any(n.endswith("manifest.json") for n in tar.getnames())
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    session = InferenceSession(out)
    try:
        (ours,) = session.run(None, {"x": x})
    finally:
        session.close()
    (want,) = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})
    np.testing.assert_allclose(ours, want, rtol=1e-3, atol=1e-4)


def _fields(stdout: str) -> dict[str, str]:
    return dict(re.match(r"(\S+(?: \S+)*?)\s{2,}(.*)", ln).groups() for ln in stdout.splitlines())


def test_submit_twice_is_a_cache_hit(service, tmp_path):
    """The second identical submit is answered from the compile cache: the same artifact
    bytes, "cache hit" in the progress and the summary; --no-cache compiles again."""
    model = m.write(tmp_path / "cached.onnx", m.tiny_bytes(24))
    env = clean_env(DNNFUSION_URL=service.base_url, DNNFUSION_API_KEY=service.keys["alice"])
    runs = []
    for name, extra in (("first", []), ("again", []), ("forced", ["--no-cache"])):
        out = tmp_path / f"{name}.tar.gz"
        done = subprocess.run([*CLI, "submit", str(model), "-o", str(out), *extra],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, done.stderr
        runs.append((_fields(done.stdout), done.stderr, out.read_bytes()))
    (first, _, art1), (again, progress, art2), (forced, _, _) = runs
    assert "cache" not in first and "cache" not in forced
    assert again["cache"] == (f"hit: the results of compilation {first['compilation']} "
                              "(nothing compiled)")
    assert again["compilation"] != first["compilation"] and art2 == art1
    assert again["nodes"] == first["nodes"] and again["latency"] == first["latency"]
    assert re.search(r"^\[\s+\d+\.\d s\] compilation \S+ \(cache hit: the results of "
                     rf"compilation {first['compilation']}\)$", progress, re.M)
    assert forced["compilation"] not in (first["compilation"], again["compilation"])


def _submit(capsys, *argv: str) -> tuple[int, str]:
    code = main(["submit", *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, err
    return code, errors[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_submit_bad_input_is_one_line_and_exit_2(service, tmp_path, capsys):
    key = service.keys["alice"]
    tiny = m.write(tmp_path / "tiny.onnx", m.tiny_bytes(22))
    dynamic = tmp_path / "dynamic.onnx"
    onnx.save(m.tiny_model(23, dynamic=True), dynamic)
    common = ["--server", service.base_url, "-o", str(tmp_path / "a.tar.gz")]

    code, line = _submit(capsys, str(tmp_path / "missing.onnx"), "--api-key", key, *common)
    assert code == 2 and "missing.onnx: no such file or folder" in line
    code, line = _submit(capsys, str(tiny), "--input-shape", "x=1xfour", "--api-key", key,
                         *common)
    assert code == 2 and "dimensions must be integers" in line
    code, line = _submit(capsys, str(tiny), "--api-key", "wrong", *common)
    assert code == 2 and line == "error: invalid API key (HTTP 401)"
    code, line = _submit(capsys, str(tiny), *common)  # no key anywhere
    assert code == 2 and "no API key" in line
    code, line = _submit(capsys, str(tiny), "--api-key", key, "-o", str(tmp_path / "b"),
                         "--server", f"http://127.0.0.1:{_closed_port()}")
    assert code == 2 and "cannot reach the service" in line
    code, line = _submit(capsys, str(dynamic), "--api-key", key, *common)
    assert code == 2 and re.search(r"compilation \S+ failed: .*dynamic.*pin it", line)
    assert not (tmp_path / "a.tar.gz").exists() and not (tmp_path / "b").exists()

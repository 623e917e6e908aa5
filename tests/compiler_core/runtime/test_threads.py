"""Thread count per session and the OpenMP wait policy set before libgomp loads."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from compiler_core.errors import DnnFusionError
from compiler_core.runtime import InferenceSession
from compiler_core.runtime.threads import ENV_THREADS, resolve_threads

X = np.ones((3, 4), np.float32)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_resolve_threads(monkeypatch):
    monkeypatch.delenv(ENV_THREADS, raising=False)
    assert resolve_threads(None) == 0
    assert resolve_threads(3) == 3
    monkeypatch.setenv(ENV_THREADS, "2")
    assert resolve_threads(None) == 2
    assert resolve_threads(1) == 1  # the argument wins over the environment
    for bad in ("0", "-1", "two"):
        monkeypatch.setenv(ENV_THREADS, bad)
        with pytest.raises(DnnFusionError, match=ENV_THREADS):
            resolve_threads(None)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(DnnFusionError, match="positive integer"):
            resolve_threads(bad)


def test_session_threads(small_artifact, monkeypatch):
    monkeypatch.delenv(ENV_THREADS, raising=False)
    default = InferenceSession(small_artifact)
    assert default.threads >= 1
    one = InferenceSession(small_artifact, threads=1)
    assert one.threads == 1
    monkeypatch.setenv(ENV_THREADS, "3")
    assert InferenceSession(small_artifact).threads == 3
    with pytest.raises(DnnFusionError):
        InferenceSession(small_artifact, threads=0)
    gomp = ctypes.CDLL("libgomp.so.1")  # the copy the model library uses
    before = gomp.omp_get_max_threads()
    np.testing.assert_array_equal(one.run(None, {"x": X})[0], default.run(None, {"x": X})[0])
    assert gomp.omp_get_max_threads() == before  # a run restores the caller's setting


def _child(artifact, env_extra: dict, code: str) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_DISPLAY_ENV",
                        "DNNFUSION_WAIT_POLICY")}
    env.update(env_extra, OMP_DISPLAY_ENV="VERBOSE", PYTHONPATH=REPO)  # VERBOSE: spin count too
    script = textwrap.dedent(f"""
        import os
        from compiler_core.runtime import InferenceSession
        from compiler_core.runtime.threads import openmp_status
        s = InferenceSession({str(artifact)!r}, threads=2)
        {code}
        print("STATUS", openmp_status())
    """)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout + res.stderr


def test_passive_wait_policy_reaches_libgomp(small_artifact):
    out = _child(small_artifact, {"DNNFUSION_WAIT_POLICY": "passive"}, "")
    # libgomp prints its settings when it initializes (OMP_DISPLAY_ENV): it saw PASSIVE, so
    # idle threads do not spin at all.
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in out and "GOMP_SPINCOUNT = '0'" in out
    assert "'policy': 'set'" in out


def test_default_wait_policy_is_libgomps(small_artifact):
    out = _child(small_artifact, {}, "")
    # libgomp's default: spin 300,000 iterations, then sleep (it displays the policy as
    # PASSIVE with a non-zero spin count).
    assert "GOMP_SPINCOUNT = '300000'" in out and "'OMP_WAIT_POLICY': None" in out
    assert "'policy': 'libgomp default'" in out


def test_user_wait_policy_wins(small_artifact):
    out = _child(small_artifact, {"OMP_WAIT_POLICY": "ACTIVE"}, "")
    assert "OMP_WAIT_POLICY = 'ACTIVE'" in out and "'policy': 'user'" in out

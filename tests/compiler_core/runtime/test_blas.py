"""OpenBLAS kernel-set choice (compiler_core.target.blas) and the ISA clones of host kernels."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import textwrap

from compiler_core.target.blas import AVX512_CORETYPE, chosen_coretype, cpu_flags

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
AVX512 = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2"})


def test_choice_rules():
    assert chosen_coretype("", AVX512) == AVX512_CORETYPE
    assert chosen_coretype("auto", AVX512) == AVX512_CORETYPE
    assert chosen_coretype("", frozenset({"avx2", "avx512f"})) is None  # no BW/DQ/VL/CD
    assert chosen_coretype("inherit", AVX512) is None
    assert chosen_coretype(" Haswell ", frozenset()) == "Haswell"


def _child(artifact, env_extra: dict, early_import: bool = False) -> dict:
    """Load the artifact in a fresh process; return the kernel set OpenBLAS runs, the
    environment's OPENBLAS_CORETYPE afterwards and the runtime's status. ``early_import``:
    import the scipy-openblas32 wheel (which loads OpenBLAS) before the runtime."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "DNNFUSION_OPENBLAS_CORETYPE")}
    env.update(env_extra, PYTHONPATH=REPO)
    script = textwrap.dedent(f"""
        import ctypes, os
        {"import scipy_openblas32" if early_import else ""}
        from compiler_core.runtime import InferenceSession
        from compiler_core.target.blas import blas_status
        s = InferenceSession({str(artifact)!r})
        import scipy_openblas32
        lib = ctypes.CDLL(os.path.join(scipy_openblas32.get_lib_dir(),
                                       scipy_openblas32.get_library(True)))
        lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
        print(repr(dict(core=lib.scipy_openblas_get_corename().decode(),
                        env=os.environ.get("OPENBLAS_CORETYPE"), status=blas_status())))
    """)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return eval(res.stdout.strip().splitlines()[-1])  # noqa: S307 - our own repr


def test_importing_the_wheel_first_is_too_late(small_artifact):
    """The child imports scipy_openblas32 before the runtime: OpenBLAS is loaded with the
    environment's choice and the runtime reports that it came too late."""
    out = _child(small_artifact, {"OPENBLAS_CORETYPE": "Nehalem"}, early_import=True)
    assert out["core"].lower() == "nehalem"
    assert out["status"]["how"] == "OpenBLAS was already loaded"


def test_explicit_choice_overrides_environment_for_the_load_only(small_artifact):
    script_env = {"OPENBLAS_CORETYPE": "Nehalem", "DNNFUSION_OPENBLAS_CORETYPE": "Sandybridge"}
    out = _child(small_artifact, script_env)
    assert out["core"].lower() == "sandybridge"  # OpenBLAS loaded with our choice
    assert out["env"] == "Nehalem"  # ... and the user's environment is back
    assert out["status"] == {"coretype": "Sandybridge",
                             "how": "set from $DNNFUSION_OPENBLAS_CORETYPE or the CPU"}


def test_auto_choice_follows_the_cpu(small_artifact):
    out = _child(small_artifact, {"OPENBLAS_CORETYPE": "Nehalem"})
    expected = chosen_coretype("", cpu_flags())  # SkylakeX on an AVX-512 machine, else None
    assert out["core"].lower() == (expected or "Nehalem").lower()
    assert out["env"] == "Nehalem"


def test_inherit_keeps_the_environment(small_artifact):
    out = _child(small_artifact, {"OPENBLAS_CORETYPE": "Nehalem",
                                                  "DNNFUSION_OPENBLAS_CORETYPE": "inherit"})
    assert out["core"].lower() == "nehalem"
    assert out["status"]["how"] == "environment / OpenBLAS detection"


def test_host_kernels_have_three_isa_clones(small_artifact):
    """On x86-64 every kernel (and its OpenMP body) exists for AVX-512, AVX2 and baseline,
    picked by an ifunc resolver at load time."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        assert "DNF_KERNEL" in (small_artifact / "model.c").read_text()
        return
    nm = shutil.which("nm")
    assert nm, "binutils nm is needed (it comes with the C compiler)"
    syms = subprocess.run([nm, str(small_artifact / "model.so")], capture_output=True,
                          text=True, check=True).stdout
    for clone in ("k0.arch_x86_64_v4", "k0.arch_x86_64_v3", "k0.default", "k0.resolver"):
        assert clone in syms, clone

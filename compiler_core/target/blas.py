"""OpenBLAS kernel selection for the GEMM calls of compiled models.

The ``scipy-openblas32`` library is built with ``DYNAMIC_ARCH``: when it loads it picks a
kernel set for the CPU, or the one named by ``$OPENBLAS_CORETYPE``, a variable read by every
OpenBLAS in the process (numpy's too) and sometimes pinned machine-wide to an old kernel set
for reproducibility. Measured on an AMD Zen 5 machine with ``OPENBLAS_CORETYPE=Haswell`` in
its environment, one thread, square SGEMM n = 512 and 2048: 125-128 GFLOP/s as ``Haswell``
(AVX2), 236-240 GFLOP/s as ``SkylakeX`` (AVX-512); ONNX Runtime's own kernels dispatch on the
CPU and ignore the variable.

So the library of a compiled model is loaded with a kernel set chosen like ONNX Runtime
chooses its own, from the CPU: :func:`loading_openblas` sets ``OPENBLAS_CORETYPE`` for the
duration of the load only (OpenBLAS reads it once, in its constructor) and restores the
previous value, so other libraries loaded later see the user's environment.
``$DNNFUSION_OPENBLAS_CORETYPE`` decides:

- unset or ``auto``: ``SkylakeX`` when the CPU has the AVX-512 subsets that kernel set needs
  (F, CD, BW, DQ, VL in ``/proc/cpuinfo``), else the environment is left as it is;
- ``inherit``: the environment is left as it is (``$OPENBLAS_CORETYPE`` or OpenBLAS's detection);
- another value: that kernel set (an OpenBLAS core name, e.g. ``Haswell``).

One OpenBLAS serves every model library of a process, so the choice is made when the first
one loads; :func:`blas_status` reports it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from compiler_core.target.procmaps import library_loaded

ENV_CORETYPE = "OPENBLAS_CORETYPE"
ENV_CHOICE = "DNNFUSION_OPENBLAS_CORETYPE"
OPENBLAS_LIB = "libscipy_openblas.so"  # the scipy-openblas32 library (numpy's is another one)
AVX512_CORETYPE = "SkylakeX"
_AVX512_FLAGS = frozenset({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})

_lock = threading.Lock()
_state: dict[str, str | None] = {"coretype": None, "how": None}


def cpu_flags(path: str = "/proc/cpuinfo") -> frozenset[str]:
    """The feature flags of the first CPU in ``path`` (empty when unreadable: not Linux)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def chosen_coretype(choice: str, flags: frozenset[str]) -> str | None:
    """The kernel set to load OpenBLAS with for ``$DNNFUSION_OPENBLAS_CORETYPE`` = ``choice``
    on a CPU with ``flags``; None: leave the environment as it is."""
    choice = choice.strip()
    if choice.lower() == "inherit":
        return None
    if choice and choice.lower() != "auto":
        return choice
    return AVX512_CORETYPE if flags >= _AVX512_FLAGS else None


@contextmanager
def loading_openblas() -> Iterator[None]:
    """Run the body (a ``dlopen`` of a model library) with ``OPENBLAS_CORETYPE`` set to the
    chosen kernel set, restoring the environment afterwards. Serialized by a lock."""
    with _lock:
        first = _state["how"] is None and not library_loaded(OPENBLAS_LIB)
        core = chosen_coretype(os.environ.get(ENV_CHOICE, ""), cpu_flags()) if first else None
        previous = os.environ.get(ENV_CORETYPE)
        if core is not None:
            os.environ[ENV_CORETYPE] = core
        try:
            yield
        finally:
            if core is not None:
                if previous is None:
                    del os.environ[ENV_CORETYPE]
                else:
                    os.environ[ENV_CORETYPE] = previous
        if _state["how"] is None:
            if core is not None:
                _state.update(coretype=core, how=f"set from ${ENV_CHOICE} or the CPU")
            elif first:
                _state.update(coretype=previous, how="environment / OpenBLAS detection")
            else:
                _state.update(coretype=None, how="OpenBLAS was already loaded")


def blas_status() -> dict[str, str | None]:
    """The kernel set the model libraries' OpenBLAS was loaded with, and how it was chosen
    (``None`` before the first library loads)."""
    return dict(_state)

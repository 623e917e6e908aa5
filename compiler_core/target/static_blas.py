"""Which SGEMM a build links: the decision only (paths and a label, no C text).

``host``: OpenBLAS from the ``scipy-openblas32`` wheel (shared, symbols prefixed ``scipy_``).

``linux-arm64`` (``Target.blas == "openblas-static"``): Debian's arm64 OpenBLAS, **serial**
flavour, linked statically into the runner when its multiarch ``-dev`` package is installed
(``libopenblas-serial-dev:arm64``, ``scripts/setup-apt.sh``: ``libopenblas.a`` in
``/usr/lib/aarch64-linux-gnu/openblas-serial``, its ``cblas.h`` in
``/usr/include/aarch64-linux-gnu/openblas-serial``), else the portable C SGEMM
(``compiler_core/codegen/portable_gemm.py``).

Why serial: the generated kernels split each GEMM into OpenMP row/column tiles and call
``cblas_sgemm`` once per tile with OpenBLAS set to one thread (``dnf_create`` calls
``openblas_set_num_threads(1)``), so the runner's thread setting (``-t``) is the only thread
count. The pthread flavour would start its own idle pool of one thread per CPU at load; the
openmp flavour's ``openblas_set_num_threads(1)`` calls ``omp_set_num_threads(1)``, which would
change the OpenMP default of our own kernels. Debian builds the serial flavour with
``USE_LOCKING``, so concurrent calls from the tiles are safe (its buffer allocator takes a lock).
It is a ``DYNAMIC_ARCH`` build: the kernel set is chosen at start-up from the CPU
(``$OPENBLAS_CORETYPE`` overrides; under qemu's default CPU it is the generic ``armv8`` one).

Measured (qemu-aarch64 7.2 with an instruction-count TCG plugin, runner at one thread, generic
``armv8`` kernels): guest instructions per inference, OpenBLAS vs portable, bert_tiny_test
0.78 M vs 1.9 M, light_resnet50 1.58 G vs 5.47 G (3.5x fewer). The price is size: the
``DYNAMIC_ARCH`` library brings every core's kernels, so the static runner grows from about
0.95 MB to 13.5 MB (bert_tiny_test).

``$DNNFUSION_ARM64_BLAS``: ``auto`` (default: OpenBLAS when installed, else portable),
``openblas`` (OpenBLAS or a :class:`~compiler_core.errors.DnnFusionError`), ``portable``
(always the portable SGEMM, e.g. to compare the two).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from compiler_core.errors import DnnFusionError

ENV_CHOICE = "DNNFUSION_ARM64_BLAS"
CHOICES = ("auto", "openblas", "portable")
FLAVOUR = "serial"
_DEB_ARCH = {"aarch64-linux-gnu": "arm64"}


@dataclass(frozen=True)
class BlasChoice:
    """The SGEMM a build links.

    ``kind``: ``"openblas"`` (the host wheel), ``"openblas-static"`` (``library`` is a static
    ``libopenblas.a``, ``include`` the folder of its ``cblas.h``) or ``"portable"``;
    ``label``: what the manifest records, e.g. ``"openblas-0.3.21 (static, arm64, serial)"`` or
    ``"portable (...why...)"``."""

    kind: str
    label: str
    library: str = ""
    include: str = ""


def static_openblas(multiarch: str, root: str = "/") -> BlasChoice | None:
    """Debian's static serial OpenBLAS for the multiarch triplet ``multiarch`` (e.g.
    ``aarch64-linux-gnu``) under ``root``, or None when it is not installed."""
    lib = Path(root, "usr/lib", multiarch, f"openblas-{FLAVOUR}", "libopenblas.a")
    inc = Path(root, "usr/include", multiarch, f"openblas-{FLAVOUR}")
    config = inc / "openblas_config.h"
    if not (lib.is_file() and (inc / "cblas.h").is_file() and config.is_file()):
        return None
    found = re.search(r'OPENBLAS_VERSION\s+"\s*OpenBLAS\s+([^\s"]+)', config.read_text())
    version = found.group(1) if found else "unknown"
    arch = _DEB_ARCH.get(multiarch, multiarch)
    return BlasChoice("openblas-static", f"openblas-{version} (static, {arch}, {FLAVOUR})",
                      str(lib), str(inc))


def apt_package(multiarch: str) -> str:
    """The Debian package that ships the static OpenBLAS for ``multiarch``."""
    return f"libopenblas-{FLAVOUR}-dev:{_DEB_ARCH.get(multiarch, multiarch)}"


def choose_blas(blas: str, multiarch: str = "", choice: str | None = None,
                root: str = "/") -> BlasChoice:
    """The SGEMM for a target whose ``Target.blas`` is ``blas`` (``"openblas"``,
    ``"openblas-static"`` or ``"portable"``). ``choice`` defaults to ``$DNNFUSION_ARM64_BLAS``;
    it matters only for ``"openblas-static"``. Raises DnnFusionError (one line) for an unknown
    choice, or for ``openblas`` when the library is not installed."""
    if blas == "openblas":
        return BlasChoice("openblas", "openblas (scipy-openblas32 wheel, shared)")
    if blas == "portable":
        return BlasChoice("portable", "portable")
    if blas != "openblas-static":
        raise DnnFusionError(f"unknown BLAS kind {blas!r}")
    raw = os.environ.get(ENV_CHOICE, "") if choice is None else choice
    want = raw.strip().lower() or "auto"
    if want not in CHOICES:
        raise DnnFusionError(f"${ENV_CHOICE}={raw!r}: expected one of {', '.join(CHOICES)}")
    if want == "portable":
        return BlasChoice("portable", f"portable (${ENV_CHOICE}=portable)")
    found = static_openblas(multiarch, root)
    if found is not None:
        return found
    missing = (f"no static OpenBLAS for {multiarch}: apt-get install {apt_package(multiarch)}"
               " (scripts/setup-apt.sh)")
    if want == "openblas":
        raise DnnFusionError(f"${ENV_CHOICE}=openblas but {missing}")
    return BlasChoice("portable", f"portable ({missing})")

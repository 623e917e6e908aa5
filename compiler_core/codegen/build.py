"""Compiling model.c for a target, with a content-addressed build cache.

``host`` (:func:`build_library`): ``$CC`` (default ``cc``) builds ``model.so``. Flags keep IEEE
semantics (no fast-math, no FMA contraction) so results match ONNX Runtime to rounding, and
avoid ``-march=native`` so the library runs on any x86-64/aarch64 host of the same OS. OpenBLAS
comes from the ``scipy-openblas32`` wheel (symbols prefixed ``scipy_``), linked with an rpath
to its folder.

Other targets (:func:`build_target`, see :mod:`compiler_core.target.targets`): a cross
compiler builds a static runner executable from ``model.c``, ``runner.c`` and the SGEMM that
:func:`compiler_core.target.static_blas.choose_blas` picks: a static OpenBLAS (``libopenblas.a``
on the link line, plus a ``cblas.h`` that maps the kernels' ``scipy_``-prefixed names to
OpenBLAS's plain ones and includes OpenBLAS's own header), or ``portable_gemm.c`` + its
``cblas.h``. :class:`BuildInfo` says which (``blas``: the manifest's label).

Cache key: sha256 of (target, every source file, flags, compiler identity, the BLAS label with
its version); cache folder
``$DNNFUSION_CACHE_DIR`` (default ``~/.cache/dnnfusion``). Builds of the same key in parallel
processes are harmless (each renames a complete file into place).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from compiler_core.errors import DnnFusionError
from compiler_core.target.static_blas import BlasChoice, choose_blas
from compiler_core.target.targets import TARGETS, Target

CFLAGS = TARGETS["host"].cflags
DEFAULT_TIMEOUT_S = 600.0


class BuildError(DnnFusionError):
    """The C compiler is missing, failed, or ran out of time."""


@dataclass(frozen=True)
class BuildInfo:
    cc: str
    cc_version: str
    flags: list[str]
    cache_key: str
    cached: bool
    blas: str = ""  # the SGEMM linked (BlasChoice.label)


def cache_dir() -> Path:
    return Path(os.environ.get("DNNFUSION_CACHE_DIR") or Path.home() / ".cache" / "dnnfusion")


def compiler() -> list[str]:
    return TARGETS["host"].compiler()


@lru_cache(maxsize=8)
def _compiler_version(cc: tuple[str, ...], hint: str = "") -> str:
    try:
        out = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BuildError(f"C compiler {' '.join(cc)!r} is not usable: {e}{hint}") from e
    if out.returncode != 0:
        raise BuildError(f"C compiler {' '.join(cc)!r} failed to report its version{hint}")
    return out.stdout.splitlines()[0] if out.stdout else ""


def blas_flags() -> list[str]:
    from compiler_core.target.blas import loading_openblas

    with loading_openblas():  # importing the package loads OpenBLAS
        import scipy_openblas32 as blas

    lib = blas.get_lib_dir()
    return [
        f"-I{blas.get_include_dir()}",
        f"-L{lib}",
        f"-l{blas.get_library()}",
        f"-Wl,-rpath,{lib}",
        "-lm",
    ]


# The generated kernels call the scipy-openblas32 names (host); a static OpenBLAS has plain ones.
OPENBLAS_SHIM_H = """\
/* dnnfusion: the kernels call scipy-openblas32's names; this build links a plain OpenBLAS
   (see compiler_core/target/static_blas.py). -I. comes first, OpenBLAS's folder next. */
#ifndef DNF_OPENBLAS_SHIM_H
#define DNF_OPENBLAS_SHIM_H
#include_next <cblas.h>
/* Debian's serial OpenBLAS is built without USE_LOCKING: calls from several OpenMP threads
   at once can share its buffers and give wrong results (OpenBLAS issues #1755, #2126), as a
   CI run of the bert_tiny_test runner under qemu did. One call at a time. */
#define scipy_cblas_sgemm(...) \
    do { _Pragma("omp critical(dnf_blas)") cblas_sgemm(__VA_ARGS__); } while (0)
#define scipy_openblas_set_num_threads openblas_set_num_threads
#endif
"""


def blas_sources(blas: BlasChoice) -> dict[str, str]:
    """Sources a build adds for ``blas`` (name -> text), kept in a runner artifact."""
    if blas.kind == "portable":
        from compiler_core.codegen.portable_gemm import CBLAS_H, PORTABLE_GEMM_C

        return {"cblas.h": CBLAS_H, "portable_gemm.c": PORTABLE_GEMM_C}
    if blas.kind == "openblas-static":
        return {"cblas.h": OPENBLAS_SHIM_H}
    return {}


def _link_flags(blas: BlasChoice) -> list[str]:
    if blas.kind == "openblas":
        return blas_flags()
    if blas.kind == "openblas-static":
        return ["-I.", f"-I{blas.include}", blas.library, "-lm"]
    return ["-I.", "-lm"]


def build_library(source: str, out_path: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> BuildInfo:
    """Compile ``source`` to the host library ``out_path`` (a copy of the cached library when
    present)."""
    return build_target("host", source, out_path, timeout=timeout)


def build_target(
    target: str | Target,
    source: str,
    out_path: Path,
    *,
    extra_sources: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    blas: BlasChoice | None = None,
) -> BuildInfo:
    """Build ``source`` (model.c) plus ``extra_sources`` (name -> text; ``.c`` files are
    compiled, others are headers) for ``target`` into ``out_path``, linking ``blas`` (default:
    :func:`~compiler_core.target.static_blas.choose_blas` for the target; its sources are added
    unless ``extra_sources`` has them). Raises :class:`BuildError` (one line) when the compiler
    is missing or fails, DnnFusionError for a bad ``$DNNFUSION_ARM64_BLAS``."""
    t = TARGETS[target] if isinstance(target, str) else target
    if blas is None:
        blas = choose_blas(t.blas, t.multiarch)
    cc = t.compiler()
    hint = ""
    if t.name != "host":
        hint = (f" (target {t.name} needs a cross compiler: apt-get install gcc-aarch64-linux-gnu,"
                f" or set ${t.cc_env})")
    version = _compiler_version(tuple(cc), hint)
    files = {**blas_sources(blas), "model.c": source, **(extra_sources or {})}
    flags = [*t.cflags, *_link_flags(blas)]
    key = hashlib.sha256(
        "\0".join([t.name, " ".join(cc), version, blas.label, *flags,
                   *(f"{n}\0{s}" for n, s in sorted(files.items()))]).encode()
    ).hexdigest()
    suffix = Path(t.output).suffix or ".bin"
    entry = cache_dir() / key[:2] / f"{key}{suffix}"
    cached = entry.is_file()
    if not cached:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=entry.parent, prefix=".build-") as tmp:
            for name, text in files.items():
                (Path(tmp) / name).write_text(text)
            out = Path(tmp) / t.output
            sources = [n for n in files if n.endswith(".c")]
            cmd = [*cc, *t.cflags, *sources, "-o", str(out), *_link_flags(blas)]
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                     cwd=tmp)
            except subprocess.TimeoutExpired as e:
                raise BuildError(f"C compiler timed out after {timeout:g} s") from e
            except OSError as e:
                raise BuildError(f"C compiler {' '.join(cc)!r} could not run: {e}{hint}") from e
            if res.returncode != 0:
                first = next((ln for ln in res.stderr.splitlines() if "error" in ln), "")
                raise BuildError(f"C compiler failed (exit {res.returncode}): {first[:300]}")
            os.replace(out, entry)  # atomic: concurrent builds of the same key are harmless
    shutil.copyfile(entry, out_path)
    shutil.copymode(entry, out_path)
    return BuildInfo(" ".join(cc), version, flags, key, cached, blas.label)

"""Compiling model.c for a target, with a content-addressed build cache.

``host`` (:func:`build_library`): ``$CC`` (default ``cc``) builds ``model.so``. Flags keep IEEE
semantics (no fast-math, no FMA contraction) so results match ONNX Runtime to rounding, and
avoid ``-march=native`` so the library runs on any x86-64/aarch64 host of the same OS. OpenBLAS
comes from the ``scipy-openblas32`` wheel (symbols prefixed ``scipy_``), linked with an rpath
to its folder.

Other targets (:func:`build_target`, see :mod:`compiler_core.target.targets`): a cross
compiler builds a static runner executable from ``model.c``, ``runner.c`` and, where OpenBLAS
is not available, ``portable_gemm.c`` + its ``cblas.h``.

Cache key: sha256 of (target, every source file, flags, compiler identity); cache folder
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


def _target_files(target: Target, source: str, extra: Mapping[str, str]) -> dict[str, str]:
    files = {"model.c": source, **extra}
    if target.blas == "portable":
        from compiler_core.codegen.portable_gemm import CBLAS_H, PORTABLE_GEMM_C

        files.setdefault("cblas.h", CBLAS_H)
        files.setdefault("portable_gemm.c", PORTABLE_GEMM_C)
    return files


def _link_flags(target: Target) -> list[str]:
    return blas_flags() if target.blas == "openblas" else ["-I.", "-lm"]


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
) -> BuildInfo:
    """Build ``source`` (model.c) plus ``extra_sources`` (name -> text; ``.c`` files are
    compiled, others are headers) for ``target`` into ``out_path``."""
    t = TARGETS[target] if isinstance(target, str) else target
    cc = t.compiler()
    hint = ""
    if t.name != "host":
        hint = (f" (target {t.name} needs a cross compiler: apt-get install gcc-aarch64-linux-gnu,"
                f" or set ${t.cc_env})")
    version = _compiler_version(tuple(cc), hint)
    files = _target_files(t, source, extra_sources or {})
    flags = [*t.cflags, *_link_flags(t)]
    key = hashlib.sha256(
        "\0".join([t.name, " ".join(cc), version, *flags,
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
            cmd = [*cc, *t.cflags, *sources, "-o", str(out), *_link_flags(t)]
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
    return BuildInfo(" ".join(cc), version, flags, key, cached)

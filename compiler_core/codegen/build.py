"""Compiling model.c into a shared library, with a content-addressed build cache.

The compiler is ``$CC`` (default ``cc``). Flags keep IEEE semantics (no fast-math, no FMA
contraction) so results match ONNX Runtime to rounding, and avoid ``-march=native`` so the
library runs on any x86-64/aarch64 host of the same OS. OpenBLAS comes from the
``scipy-openblas32`` wheel (symbols prefixed ``scipy_``), linked with an rpath to its folder.
Cache key: sha256 of (source, flags, compiler identity); cache folder ``$DNNFUSION_CACHE_DIR``
(default ``~/.cache/dnnfusion``).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from compiler_core.errors import DnnFusionError

CFLAGS = ("-std=c11", "-O3", "-fPIC", "-shared", "-fopenmp", "-ffp-contract=off")
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
    return shlex.split(os.environ.get("CC") or "cc")


@lru_cache(maxsize=8)
def _compiler_version(cc: tuple[str, ...]) -> str:
    try:
        out = subprocess.run([*cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BuildError(f"C compiler {' '.join(cc)!r} is not usable: {e}") from e
    if out.returncode != 0:
        raise BuildError(f"C compiler {' '.join(cc)!r} failed to report its version")
    return out.stdout.splitlines()[0] if out.stdout else ""


def blas_flags() -> list[str]:
    import scipy_openblas32 as blas

    lib = blas.get_lib_dir()
    return [
        f"-I{blas.get_include_dir()}",
        f"-L{lib}",
        f"-l{blas.get_library()}",
        f"-Wl,-rpath,{lib}",
        "-lm",
    ]


def build_library(source: str, out_path: Path, *, timeout: float = DEFAULT_TIMEOUT_S) -> BuildInfo:
    """Compile ``source`` to ``out_path`` (a copy of the cached library when present)."""
    cc = compiler()
    version = _compiler_version(tuple(cc))
    flags = [*CFLAGS, *blas_flags()]
    key = hashlib.sha256(
        "\0".join([source, " ".join(cc), version, *flags]).encode()
    ).hexdigest()
    entry = cache_dir() / key[:2] / f"{key}.so"
    cached = entry.is_file()
    if not cached:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=entry.parent, prefix=".build-") as tmp:
            src = Path(tmp) / "model.c"
            lib = Path(tmp) / "model.so"
            src.write_text(source)
            cmd = [*cc, *CFLAGS, str(src), "-o", str(lib), *blas_flags()]
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired as e:
                raise BuildError(f"C compiler timed out after {timeout:g} s") from e
            except OSError as e:
                raise BuildError(f"C compiler {' '.join(cc)!r} could not run: {e}") from e
            if res.returncode != 0:
                first = next((ln for ln in res.stderr.splitlines() if "error" in ln), "")
                raise BuildError(f"C compiler failed (exit {res.returncode}): {first[:300]}")
            os.replace(lib, entry)  # atomic: concurrent builds of the same key are harmless
    shutil.copyfile(entry, out_path)
    return BuildInfo(" ".join(cc), version, flags, key, cached)

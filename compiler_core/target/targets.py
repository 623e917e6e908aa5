"""Compilation targets: where an artifact runs and how its C is built.

``host``: ``model.c`` becomes ``model.so`` (the system C compiler, OpenBLAS from the
``scipy-openblas32`` wheel), loaded in-process by the runtime with ctypes.

``linux-arm64``: the same ``model.c`` is cross-compiled with ``aarch64-linux-gnu-gcc`` into a
**static runner binary** ``model.run`` (``runner.c`` is its ``main``: it reads the inputs from
files and writes the outputs to files), so it runs on any aarch64 Linux kernel, an Android
phone through ``adb shell`` included, with no library to install. Its SGEMM is Debian's arm64
OpenBLAS (serial flavour) linked statically when ``libopenblas-serial-dev:arm64`` is installed,
else ``portable_gemm.c`` (a blocked C SGEMM with the ``cblas_sgemm`` signature the kernels
call); ``$DNNFUSION_ARM64_BLAS`` forces either (:mod:`compiler_core.target.static_blas`). On an
x86-64 host the runtime runs the binary under ``qemu-aarch64`` (slow, but the same instructions
as on the device). Debian packages: ``gcc-aarch64-linux-gnu``, ``qemu-user`` and
``libopenblas-serial-dev:arm64`` (``scripts/setup-apt.sh``).

Environment: ``$CC`` overrides the host compiler; ``$DNNFUSION_CC_LINUX_ARM64`` the cross
compiler; ``$DNNFUSION_QEMU_AARCH64`` the emulator.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
from dataclasses import dataclass

from compiler_core.errors import DnnFusionError


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "library" (dlopen'd in-process) or "runner" (a static executable)
    cc_env: str  # environment variable naming the compiler
    cc_default: str
    cflags: tuple[str, ...]
    machine: str  # platform.machine() of a host that runs the output natively
    # "openblas" (scipy-openblas32 wheel), "openblas-static" (Debian's static OpenBLAS for
    # ``multiarch`` when installed, else portable) or "portable" (portable_gemm.c)
    blas: str
    output: str  # artifact file name of the build output
    emulator_env: str = ""
    emulator: tuple[str, ...] = ()  # emulator executables, first found wins
    multiarch: str = ""  # Debian multiarch triplet of the target's libraries

    def compiler(self) -> list[str]:
        return shlex.split(os.environ.get(self.cc_env) or self.cc_default)

    def runs_natively(self) -> bool:
        return platform.machine().lower() in (self.machine, *_ALIASES.get(self.machine, ()))

    def launcher(self) -> list[str] | None:
        """Command prefix to execute a runner on this host: [] natively, [qemu] emulated,
        None when neither is possible."""
        if self.runs_natively():
            return []
        override = os.environ.get(self.emulator_env) if self.emulator_env else None
        if override:
            return shlex.split(override)
        for exe in self.emulator:
            path = shutil.which(exe)
            if path:
                return [path]
        return None


_ALIASES = {"aarch64": ("arm64",), "x86_64": ("amd64",)}

# IEEE semantics everywhere (no fast-math, no FMA contraction in the kernels) so results match
# ONNX Runtime to rounding; no -march=native so an artifact runs on any CPU of its target.
# -ffp-contract=off: no fused multiply-add, so results match a plain evaluation order;
# -fno-trapping-math: lets gcc vectorize clamp-style activations (HardSwish, Clip), results
# unchanged (the generated code never reads floating-point exception flags).
# -fno-tree-vrp: GCC 12.2 (Debian 12) at -O3 with AVX2/AVX-512 folds the mask of a vectorized
# conditional load to a constant wrongly: the branch-per-input loops of Concat (and constant Pad)
# read zeros for the first elements of a later input (fuzz/corpus/regressions, issue #8; the
# loops still vectorize without VRP).
_COMMON = ("-std=c11", "-O3", "-fopenmp", "-ffp-contract=off", "-fno-trapping-math",
           "-fno-tree-vrp")

TARGETS: dict[str, Target] = {
    "host": Target(
        name="host",
        kind="library",
        cc_env="CC",
        cc_default="cc",
        cflags=(*_COMMON, "-fPIC", "-shared"),
        machine=platform.machine().lower(),
        blas="openblas",
        output="model.so",
    ),
    "linux-arm64": Target(
        name="linux-arm64",
        kind="runner",
        cc_env="DNNFUSION_CC_LINUX_ARM64",
        cc_default="aarch64-linux-gnu-gcc",
        cflags=(*_COMMON, "-static", "-march=armv8-a"),
        machine="aarch64",
        blas="openblas-static",
        output="model.run",
        emulator_env="DNNFUSION_QEMU_AARCH64",
        emulator=("qemu-aarch64", "qemu-aarch64-static"),
        multiarch="aarch64-linux-gnu",
    ),
}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise DnnFusionError(
            f"unknown target {name!r}; supported: {', '.join(TARGETS)}"
        ) from None

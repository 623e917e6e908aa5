"""Device classes: which devices give the same numbers.

A device class key is ``<os>-<arch>-<isa>-<cores>c[-<MHz>mhz]-<cpu model slug>``, e.g.
``linux-x86_64-x86-64-v4-2c-amd-epyc``: stable for one machine type (the same CPU model, ISA
level, core count, maximum frequency and OS), different when any of them changes. Keys longer
than 128 characters keep their first 119 and a hash of the whole.

``linux-arm64`` artifacts are planned, unless told otherwise, with
:data:`DEFAULT_ARM64_CLASS`: the class the device farm measures its reference phone under.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from compiler_core.errors import DnnFusionError

# The stated default class for the linux-arm64 target (a generic ARMv8.2-A phone CPU, 8 cores).
DEFAULT_ARM64_CLASS = "android-aarch64-armv8.2-a-8c-generic"
DEFAULT_ARM64_THREADS = 4  # threads a linux-arm64 artifact is planned for (big cores)
KEY_LIMIT = 128
_KEY_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,127}")


@dataclass(frozen=True)
class DeviceClassInfo:
    """The parts a device class key is made of (None when unknown)."""

    cpu_model: str | None
    isa: str | None
    cores: int | None
    max_mhz: int | None
    os: str | None
    arch: str | None = None

    @property
    def key(self) -> str:
        parts = [self.os or "unknown-os", self.arch or "unknown-arch", self.isa or "unknown-isa",
                 f"{self.cores or 0}c"]
        if self.max_mhz:
            parts.append(f"{self.max_mhz}mhz")
        parts.append(_slug(self.cpu_model or "unknown-cpu"))
        key = "-".join(_slug(p) for p in parts)
        if len(key) > KEY_LIMIT:
            key = f"{key[:KEY_LIMIT - 9]}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"
        return key


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "x"


def check_key(key: str) -> str:
    """``key`` if it is a well-formed device class key, else :class:`DnnFusionError`."""
    if not _KEY_RE.fullmatch(key):
        raise DnnFusionError(
            f"--device-class {key[:80]!r}: expected lower-case letters, digits, '.', '_' and "
            "'-' (at most 128 characters)"
        )
    return key


def _cpuinfo() -> dict[str, str]:
    info: dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return info
    for line in text.splitlines():
        k, sep, v = line.partition(":")
        if sep and k.strip() not in info:
            info[k.strip()] = v.strip()
    return info


def _x86_level(flags: set[str]) -> str:
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    v3 = {"avx2", "fma", "bmi2", "avx"}
    v2 = {"sse4_2", "popcnt", "ssse3"}
    for level, need in (("x86-64-v4", v4 | v3 | v2), ("x86-64-v3", v3 | v2), ("x86-64-v2", v2)):
        if need <= flags:
            return level
    return "x86-64"


def _arm_level(features: set[str]) -> str:
    level = "armv8.2-a" if {"asimddp", "asimdhp"} & features else "armv8-a"
    return level + ("+sve" if "sve" in features else "")


def host_device_class() -> DeviceClassInfo:
    """This machine's device class (reads ``/proc/cpuinfo`` and ``/sys``; Linux)."""
    info = _cpuinfo()
    arch = platform.machine().lower()
    if arch in ("x86_64", "amd64"):
        isa = _x86_level(set(info.get("flags", "").split()))
        model = info.get("model name")
    elif arch in ("aarch64", "arm64"):
        isa = _arm_level(set(info.get("Features", "").split()))
        model = info.get("Hardware") or info.get("model name") or (
            f"arm-{info.get('CPU implementer', '?')}-{info.get('CPU part', '?')}")
    else:
        isa, model = arch, info.get("model name")
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    mhz = None
    try:
        khz = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text()
        mhz = int(khz.strip()) // 1000
    except (OSError, ValueError):
        pass
    return DeviceClassInfo(cpu_model=model, isa=isa, cores=cores, max_mhz=mhz,
                           os=platform.system().lower(), arch=arch)


def host_temperature_c() -> float | None:
    """The first thermal zone's temperature in °C, None when the machine exposes none."""
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*/temp")):
        try:
            return int(zone.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
    return None


def default_threads() -> int:
    """The thread count artifacts run with by default on this machine (one per usable CPU)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_device_class(target: str) -> str:
    """Whose numbers decide a plan for ``target`` when no class is given."""
    if target == "host":
        return host_device_class().key
    if target == "linux-arm64":
        return DEFAULT_ARM64_CLASS
    raise DnnFusionError(f"no default device class for target {target!r}")

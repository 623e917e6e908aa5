"""What a phone is and how it is doing, read through adbutils: its device class (``getprop``
and ``/sys/devices/system/cpu``), its big cores, its temperature and battery."""

from __future__ import annotations

import re
from dataclasses import dataclass

import adbutils

from profiling.device import DeviceClassInfo


@dataclass(frozen=True)
class PhoneIdentity:
    """``info``: the device class parts; ``model``: ``ro.product.model``; ``abi``:
    ``ro.product.cpu.abi``; ``max_khz``: max frequency per core (kHz, index = core)."""

    serial: str
    model: str
    abi: str
    info: DeviceClassInfo
    max_khz: tuple[int, ...]

    @property
    def big_cores(self) -> tuple[int, ...]:
        """The cores of the fastest cluster; all of them when every core has the same max."""
        top = max(self.max_khz, default=0)
        return tuple(i for i, f in enumerate(self.max_khz) if f == top)

    @property
    def taskset_mask(self) -> str | None:
        """Hex affinity mask of :attr:`big_cores`, or None when the clusters do not differ."""
        if len(set(self.max_khz)) <= 1:
            return None
        return format(sum(1 << i for i in self.big_cores), "x")


@dataclass(frozen=True)
class PhoneStatus:
    """``temperature_c``: the hottest thermal zone (°C) or None; ``battery_pct``: or None."""

    temperature_c: float | None
    battery_pct: float | None


def _sh(dev: adbutils.AdbDevice, cmd: str, timeout: float = 20) -> str:
    return str(dev.shell(cmd, timeout=timeout)).strip()


def _cpu_list(text: str) -> list[int]:
    """``0-3,5`` -> [0, 1, 2, 3, 5]."""
    out: list[int] = []
    for part in text.strip().split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part.strip():
            out.append(int(part))
    return out


def identify(dev: adbutils.AdbDevice) -> PhoneIdentity:
    """Read a phone's identity. Raises :class:`adbutils.AdbError` when it does not answer and
    ValueError when what it answers does not parse."""
    prop = {k: _sh(dev, f"getprop {k}") for k in (
        "ro.product.model", "ro.board.platform", "ro.soc.model", "ro.product.cpu.abi",
        "ro.build.version.release")}
    cores = _cpu_list(_sh(dev, "cat /sys/devices/system/cpu/possible"))
    khz = []
    for i in cores:
        text = _sh(dev, f"cat /sys/devices/system/cpu/cpu{i}/cpufreq/cpuinfo_max_freq")
        khz.append(int(text) if text.isdigit() else 0)
    features: set[str] = set()
    for line in _sh(dev, "cat /proc/cpuinfo").splitlines():
        if line.lower().startswith("features"):
            features |= set(line.partition(":")[2].split())
    abi = prop["ro.product.cpu.abi"]
    arch = "aarch64" if abi.startswith("arm64") else (abi or None)
    isa = ("armv8.2-a" if {"asimddp", "asimdhp"} & features else "armv8-a") \
        if arch == "aarch64" else None
    release = prop["ro.build.version.release"]
    info = DeviceClassInfo(
        cpu_model=prop["ro.soc.model"] or prop["ro.board.platform"] or None, isa=isa,
        cores=len(cores) or None, max_mhz=(max(khz) // 1000) if any(khz) else None,
        os=f"android-{release}" if release else "android", arch=arch)
    return PhoneIdentity(dev.serial, prop["ro.product.model"], abi, info, tuple(khz))


_LEVEL = re.compile(r"^\s*level:\s*(\d+)", re.M)


def status(dev: adbutils.AdbDevice) -> PhoneStatus:
    """The hottest ``/sys/class/thermal/thermal_zone*/temp`` (millidegrees -> °C) and the
    battery level of ``dumpsys battery``. Raises :class:`adbutils.AdbError` when unplugged."""
    temps = []
    for name in _sh(dev, "ls /sys/class/thermal").split():
        if name.startswith("thermal_zone"):
            text = _sh(dev, f"cat /sys/class/thermal/{name}/temp")
            if text.lstrip("-").isdigit():
                temps.append(int(text) / 1000)
    m = _LEVEL.search(_sh(dev, "dumpsys battery"))
    return PhoneStatus(max(temps) if temps else None, float(m.group(1)) if m else None)

"""What a simulated phone is: model, SoC, ABI, CPU clusters, thermal zones, battery.

A profile is a frozen dataclass loaded from a JSON (or YAML, with pyyaml) file; the simulator
answers ``getprop``, ``/sys`` and ``dumpsys battery`` from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


class ProfileError(ValueError):
    """A profile file that cannot be read or describes an impossible phone."""


@dataclass(frozen=True)
class Cluster:
    """CPU cores sharing one max frequency: ``cores`` are core indices, ``max_freq_khz`` in kHz."""

    cores: tuple[int, ...]
    max_freq_khz: int


@dataclass(frozen=True)
class ThermalZone:
    """One ``/sys/class/thermal/thermal_zoneN``: ``type`` name and ``temp_c`` in degrees Celsius."""

    type: str
    temp_c: float


@dataclass(frozen=True)
class PhoneProfile:
    """A phone as the agent sees it through adb.

    ``clusters`` list the cores from little to big; the core count is the sum of their cores.
    ``battery_level`` is a percentage (0..100), ``battery_temp_c`` in degrees Celsius.
    """

    model: str
    manufacturer: str
    device: str
    board_platform: str
    soc_model: str
    abi: str
    android_release: str
    sdk: int
    clusters: tuple[Cluster, ...]
    thermal_zones: tuple[ThermalZone, ...]
    battery_level: int = 80
    battery_temp_c: float = 30.0
    serialno: str = "SIMPHONE0001"
    extra_props: dict[str, str] = field(default_factory=dict)

    @property
    def core_count(self) -> int:
        return sum(len(c.cores) for c in self.clusters)

    def max_freq_khz(self, core: int) -> int:
        """The max frequency of core ``core`` in kHz; KeyError for a core the phone lacks."""
        for c in self.clusters:
            if core in c.cores:
                return c.max_freq_khz
        raise KeyError(core)

    def props(self) -> dict[str, str]:
        """The ``getprop`` table (name -> value)."""
        p = {
            "ro.product.model": self.model,
            "ro.product.manufacturer": self.manufacturer,
            "ro.product.brand": self.manufacturer.lower(),
            "ro.product.name": self.device,
            "ro.product.device": self.device,
            "ro.board.platform": self.board_platform,
            "ro.soc.model": self.soc_model,
            "ro.product.cpu.abi": self.abi,
            "ro.product.cpu.abilist": self.abi,
            "ro.build.version.release": self.android_release,
            "ro.build.version.sdk": str(self.sdk),
            "ro.serialno": self.serialno,
            "ro.hardware": self.board_platform,
        }
        p.update(self.extra_props)
        return p


def profile_from_dict(d: dict) -> PhoneProfile:
    """Build a profile from its JSON form; ProfileError names the first bad field."""
    if not isinstance(d, dict):
        raise ProfileError("profile: expected a mapping at the top level")
    try:
        clusters = tuple(Cluster(tuple(int(i) for i in c["cores"]), int(c["max_freq_khz"]))
                         for c in d["clusters"])
        zones = tuple(ThermalZone(str(z["type"]), float(z["temp_c"])) for z in d["thermal_zones"])
        prof = PhoneProfile(
            model=str(d["model"]), manufacturer=str(d.get("manufacturer", "Simulated")),
            device=str(d.get("device", "simphone")), board_platform=str(d["board_platform"]),
            soc_model=str(d.get("soc_model", d["board_platform"])), abi=str(d["abi"]),
            android_release=str(d["android_release"]), sdk=int(d.get("sdk", 33)),
            clusters=clusters, thermal_zones=zones,
            battery_level=int(d.get("battery_level", 80)),
            battery_temp_c=float(d.get("battery_temp_c", 30.0)),
            serialno=str(d.get("serialno", "SIMPHONE0001")),
            extra_props={str(k): str(v) for k, v in d.get("extra_props", {}).items()},
        )
    except KeyError as e:
        raise ProfileError(f"profile: missing field {e.args[0]!r}") from None
    except (TypeError, ValueError) as e:
        raise ProfileError(f"profile: bad value ({e})") from None
    cores = sorted(i for c in prof.clusters for i in c.cores)
    if not cores or cores != list(range(len(cores))):
        raise ProfileError(f"profile: cluster cores must be 0..N-1 exactly once, got {cores}")
    if not 0 <= prof.battery_level <= 100:
        raise ProfileError(f"profile: battery_level {prof.battery_level} is not in 0..100")
    return prof


def load_profile(path: str | Path) -> PhoneProfile:
    """Read a ``.json`` (or ``.yaml``/``.yml``, needs pyyaml) profile file.

    Raises ProfileError with a one-line message for an unreadable or invalid file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ProfileError(f"profile {path}: {e.strerror}") from None
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as e:  # noqa: BLE001 - any parse error is one line for the user
        raise ProfileError(f"profile {path}: not valid {path.suffix[1:] or 'json'}: {e}") from None
    return profile_from_dict(data)


DEFAULT_PROFILE = Path(__file__).with_name("profiles") / "sim-sd865.json"

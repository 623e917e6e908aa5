"""The mutable side of a simulated phone: temperatures that rise with runs, and the options
that make it misbehave (unplug mid-run, heat, slowness)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from device_agent.simphone.profile import PhoneProfile


@dataclass(frozen=True)
class Faults:
    """How the phone misbehaves.

    ``unplug_after_s``: seconds after a binary run starts at which the phone vanishes (the
    connections drop and the port stops listening), whether or not the run has ended by then;
    None never.
    ``heat_c_per_run``: degrees Celsius every thermal zone and the battery gain per binary run.
    ``slow_factor``: a binary run lasts this many times its real duration (>= 1).
    """

    unplug_after_s: float | None = None
    heat_c_per_run: float = 0.0
    slow_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.slow_factor < 1:
            raise ValueError(f"slow_factor {self.slow_factor} is below 1")
        if self.unplug_after_s is not None and self.unplug_after_s < 0:
            raise ValueError(f"unplug_after_s {self.unplug_after_s} is negative")


class PhoneState:
    """Temperatures (degrees Celsius) and the run counter, safe across stream threads."""

    def __init__(self, profile: PhoneProfile, faults: Faults) -> None:
        self.profile = profile
        self.faults = faults
        self._lock = threading.Lock()
        self._zone_temps = [z.temp_c for z in profile.thermal_zones]
        self._battery_temp = profile.battery_temp_c
        self.runs = 0

    def zone_temp_c(self, i: int) -> float:
        with self._lock:
            return self._zone_temps[i]

    def battery_temp_c(self) -> float:
        with self._lock:
            return self._battery_temp

    def cool(self, degrees_c: float) -> None:
        """Lower every thermal zone and the battery by ``degrees_c`` (a phone cooling down)."""
        with self._lock:
            self._zone_temps = [t - degrees_c for t in self._zone_temps]
            self._battery_temp -= degrees_c

    def record_run(self) -> None:
        """One binary run happened: count it and heat the phone by ``heat_c_per_run``."""
        with self._lock:
            self.runs += 1
            d = self.faults.heat_c_per_run
            self._zone_temps = [t + d for t in self._zone_temps]
            self._battery_temp += d

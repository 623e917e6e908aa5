"""A simulated Android phone for tests: an adbd on loopback that the real adb server attaches
with ``adb connect``. Only the phone is simulated; adb, adbutils and the agent are real."""

from device_agent.simphone.adbd import SimPhone
from device_agent.simphone.profile import (
    DEFAULT_PROFILE,
    Cluster,
    PhoneProfile,
    ProfileError,
    ThermalZone,
    load_profile,
)
from device_agent.simphone.state import Faults

__all__ = ["DEFAULT_PROFILE", "Cluster", "Faults", "PhoneProfile", "ProfileError", "SimPhone",
           "ThermalZone", "load_profile"]

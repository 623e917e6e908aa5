"""Device class keys: stable, readable, validated."""

from __future__ import annotations

import pytest

from compiler_core.errors import DnnFusionError
from profiling.device import (
    DEFAULT_ARM64_CLASS,
    DeviceClassInfo,
    check_key,
    default_device_class,
    host_device_class,
)


def test_key_is_made_of_the_parts_and_changes_with_each():
    a = DeviceClassInfo("AMD EPYC 7B13", "x86-64-v3", 8, 3500, "linux", "x86_64")
    assert a.key == "linux-x86-64-x86-64-v3-8c-3500mhz-amd-epyc-7b13"
    for other in (DeviceClassInfo("AMD EPYC 7B13", "x86-64-v4", 8, 3500, "linux", "x86_64"),
                  DeviceClassInfo("AMD EPYC 7B13", "x86-64-v3", 4, 3500, "linux", "x86_64"),
                  DeviceClassInfo("AMD EPYC 7B13", "x86-64-v3", 8, 2800, "linux", "x86_64"),
                  DeviceClassInfo("Intel Xeon", "x86-64-v3", 8, 3500, "linux", "x86_64"),
                  DeviceClassInfo("AMD EPYC 7B13", "x86-64-v3", 8, 3500, "android", "x86_64")):
        assert other.key != a.key
    long = DeviceClassInfo("x" * 300, "armv8-a", 8, None, "android", "aarch64")
    assert len(long.key) == 128 and check_key(long.key) == long.key


def test_host_class_is_stable_and_valid():
    assert host_device_class().key == host_device_class().key
    assert check_key(host_device_class().key)
    assert default_device_class("host") == host_device_class().key
    assert default_device_class("linux-arm64") == DEFAULT_ARM64_CLASS == check_key(
        DEFAULT_ARM64_CLASS)


@pytest.mark.parametrize("bad", ["", "Upper", "a b", "a;drop", "-lead", "x" * 129])
def test_malformed_keys_are_refused(bad):
    with pytest.raises(DnnFusionError, match="--device-class"):
        check_key(bad)

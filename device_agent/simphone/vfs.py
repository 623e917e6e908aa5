"""The phone's file system: read-only virtual files (``/sys``, ``/proc``) computed from the
profile and state, and ``/data/local/tmp`` mapped onto a sandbox directory on the host.

No path outside the sandbox is ever opened on the host: every phone path is normalized, and
one under ``/data/local/tmp`` must still resolve (symlinks followed) inside the sandbox.
"""

from __future__ import annotations

import posixpath
from pathlib import Path

from device_agent.simphone.state import PhoneState

DEVICE_TMP = "/data/local/tmp"


class PhonePathError(OSError):
    """A phone path the simulator refuses: outside the sandbox, or read-only."""


def normalize(path: str, cwd: str = "/") -> str:
    """The absolute, normalized phone path of ``path`` (relative to ``cwd``)."""
    return posixpath.normpath(posixpath.join(cwd, path)).replace("//", "/")


class PhoneFS:
    """Resolves phone paths: ``virtual(path)`` gives /sys and /proc text, ``host(path)`` the
    sandbox file a ``/data/local/tmp`` path maps to."""

    def __init__(self, state: PhoneState, sandbox: Path) -> None:
        self.state = state
        self.sandbox = sandbox.resolve()
        self.sandbox.mkdir(parents=True, exist_ok=True)

    def in_sandbox(self, path: str) -> bool:
        p = normalize(path)
        return p == DEVICE_TMP or p.startswith(DEVICE_TMP + "/")

    def host(self, path: str) -> Path:
        """The host path of phone path ``path``; PhonePathError when it is not in the sandbox."""
        p = normalize(path)
        if not self.in_sandbox(p):
            raise PhonePathError(f"{p}: Read-only file system")
        rel = p[len(DEVICE_TMP):].lstrip("/")
        hp = (self.sandbox / rel) if rel else self.sandbox
        real = hp.resolve()
        if real != self.sandbox and self.sandbox not in real.parents:
            raise PhonePathError(f"{p}: Permission denied")
        return hp

    def virtual_files(self) -> dict[str, str]:
        """Every virtual file (phone path -> text)."""
        prof, st = self.state.profile, self.state
        n = prof.core_count
        files = {
            "/sys/devices/system/cpu/online": f"0-{n - 1}\n",
            "/sys/devices/system/cpu/possible": f"0-{n - 1}\n",
            "/sys/devices/system/cpu/present": f"0-{n - 1}\n",
            "/proc/cpuinfo": "".join(f"processor\t: {i}\nBogoMIPS\t: 38.40\nFeatures\t: fp asimd"
                                     " evtstrm aes pmull sha1 sha2 crc32\n\n" for i in range(n)),
        }
        for i in range(n):
            base = f"/sys/devices/system/cpu/cpu{i}/cpufreq"
            f = prof.max_freq_khz(i)
            files[f"{base}/cpuinfo_max_freq"] = f"{f}\n"
            files[f"{base}/scaling_max_freq"] = f"{f}\n"
            files[f"{base}/scaling_cur_freq"] = f"{f}\n"
            files[f"/sys/devices/system/cpu/cpu{i}/online"] = "1\n"
        for i, z in enumerate(prof.thermal_zones):
            base = f"/sys/class/thermal/thermal_zone{i}"
            files[f"{base}/type"] = f"{z.type}\n"
            files[f"{base}/temp"] = f"{round(st.zone_temp_c(i) * 1000)}\n"
        return files

    def virtual_dirs(self) -> set[str]:
        dirs = set()
        for p in self.virtual_files():
            d = posixpath.dirname(p)
            while d not in dirs and d != "/":
                dirs.add(d)
                d = posixpath.dirname(d)
        return dirs | {"/", "/data", "/data/local"}

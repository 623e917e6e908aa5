"""Which shared libraries the process has loaded (Linux ``/proc/self/maps``).

The runtime's settings for libgomp and OpenBLAS are read by those libraries once, when they
load; :func:`library_loaded` tells whether that moment has passed.
"""

from __future__ import annotations

import os


def library_loaded(prefix: str) -> bool:
    """Whether a mapped file's name starts with ``prefix`` (``"libgomp.so"`` matches
    ``libgomp.so.1.0.0``; ``"libscipy_openblas.so"`` does not match numpy's
    ``libscipy_openblas64_-….so``). False when the maps cannot be read (not Linux)."""
    try:
        with open("/proc/self/maps") as f:
            return any(os.path.basename(line.rstrip()).startswith(prefix) for line in f)
    except OSError:
        return False

"""Byte counts as people write them: ``parse_size("10G")`` and ``format_bytes(10 * 2**30)``.

Units are binary: K, M, G, T are 1024, 1024**2, 1024**3, 1024**4 bytes, written alone or followed
by ``B`` or ``iB`` (``10G`` = ``10GB`` = ``10GiB``), upper or lower case; a bare number is bytes.
"""

from __future__ import annotations

import re
from decimal import Decimal

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``text`` in bytes (an int >= 0, a fraction rounded down: ``1.5K`` = 1536).

    Raises ``ValueError`` naming ``text`` when it is not a number with an optional unit.
    """
    match = _SIZE.fullmatch(text)
    if match is None or (match.group(2) == "" and text.strip().lower().endswith("ib")):
        raise ValueError(f"{text!r} is not a size (expected e.g. 500M, 10G, 1T or a byte count)")
    number, unit = match.groups()
    return int(Decimal(number) * _UNITS[unit.upper()])  # exact, even for 20-digit counts


def format_bytes(n: int) -> str:
    """``n`` bytes for people: ``"512 B"``, ``"1.5 KiB"``, ``"10.0 GiB"`` (one decimal above B)."""
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"

"""Structured logs: one JSON object a line on stderr (``ts``, ``level``, ``event`` and fields)."""

from __future__ import annotations

import json
import sys
import time


def log(event: str, level: str = "info", **fields) -> None:
    """Write ``{"ts": <unix s>, "level": level, "event": event, **fields}`` to stderr."""
    doc = {"ts": round(time.time(), 3), "level": level, "event": event, **fields}
    print(json.dumps(doc, default=str), file=sys.stderr, flush=True)

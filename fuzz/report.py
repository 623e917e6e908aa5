"""Progress lines, failure signatures and the JSON summary under ``fuzz/results/``."""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from fuzz.case import ROOT

RESULTS = ROOT / "results"
MAX_SAVED_PER_SIGNATURE = 3


def signature(outcome: dict) -> str:
    """What a failure is, without the details that differ between inputs (numbers, names)."""
    lines = [ln for ln in str(outcome.get("detail", "")).strip().splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    frames = [ln.strip() for ln in lines if ln.strip().startswith("File ")]
    where = frames[-1] if frames else ""
    text = f"{outcome.get('code')} {where} {last}"
    return re.sub(r"'[^']*'|\"[^\"]*\"|\d+", "#", text)[:300]


class Tally:
    """Counts per category, distinct failure signatures, and a progress line."""

    def __init__(self, label: str, total: int, every: int = 100) -> None:
        self.label = label
        self.total = total
        self.every = every
        self.counts: Counter[str] = Counter()
        self.signatures: Counter[str] = Counter()
        self.start = time.monotonic()
        self.done = 0

    def add(self, category: str) -> None:
        self.counts[category] += 1

    def failure(self, outcome: dict) -> bool:
        """Record a failure; True when its input should be saved (first few per signature)."""
        sig = signature(outcome)
        self.signatures[sig] += 1
        return self.signatures[sig] <= MAX_SAVED_PER_SIGNATURE

    def step(self) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            rate = self.done / max(time.monotonic() - self.start, 1e-9)
            counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
            print(f"[fuzz {self.label}] {self.done}/{self.total} ({rate:.1f}/s) {counts}",
                  file=sys.stderr, flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.start


def write_summary(name: str, summary: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return path

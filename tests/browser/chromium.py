"""Debian's Chromium driven by Playwright for Python (never ``playwright install``).

The browser is the one ``scripts/setup-apt.sh`` installs (``/usr/bin/chromium``, or
``$DNNFUSION_CHROMIUM``); Playwright only talks to it through ``executable_path``. A missing
browser or a missing Playwright is a test failure naming the set-up step, never a skip.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# No sandbox (tests run as root in CI containers), no GPU, and nothing that reaches the network
# on its own: the dashboard must not fetch anything from the internet at run time.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
SETUP_HINT = "run `bash scripts/setup-apt.sh` (Debian package chromium)"


def chromium_path() -> Path:
    """Path of the Chromium executable; fails the test (with the set-up step) if absent."""
    wanted = os.environ.get("DNNFUSION_CHROMIUM") or "/usr/bin/chromium"
    found = shutil.which(wanted)
    if found is None:
        pytest.fail(f"no Chromium at {wanted}: {SETUP_HINT}", pytrace=False)
    return Path(found)


def sync_playwright():
    """Playwright's sync entry point; fails the test (with the install step) if not installed."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        pytest.fail(
            "Playwright for Python is missing: python -m pip install -e '.[test]' "
            "(and never `playwright install`; the browser is Debian's chromium)",
            pytrace=False,
        )
    return start()

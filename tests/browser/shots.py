"""Screenshots of the dashboard pages: test artifacts, and optionally the committed set.

Every shot goes to the session's pytest temporary directory; with
``DNNFUSION_SCREENSHOTS_DIR=docs/screenshots`` it is also written there (the set the README
shows). Viewport-sized PNGs (1280x800).
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.sync_api import Page

from tests.service.procs import REPO


class Shots:
    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        committed = os.environ.get("DNNFUSION_SCREENSHOTS_DIR")
        self.committed = (REPO / committed) if committed else None

    def take(self, page: Page, name: str, *, committed: bool = True) -> Path:
        """Save ``<name>.png`` of the visible page; returns the artifact's path.
        ``committed=False``: an artifact only (states that depend on test order)."""
        path = self.artifacts / f"{name}.png"
        png = page.screenshot(path=path)
        if committed and self.committed is not None:
            self.committed.mkdir(parents=True, exist_ok=True)
            (self.committed / f"{name}.png").write_bytes(png)
        return path

"""The stage display of ``dnnfusion submit``: plain lines without a terminal, a live line on
one; every finished stage shown with the server's time, even one no poll saw running."""

from __future__ import annotations

import io
import re

from dnnfusion.client.job import CompilationStatus
from dnnfusion.commands.submit import Progress


def status(state: str, stage: str | None = None, **stages_ms: float) -> CompilationStatus:
    return CompilationStatus.from_json({
        "id": "j", "state": state, "stage": stage, "error": None, "attempts": 1,
        "timings": {"stages_ms": stages_ms}, "summary": {},
    })


POLLS = [
    status("queued"),
    status("running", "importing"),
    status("running", "importing"),
    status("running", "building", importing=1200.0, planning=300.0),  # planning never seen
    status("succeeded", "storing", importing=1200.0, planning=300.0, building=2500.0,
           storing=100.0),
]


def test_plain_lines_without_a_terminal():
    out = io.StringIO()
    progress = Progress(out, live=False)
    for s in POLLS:
        progress(s)
    progress.finish()
    lines = [re.sub(r"^\[\s*\d+\.\d s\] ", "", ln) for ln in out.getvalue().splitlines()]
    assert lines == [
        "queued", "running", "importing ...", "importing done (1.2 s)", "planning done (0.3 s)",
        "building ...", "building done (2.5 s)", "storing done (0.1 s)", "succeeded",
    ]
    assert "\r" not in out.getvalue()


def test_a_live_line_on_a_terminal():
    out = io.StringIO()
    progress = Progress(out, live=True)
    progress.upload(1 << 20, 4 << 20)
    for s in POLLS:
        progress(s)
    progress.finish()
    text = out.getvalue()
    assert "\r\033[K[" in text and "uploading 25% of 4.0 MiB" in text
    assert re.search(r"\r\033\[K\[\s*\d+\.\d s\] importing \(\d+\.\d s\)(?!\n)", text)
    finals = [seg.split("\r\033[K")[-1] for seg in text.split("\n")[:-1]]
    assert [re.sub(r"^\[\s*\d+\.\d s\] ", "", f) for f in finals][-2:] == [
        "storing done (0.1 s)", "succeeded"]
    assert text.endswith("\r\033[K")  # the live line is cleared at the end

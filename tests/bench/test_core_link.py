"""bench.core_link: the round trip of a cache line between CPUs 0 and 1."""

from __future__ import annotations

import os
import shutil

import pytest

from bench import core_link


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or not (os.environ.get("CC") or shutil.which("cc")),
                    reason="needs 2 CPUs and a C compiler (the probe's own conditions)")
def test_round_trip_is_measured():
    ns = core_link.round_trip_ns()
    # a round trip is two cache-line transfers: tens of ns on one die, at most a few us
    assert ns is not None and 5.0 < ns < 20_000.0


def test_one_cpu_or_no_compiler_gives_none(monkeypatch):
    monkeypatch.setattr(core_link.os, "cpu_count", lambda: 1)
    assert core_link.round_trip_ns() is None
    monkeypatch.setattr(core_link.os, "cpu_count", lambda: 2)
    monkeypatch.setenv("CC", "/nonexistent/cc")
    assert core_link.round_trip_ns() is None

"""Every input the fuzzers saved (it crashed, hung or gave wrong numbers before a fix) is
replayed: plan exits 0/2 with one line, upload answers 2xx/4xx, a graph compiles to the same
numbers as ONNX Runtime (or is refused)."""

from __future__ import annotations

import pytest

from fuzz.case import regression_dirs
from fuzz.child import Runner
from fuzz.replay import replay

pytestmark = pytest.mark.slow  # every saved fuzz input replayed in a child process

DIRS = regression_dirs()


@pytest.fixture(scope="module")
def runners():
    made = {"plan": Runner("plan", 60), "upload": Runner("upload", 60),
            "diff": Runner("diff", 600)}
    yield made
    for r in made.values():
        r.close()


def test_there_are_saved_regressions():
    kinds = {d.name.split("-")[0] for d in DIRS}
    assert {"plan", "upload", "diff"} <= kinds


@pytest.mark.parametrize("directory", DIRS, ids=[d.name for d in DIRS])
def test_saved_input_is_handled(directory, runners):
    out = replay(directory, runners)
    assert out["ok"], out

"""The child-process runner counts hangs and crashes instead of dying with them."""

from __future__ import annotations

import signal

from fuzz.child import Runner


def test_answer_hang_and_death_are_reported_and_the_runner_recovers():
    with Runner("probe", timeout=60) as run:
        assert run(("sleep", 0)) == {"ok": True, "code": "sleep", "detail": ""}
        hang = run(("sleep", 30), timeout=1)
        assert hang["ok"] is False and hang["code"] == "hang"
        died = run(("signal", int(signal.SIGSEGV)))
        assert died["ok"] is False and died["code"] == "died"
        assert f"exit code {-int(signal.SIGSEGV)}" in died["detail"]
        exited = run(("exit", 3))
        assert exited["code"] == "died" and "exit code 3" in exited["detail"]
        assert run(("sleep", 0))["ok"] is True  # a fresh worker after each failure
        assert run.restarts == 3

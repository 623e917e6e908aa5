"""``dnnfusion submit`` waits out a 429 for its Retry-After while the --timeout allows."""

from __future__ import annotations

import io
import time

import pytest

from dnnfusion.client import QuotaExceededError
from dnnfusion.commands.submit import Progress, waiting_out_quota


def _sender(answers):
    calls = []

    def send():
        calls.append(time.monotonic())
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return send, calls


def test_a_429_with_retry_after_is_waited_out_then_sent_again(monkeypatch):
    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    err = QuotaExceededError("3 compilations running (limit 3)", retry_after=12.0)
    send, calls = _sender([err, err, "job"])
    out = io.StringIO()
    got = waiting_out_quota(send, Progress(out, live=False), time.monotonic() + 100, "compile")
    assert got == "job" and len(calls) == 3 and slept == [12.0, 12.0]
    assert out.getvalue().count("compile: 3 compilations running (limit 3); waiting 12 s") == 2


def test_no_retry_after_or_past_the_deadline_is_raised_at_once(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("must not wait"))
    full = QuotaExceededError("stored bytes 10 GiB (limit 10 GiB)", retry_after=None)
    send, calls = _sender([full])
    with pytest.raises(QuotaExceededError, match="stored bytes"):
        waiting_out_quota(send, Progress(io.StringIO(), live=False), time.monotonic() + 100, "x")
    late = QuotaExceededError("uploads per minute (limit 2)", retry_after=50.0)
    send, calls = _sender([late])
    with pytest.raises(QuotaExceededError, match="uploads"):
        waiting_out_quota(send, Progress(io.StringIO(), live=False), time.monotonic() + 10, "x")
    assert len(calls) == 1

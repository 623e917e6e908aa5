"""Run fuzz inputs in a child process with a per-input time bound.

:class:`Runner` keeps one worker process (``spawn``) that evaluates inputs one at a time with a
named job (:data:`JOBS`). When an input takes longer than ``timeout`` seconds the worker is
killed and the input is reported as ``hang``; when the worker dies (a signal, ``os._exit``,
the kernel's OOM killer) the input is reported as ``died`` with the exit code. Either way a new
worker is started for the next input, so one bad input never stops a run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
from typing import Any

MEMORY_LIMIT_BYTES = 6 << 30  # address space of the worker (onnxruntime maps a lot up front)


def _job(name: str):
    if name == "plan":
        from fuzz.checks import run_plan

        return run_plan
    if name == "upload":
        from fuzz.checks import Uploader

        return Uploader()
    if name == "diff":
        from fuzz.diff_batch import run_batch

        return run_batch
    if name == "probe":  # for the tests of this module: sleep, exit or signal on request
        return _probe
    raise ValueError(f"unknown job {name!r}")


def _probe(item: tuple[str, float]) -> dict:
    import signal
    import time

    what, value = item
    if what == "sleep":
        time.sleep(value)
    elif what == "exit":
        os._exit(int(value))
    elif what == "signal":
        os.kill(os.getpid(), signal.Signals(int(value)))
    return {"ok": True, "code": what, "detail": ""}


def _serve(conn, name: str, log_path: str | None) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if log_path:  # the C-level output of the libraries (compilers, checkers) goes to a log
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    fn = _job(name)
    while True:
        item = conn.recv()
        if item is None:
            break
        conn.send(fn(item))


class Runner:
    """``runner(item) -> outcome dict`` in a child process; see the module docstring."""

    def __init__(self, job: str, timeout: float, log_path: str | None = None) -> None:
        self.job = job
        self.timeout = timeout
        self.log_path = log_path
        self.ctx = mp.get_context("spawn")
        self.proc = None
        self.conn = None
        self.restarts = 0

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_serve, args=(child, self.job, self.log_path),
                                     daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(10)
            self.proc = None
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __call__(self, item: Any, timeout: float | None = None) -> dict:
        if self.proc is None or not self.proc.is_alive():
            self._kill()
            self._start()
        limit = self.timeout if timeout is None else timeout
        try:
            self.conn.send(item)
            if self.conn.poll(limit):
                return self.conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            self.proc.join(5)
            code = self.proc.exitcode
            self._kill()
            self.restarts += 1
            return {"ok": False, "code": "died", "detail": f"worker died, exit code {code}"}
        self._kill()
        self.restarts += 1
        return {"ok": False, "code": "hang", "detail": f"no answer within {limit:.0f} s"}

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive() and self.conn is not None:
            try:
                self.conn.send(None)
                self.proc.join(10)
            except (BrokenPipeError, OSError):
                pass
        self._kill()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Structured logs for the API and the workers: one JSON object a line (or readable text), with
the request id, job id and user id of the work being done in every line.

The ids live in a context variable: the API's middleware opens a context per request
(``request_id``), the auth dependency adds ``user_id``, the worker opens one per job
(``job_id``, the ``request_id`` that created the job, ``user_id``). :func:`configure` installs
a log-record factory that copies them onto every ``logging.LogRecord`` (attributes
``request_id``, ``job_id``, ``user_id``; None when unknown), so any handler, pytest's
``caplog`` included, sees them.

JSON line: ``{"ts": "2026-11-30T12:00:00.123Z", "level": "info", "logger": "<name>",
"event": "<message>", "request_id": ..., "job_id": ..., "user_id": ..., <extra fields>}``
(with an ``extra={"event": name}``, ``event`` is that name and ``message`` the text); the
ids appear only when known, ``extra={...}`` fields of the call are included, an exception
becomes ``"exc"`` (its formatted traceback, one string). Pass the ids with :func:`log_context`,
never as ``extra=`` (logging refuses an extra that names an attribute the record already has).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["json", "text"]
CONTEXT_FIELDS = ("request_id", "job_id", "user_id")

_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "dnnfusion_log_context", default=None
)
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName", *CONTEXT_FIELDS,
    "color_message",  # uvicorn's copy of the message with terminal colours
}
_HANDLER_NAME = "dnnfusion"


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[dict[str, str]]:
    """Within the block, log lines carry ``fields`` (None values are left out) on top of the
    enclosing context. Yields the context's dict (:func:`bind` adds to it)."""
    merged = dict(_context.get() or {})
    merged.update({k: str(v) for k, v in fields.items() if v is not None})
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def bind(**fields: object) -> None:
    """Add ``fields`` to the current context (seen by every line after, also by the code that
    opened the context: the dict is shared, e.g. the request's access line learns the user id
    the auth dependency bound in a worker thread). Outside any context this does nothing."""
    current = _context.get()
    if current is not None:
        current.update({k: str(v) for k, v in fields.items() if v is not None})


def current(field: str) -> str | None:
    """The current context's ``field`` (``request_id``, ``job_id``, ``user_id``), or None."""
    return (_context.get() or {}).get(field)


class JsonFormatter(logging.Formatter):
    """One JSON object a line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        extra = _extra_fields(record)
        if "event" in extra:  # a structured event name: it is the event, the text the message
            doc["message"], doc["event"] = doc["event"], extra.pop("event")
        for name, value in extra.items():
            doc.setdefault(name, value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        return json.dumps(doc, default=str, ensure_ascii=False)


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message> <extra k=v...> [request_id=.. job_id=..
    user_id=..]`` (a traceback follows on the next lines)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = [f"{k}={v}" for k, v in _extra_fields(record).items()]
        ids = [f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if getattr(record, n, None)]
        if ids:
            extra.append(f"[{' '.join(ids)}]")
        if not extra:
            return text
        first, nl, rest = text.partition("\n")
        return f"{first} {' '.join(extra)}{nl}{rest}"


def formatter(fmt: LogFormat) -> logging.Formatter:
    """The formatter of ``fmt`` (``json`` or ``text``); ValueError for anything else."""
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"unknown log format {fmt!r}; expected 'json' or 'text'")


def install_record_factory() -> None:
    """Make every new LogRecord carry the context's ids (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_dnnfusion", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        ctx = _context.get() or {}
        for name in CONTEXT_FIELDS:
            setattr(record, name, ctx.get(name))
        return record

    factory._dnnfusion = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the line (it may be replaced, e.g. by
    pytest's capture, after the handler was made)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def unconfigure() -> None:
    """Remove the handler :func:`configure` added (tests that configured logging undo it)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)


def configure(fmt: LogFormat, level: int | str = logging.INFO) -> logging.Handler:
    """Log ``level`` and up of every logger to stderr in ``fmt``: one handler of ours on the
    root logger (replacing the one a previous call added; other handlers are left alone).
    Returns that handler."""
    install_record_factory()
    unconfigure()
    root = logging.getLogger()
    handler = _StderrHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level)
    return handler

"""A cap on request bodies the app reads whole (JSON), enforced as the bytes arrive.

FastAPI reads a JSON body into memory and ``json.loads`` it before any schema limit applies, so
a 100 MB body of small entries would cost gigabytes. This ASGI middleware refuses such a body
with a 413: at once when ``Content-Length`` says it is too large, and while it streams
otherwise (a chunked body, or one longer than its ``Content-Length`` claimed). The upload
route is exempt by method and path (not by content type, which the client chooses):
:mod:`service.upload` streams it to disk under its own cap.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_BODY = 1 << 20  # bytes


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (413, one-line detail), except on the routes
    ``exempt`` lists as ``(method, path)``."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_JSON_BODY,
        exempt: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (scope["method"], scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        too_large = f"request body exceeds the limit of {self.max_bytes} bytes"
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _send_413(send, too_large)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, too_large)  # FastAPI passes it to the handlers
            return message

        await self.app(scope, counted, send)


async def _send_413(send: Send, detail: str) -> None:
    body = ('{"detail":"' + detail + '"}').encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

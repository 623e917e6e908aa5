"""A tiny scripted HTTP server on loopback for the client's retry tests.

Answers are scripted per (method, path): a list consumed in order, the last one repeated.
Every request is recorded (method, path, query, headers, body length and sha256); bodies are
read in 64 KiB pieces and never kept, chunked transfer encoding included.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int
    body: bytes | dict | list = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None  # send only this many body bytes, then drop the connection


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body_bytes: int
    body_sha256: str


class Stub:
    def __init__(self) -> None:
        self.script: dict[tuple[str, str], list[Answer | Callable[[Seen], Answer]]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _read_body(self) -> tuple[int, str]:
                digest, total = hashlib.sha256(), 0
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        while size:
                            piece = self.rfile.read(min(size, 1 << 16))
                            digest.update(piece)
                            total += len(piece)
                            size -= len(piece)
                        self.rfile.readline()
                else:
                    left = int(self.headers.get("Content-Length") or 0)
                    while left:
                        piece = self.rfile.read(min(left, 1 << 16))
                        if not piece:
                            break
                        digest.update(piece)
                        total += len(piece)
                        left -= len(piece)
                return total, digest.hexdigest()

            def _answer(self) -> None:
                path, _, query = self.path.partition("?")
                size, sha = self._read_body()
                seen = Seen(self.command, path, query, dict(self.headers), size, sha)
                with stub._lock:
                    stub.seen.append(seen)
                    queue = stub.script.get((self.command, path))
                    if not queue:
                        answer: Answer | Callable[[Seen], Answer] = Answer(404, {"detail": "x"})
                    else:
                        answer = queue.pop(0) if len(queue) > 1 else queue[0]
                if callable(answer):
                    answer = answer(seen)
                body = answer.body
                if not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                if answer.cut_after is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if answer.cut_after is not None:
                    self.wfile.write(body[: answer.cut_after])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def on(self, method: str, path: str, *answers: Answer | Callable[[Seen], Answer]) -> None:
        self.script[(method, path)] = list(answers)

    def count(self, method: str, path: str) -> int:
        return sum(1 for s in self.seen if s.method == method and s.path == path)

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]

    def __enter__(self) -> Stub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

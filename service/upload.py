"""Streaming a multipart upload straight into a file in the storage directory.

Starlette's ``request.form()`` spools file parts to the system temp dir and only then hands them
over; here the request body is fed chunk by chunk to python-multipart's parser, and the bytes of
the ``file`` field go directly to a file under the storage root while being hashed and counted.
The size limit is enforced as bytes arrive, so an oversize upload is refused after at most
``max_bytes`` of it were read, and memory use stays one chunk.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

FIELD = "file"
_BATCH = 1 << 20  # bytes handed to the parser per thread hop
_MULTIPART_SLACK = 64 * 1024  # boundaries and part headers around the file bytes


class UploadError(Exception):
    """An upload refused before it was stored; carries the HTTP status and a one-line reason."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


@dataclass(frozen=True)
class ReceivedFile:
    path: Path
    filename: str
    size: int
    sha256: str


class _Receiver:
    """python-multipart callbacks that write the ``file`` part to ``dest``."""

    def __init__(self, boundary: bytes, dest: Path, max_bytes: int) -> None:
        self.dest = dest
        self.max_bytes = max_bytes
        self.size = 0
        self.sha = hashlib.sha256()
        self.filename: str | None = None
        self.done = False
        self._out: BinaryIO | None = None
        self._writing = False
        self._headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value = b""
        self.parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._writing = options.get(b"name") == FIELD.encode()
        if not self._writing:
            return
        if self.filename is not None:
            raise UploadError(422, f"more than one '{FIELD}' field in the form")
        raw = options.get(b"filename", b"upload")
        self.filename = Path(raw.decode("utf-8", "replace").replace("\\", "/")).name[:255]
        self._out = open(self.dest, "wb")  # noqa: SIM115 - closed in _part_end / close()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._writing or self._out is None:
            return  # other form fields are ignored
        self.size += end - start
        if self.size > self.max_bytes:
            raise UploadError(413, f"upload exceeds the limit of {self.max_bytes} bytes")
        chunk = data[start:end]
        self.sha.update(chunk)
        self._out.write(chunk)

    def _part_end(self) -> None:
        if self._writing and self._out is not None:
            self.close()
            self.done = True
        self._writing = False

    def feed(self, chunk: bytes) -> None:
        self.parser.write(chunk)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


async def receive_upload(request: Request, *, dest: Path, max_bytes: int) -> ReceivedFile:
    """Stream the ``file`` field of a multipart request into ``dest``.

    Raises :class:`UploadError` (413 oversize, 415 not multipart, 400 malformed, 422 no file).
    The caller owns ``dest`` and deletes it on error.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise UploadError(415, f"expected multipart/form-data with a '{FIELD}' field")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + _MULTIPART_SLACK:
        raise UploadError(413, f"upload exceeds the limit of {max_bytes} bytes")
    receiver = _Receiver(params[b"boundary"], dest, max_bytes)
    try:
        batch: list[bytes] = []
        pending = 0
        async for chunk in request.stream():
            batch.append(chunk)
            pending += len(chunk)
            if pending >= _BATCH:
                await run_in_threadpool(receiver.feed, b"".join(batch))
                batch, pending = [], 0
        if batch:
            await run_in_threadpool(receiver.feed, b"".join(batch))
        receiver.parser.finalize()
    except MultipartParseError as err:
        raise UploadError(400, f"malformed multipart body: {err}") from None
    finally:
        receiver.close()
    if not receiver.done:
        raise UploadError(422, f"no '{FIELD}' field with the model in the form")
    return ReceivedFile(
        path=dest,
        filename=receiver.filename or "upload",
        size=receiver.size,
        sha256=receiver.sha.hexdigest(),
    )

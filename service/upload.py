"""Streaming a multipart upload straight into a file in the storage directory.

Starlette's ``request.form()`` spools file parts to the system temp dir and only then hands them
over; here the request body is fed chunk by chunk to python-multipart's parser, and the bytes of
the ``file`` field go directly to a file under the storage root while being hashed and counted.
The size limit is enforced as bytes arrive, so an oversize upload is refused after at most
``max_bytes`` of it were read, and memory use stays one chunk.

The data of every part counts toward that limit, whatever field it belongs to, and the whole
body may exceed it only by the room part headers and boundaries take (whatever
``Content-Length`` claims). Other form fields are read into nothing and may hold at most
``MAX_FIELD_BYTES`` together, a part's headers at most ``MAX_PART_HEADER_BYTES``, and the form at
most ``MAX_PARTS`` parts. The client's file name is kept cut to 200 characters.
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

from service.text import short

FIELD = "file"
MAX_FIELD_BYTES = 64 * 1024  # all non-file form fields together
MAX_PART_HEADER_BYTES = 16 * 1024  # the headers of one part (a file name included)
MAX_PARTS = 16
MAX_FILENAME_CHARS = 200
_BATCH = 1 << 20  # bytes handed to the parser per thread hop
_MULTIPART_SLACK = MAX_PARTS * (MAX_PART_HEADER_BYTES + 1024)  # part headers and boundaries


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
        self.size = 0  # bytes of the file part
        self.total = 0  # bytes of all parts
        self.field_bytes = 0  # bytes of the other parts
        self.parts = 0
        self.sha = hashlib.sha256()
        self.filename: str | None = None
        self.done = False
        self._out: BinaryIO | None = None
        self._writing = False
        self._headers: dict[bytes, bytes] = {}
        self._header_bytes = 0
        self._part_name = ""
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
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UploadError(413, f"the form has more than {MAX_PARTS} parts")
        self._headers = {}
        self._header_bytes = 0

    def _count_header(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_PART_HEADER_BYTES:
            raise UploadError(413, f"multipart part headers exceed {MAX_PART_HEADER_BYTES} bytes")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._name.lower()] = self._value
        self._name = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._part_name = options.get(b"name", b"").decode("utf-8", "replace")
        self._writing = options.get(b"name") == FIELD.encode()
        if not self._writing:
            return
        if self.filename is not None:
            raise UploadError(422, f"more than one '{FIELD}' field in the form")
        raw = options.get(b"filename", b"upload")
        name = Path(raw.decode("utf-8", "replace").replace("\\", "/")).name or "upload"
        self.filename = short(name, MAX_FILENAME_CHARS)
        self._out = open(self.dest, "wb")  # noqa: SIM115 - closed in _part_end / close()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self.total += end - start  # every part counts toward the cap
        if self.total > self.max_bytes:
            raise UploadError(413, f"upload exceeds the limit of {self.max_bytes} bytes")
        if not self._writing or self._out is None:
            self.field_bytes += end - start  # other form fields are counted, not kept
            if self.field_bytes > MAX_FIELD_BYTES:
                raise UploadError(
                    413,
                    f"form field {short(repr(self._part_name))}: fields other than "
                    f"'{FIELD}' may hold {MAX_FIELD_BYTES} bytes in all",
                )
            return
        self.size += end - start
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
    body_cap = max_bytes + _MULTIPART_SLACK
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > body_cap:
        raise UploadError(413, f"upload exceeds the limit of {max_bytes} bytes")
    receiver = _Receiver(params[b"boundary"], dest, max_bytes)
    try:
        batch: list[bytes] = []
        pending = 0
        received = 0  # the whole body, whatever Content-Length said
        async for chunk in request.stream():
            received += len(chunk)
            if received > body_cap:
                raise UploadError(413, f"upload exceeds the limit of {max_bytes} bytes")
            batch.append(chunk)
            pending += len(chunk)
            if pending >= _BATCH:
                await run_in_threadpool(receiver.feed, b"".join(batch))
                batch, pending = [], 0
        if batch:
            await run_in_threadpool(receiver.feed, b"".join(batch))
        receiver.parser.finalize()
    except MultipartParseError as err:
        raise UploadError(400, f"malformed multipart body: {short(str(err), 200)}") from None
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

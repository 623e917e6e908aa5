"""Sending a stored object (an artifact, a report) from the object store.

The local directory: a ``FileResponse`` of the file (ranges, sendfile). S3: a 307 to a
presigned GET URL when ``DNNFUSION_S3_PRESIGN`` is on and ``redirect`` allows it (the bytes
then never pass through the API), else the object streamed through the API 1 MiB at a time
with its ``Content-Length``. A missing object is a 404; a store that fails raises
``StoreUnavailable`` (a 503, service.errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from fastapi import HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from dnfstore.objectstore import ObjectMissing
from dnfstore.storage import Storage

CHUNK = 1 << 20


def _chunks(stream: BinaryIO) -> Iterator[bytes]:
    try:
        while chunk := stream.read(CHUNK):
            yield chunk
    finally:
        stream.close()


def stored_response(
    storage: Storage, key: str, *, what: str, media_type: str, filename: str | None = None,
    redirect: bool = False,
) -> Response:
    """The object ``key`` as a response (``what`` names it in the 404's reason)."""
    gone = HTTPException(404, f"the {what} of this compilation is no longer stored")
    local = storage.objects.local_path(key)
    if local is not None:
        if not local.is_file():
            raise gone
        return FileResponse(local, media_type=media_type, filename=filename)
    try:
        info = storage.objects.info(key)
        url = (storage.objects.presigned_url(key, filename=filename or key.rsplit("/", 1)[-1],
                                             content_type=media_type) if redirect else None)
        if url is not None:
            return RedirectResponse(url, status_code=307)
        stream = storage.objects.open_stream(key)
    except ObjectMissing:
        raise gone from None
    headers = {"Content-Length": str(info.size)}
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return StreamingResponse(_chunks(stream), media_type=media_type, headers=headers)

"""Writing a streamed download to disk atomically.

The bytes go to a temporary file beside the destination (same file system), are checked
against the size and sha256 the API announced, flushed to disk, and only then renamed over the
destination; an interrupted or corrupt download leaves no file at ``dest`` and no temporary
file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import httpx

from dnnfusion.client.errors import DnnfusionError

CHUNK = 1 << 20


def save_stream(response: httpx.Response, dest: Path, *, expected_bytes: int | None = None,
                expected_sha256: str | None = None) -> int:
    """Stream ``response``'s body into ``dest`` (created or replaced at once at the end);
    returns the bytes written. Raises :class:`DnnfusionError` when the size or sha256 differs
    from the expected ones (nothing is left at ``dest``), and lets httpx's transport errors
    through (the caller retries)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        written = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                digest.update(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        if expected_bytes is not None and written != expected_bytes:
            raise DnnfusionError(
                f"download of {response.request.url.path} ended after {written} of "
                f"{expected_bytes} bytes"
            )
        if expected_sha256 and digest.hexdigest() != expected_sha256:
            raise DnnfusionError(
                f"download of {response.request.url.path}: sha256 {digest.hexdigest()} differs "
                f"from the announced {expected_sha256}"
            )
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would surprise whoever shares the file
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return written


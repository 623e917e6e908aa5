"""A stored model as files on this worker's disk, for the compiler to read.

With the local backend the model's directory is read in place. With S3 its objects are fetched
into ``<storage dir>/cache/models/<id>/`` (downloaded into a temp dir, then renamed: a cached
model is always complete; two processes fetching the same model keep the first rename).
Stored models never change (a new upload gets a new id), so a cached copy stays valid.

The cache is kept under ``model_cache_max_bytes``: after a fetch, the least recently used
models are removed, but never one used within the hard compile time limit (a job on this host
may still be reading it).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from dnfstore.storage import Storage

log = logging.getLogger(__name__)


def model_dir(storage: Storage, key: str) -> Path:
    """Where the model stored under ``key`` is (or will be, once fetched) on this host."""
    local = storage.objects.local_path(key)
    if local is not None:
        return local
    return storage.cache_dir / key


def fetch_model(storage: Storage, key: str, *, max_bytes: int, in_use_s: float) -> Path:
    """The model's directory on this host, fetched first when it is not; raises
    ``ObjectMissing`` / ``StoreUnavailable``. ``max_bytes``: the cache's size bound;
    ``in_use_s``: entries used this recently are never evicted."""
    final = model_dir(storage, key)
    if storage.objects.local_path(key) is not None:
        return final
    if final.is_dir():
        os.utime(final)  # most recently used
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".fetch-"))
    try:
        storage.objects.get_dir(key, tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # another process on this host fetched it first
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    os.utime(final)
    evict(final.parent, max_bytes=max_bytes, in_use_s=in_use_s, keep=final)
    return final


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def evict(models: Path, *, max_bytes: int, in_use_s: float, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used model dirs under ``models`` until the rest fit in
    ``max_bytes``, skipping ``keep`` and any used less than ``in_use_s`` seconds ago; returns
    the removed dirs."""
    entries = [p for p in models.iterdir() if p.is_dir() and not p.name.startswith(".")]
    sizes = {p: _size(p) for p in entries}
    total = sum(sizes.values())
    removed: list[Path] = []
    now = time.time()
    for path in sorted(entries, key=lambda p: p.stat().st_mtime):
        if total <= max_bytes:
            break
        if path == keep or now - path.stat().st_mtime < in_use_s:
            continue
        shutil.rmtree(path, ignore_errors=True)
        total -= sizes[path]
        removed.append(path)
        log.info("model cache: removed %s (%d bytes)", path.name, sizes[path])
    return removed

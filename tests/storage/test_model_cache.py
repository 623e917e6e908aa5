"""workers.model_cache: a stored model as files on a worker's disk (read in place locally,
fetched once from S3 into the cache), and the cache's size bound."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dnfstore.objectstore import LocalObjectStore, ObjectMissing
from dnfstore.storage import Storage
from tests.helpers.s3 import S3Server
from tests.storage.conftest import s3_store
from workers.model_cache import evict, fetch_model


def stage(path: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def test_the_local_directory_is_read_in_place(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "storage", LocalObjectStore(tmp_path / "storage"))
    storage.objects.put_dir(stage(tmp_path / "s", {"model.onnx": b"m"}), "models/a")
    path = fetch_model(storage, "models/a", max_bytes=0, in_use_s=0)
    assert path == tmp_path / "storage" / "models" / "a"
    assert not storage.cache_dir.exists()


def test_s3_models_are_fetched_once(s3_server: S3Server, tmp_path: Path) -> None:
    store = s3_store(s3_server)
    storage = Storage(tmp_path / "worker", store)
    store.put_dir(stage(tmp_path / "s", {"model.onnx": b"m", "data/w.bin": b"w" * 10}),
                  "models/a")
    path = fetch_model(storage, "models/a", max_bytes=1 << 20, in_use_s=60)
    assert path == tmp_path / "worker" / "cache" / "models" / "a"
    assert (path / "model.onnx").read_bytes() == b"m"
    assert (path / "data" / "w.bin").read_bytes() == b"w" * 10
    assert sorted(p.name for p in path.parent.iterdir()) == ["a"]  # no .fetch- dir left
    store.delete("models/a")  # a second fetch does not ask the store
    assert fetch_model(storage, "models/a", max_bytes=1 << 20, in_use_s=60) == path
    with pytest.raises(ObjectMissing):
        fetch_model(storage, "models/b", max_bytes=1 << 20, in_use_s=60)
    assert sorted(p.name for p in path.parent.iterdir()) == ["a"]


def entry(models: Path, name: str, size: int, age_s: float) -> Path:
    path = stage(models / name, {"model.onnx": b"x" * size})
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_eviction_removes_least_recently_used_never_in_use(tmp_path: Path) -> None:
    models = tmp_path / "cache" / "models"
    oldest = entry(models, "oldest", 100, age_s=5000)
    old = entry(models, "old", 100, age_s=4000)
    newer = entry(models, "newer", 100, age_s=3000)
    busy = entry(models, "busy", 100, age_s=10)  # used within in_use_s: a job may read it
    removed = evict(models, max_bytes=250, in_use_s=600)
    assert removed == [oldest, old]  # 400 -> 200 bytes: LRU first, the rest fits
    assert sorted(p.name for p in models.iterdir()) == ["busy", "newer"]
    # Over the bound with only busy or kept entries left: nothing more is removed.
    assert evict(models, max_bytes=0, in_use_s=600, keep=newer) == []
    assert busy.is_dir() and newer.is_dir()

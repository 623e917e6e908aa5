"""The ObjectStore contract, run against both backends: the local directory and an S3 bucket
on a real S3 API (moto's server on loopback)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dnfstore.objectstore import BadKey, LocalObjectStore, ObjectMissing, ObjectStore


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_put_file_then_read_it_back_every_way(store: ObjectStore, tmp_path: Path) -> None:
    src = write(tmp_path / "in" / "a.bin", b"hello object store\n" * 100)
    store.put_file(src, "compilations/j1/artifact.tar.gz")
    assert not src.exists()  # the store took it
    assert store.size("compilations/j1/artifact.tar.gz") == 1900
    assert store.info("compilations/j1/artifact.tar.gz").size == 1900
    with store.open_stream("compilations/j1/artifact.tar.gz") as f:
        assert f.read() == b"hello object store\n" * 100
    dest = tmp_path / "out" / "copy.bin"
    dest.parent.mkdir()
    store.get_to_path("compilations/j1/artifact.tar.gz", dest)
    assert dest.read_bytes() == b"hello object store\n" * 100
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]  # no temp file left


def test_put_file_replaces_an_older_object(store: ObjectStore, tmp_path: Path) -> None:
    store.put_file(write(tmp_path / "1", b"first"), "compilations/j/report.json")
    store.put_file(write(tmp_path / "2", b"second!"), "compilations/j/report.json")
    with store.open_stream("compilations/j/report.json") as f:
        assert f.read() == b"second!"
    assert store.size("compilations/j/report.json") == 7


def test_put_dir_and_get_dir_keep_relative_paths(store: ObjectStore, tmp_path: Path) -> None:
    staging = tmp_path / "stage"
    write(staging / "model.onnx", b"onnx bytes")
    write(staging / "data" / "weights.bin", b"\x00\x01" * 1000)
    store.put_dir(staging, "models/m1")
    assert not staging.exists()
    assert store.list_keys("models/m1") == ["models/m1/data/weights.bin", "models/m1/model.onnx"]
    assert store.list_keys("models") == ["models/m1/data/weights.bin", "models/m1/model.onnx"]
    assert store.list_keys("models/m") == []  # a prefix is a directory, not a string prefix
    files = store.get_dir("models/m1", tmp_path / "fetched")
    assert sorted(p.relative_to(tmp_path / "fetched").as_posix() for p in files) == [
        "data/weights.bin", "model.onnx"]
    assert (tmp_path / "fetched" / "data" / "weights.bin").read_bytes() == b"\x00\x01" * 1000
    assert (tmp_path / "fetched" / "model.onnx").read_bytes() == b"onnx bytes"


def test_missing_objects(store: ObjectStore, tmp_path: Path) -> None:
    for call in (
        lambda: store.info("compilations/none/artifact.tar.gz"),
        lambda: store.size("compilations/none/artifact.tar.gz"),
        lambda: store.open_stream("compilations/none/artifact.tar.gz"),
        lambda: store.get_to_path("compilations/none/artifact.tar.gz", tmp_path / "x"),
        lambda: store.get_dir("models/none", tmp_path / "d"),
    ):
        with pytest.raises(ObjectMissing, match="none"):
            call()
    assert store.list_keys("models/none") == []
    assert not (tmp_path / "x").exists()
    assert list(tmp_path.glob(".x.*")) == []


def test_delete_removes_an_object_and_everything_under_it(store, tmp_path: Path) -> None:
    staging = tmp_path / "stage"
    write(staging / "model.onnx", b"m")
    write(staging / "sub" / "w.bin", b"w")
    store.put_dir(staging, "models/m2")
    store.put_file(write(tmp_path / "keep", b"k"), "models/m22/model.onnx")
    store.delete("models/m2")
    assert store.list_keys("models/m2") == []
    assert store.list_keys("models/m22") == ["models/m22/model.onnx"]  # a sibling stays
    store.delete("models/m22/model.onnx")
    with pytest.raises(ObjectMissing):
        store.info("models/m22/model.onnx")
    store.delete("models/never-there")  # nothing there is no error


@pytest.mark.parametrize(
    "key", ["../escape", "models/../../etc/passwd", "/abs/path", "a//b", "a/./b", "", "a\\b",
            "models/m/"],
)
def test_keys_that_leave_the_store_are_refused(store, tmp_path: Path, key: str) -> None:
    src = write(tmp_path / "f", b"x")
    for call in (
        lambda: store.put_file(src, key),
        lambda: store.info(key),
        lambda: store.open_stream(key),
        lambda: store.delete(key),
        lambda: store.list_keys(key),
    ):
        with pytest.raises(BadKey):
            call()
    assert src.read_bytes() == b"x"  # nothing was taken


def test_a_symlink_out_of_the_local_directory_is_refused(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "storage")
    (tmp_path / "storage" / "models").mkdir(parents=True)
    write(tmp_path / "secret" / "key.pem", b"secret")
    os.symlink(tmp_path / "secret", tmp_path / "storage" / "models" / "m")
    with pytest.raises(BadKey, match="leaves the storage directory"):
        store.open_stream("models/m/key.pem")


def test_local_path_only_for_the_local_directory(store: ObjectStore, tmp_path: Path) -> None:
    store.put_file(write(tmp_path / "f", b"abc"), "compilations/j/report.json")
    path = store.local_path("compilations/j/report.json")
    if isinstance(store, LocalObjectStore):
        assert path is not None and path.read_bytes() == b"abc"
        assert store.presigned_url("compilations/j/report.json", filename="r.json",
                                   content_type="application/json") is None
    else:
        assert path is None


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

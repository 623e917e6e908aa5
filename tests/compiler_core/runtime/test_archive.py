"""Artifacts as .tar.gz: packing is atomic, opening extracts safely, bad archives are refused."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest

from compiler_core.compile import pack_artifact
from compiler_core.runtime import ArtifactError, InferenceSession

X = np.arange(12, dtype=np.float32).reshape(3, 4) / 7


def test_pack_and_open_archive(small_artifact, tmp_path):
    tgz = pack_artifact(small_artifact, tmp_path / "a.tar.gz")
    assert tgz.is_file() and not list(tmp_path.glob(".*"))  # no temporary file left
    with tarfile.open(tgz) as tar:
        names = sorted(tar.getnames())
    assert names == sorted(f"art/{p.name}" for p in small_artifact.iterdir())
    want = InferenceSession(small_artifact).run(None, {"x": X})[0]
    sess = InferenceSession(tgz)
    extracted = sess.artifact_dir
    assert extracted.is_dir() and extracted != small_artifact
    np.testing.assert_array_equal(sess.run(None, {"x": X})[0], want)
    sess.close()
    assert not extracted.exists()  # the temporary folder goes with the session


def test_default_archive_name(small_artifact, tmp_path):
    import shutil

    art = tmp_path / "model_art"
    shutil.copytree(small_artifact, art)
    assert pack_artifact(art) == tmp_path / "model_art.tar.gz"


def _tar(path, members):
    """members: (TarInfo kwargs, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for kw, data in members:
            info = tarfile.TarInfo(kw.pop("name"))
            for k, v in kw.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([({"name": "../evil"}, b"x")], "'..' is not allowed"),
        ([({"name": "/abs/evil"}, b"x")], "absolute paths"),
        ([({"name": "a/link", "type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, None)],
         "link or special file"),
        ([({"name": "a/hard", "type": tarfile.LNKTYPE, "linkname": "a/x"}, None)],
         "link or special file"),
        ([({"name": "a/b/c/deep"}, b"x")], "not an artifact file"),
        ([({"name": "a/x"}, b"x"), ({"name": "a/x"}, b"y")], "appears twice"),
        ([({"name": "a/readme.txt"}, b"x")], "no manifest.json"),
    ],
)
def test_unsafe_or_foreign_archives_are_refused(tmp_path, members, message):
    path = _tar(tmp_path / "bad.tar.gz", members)
    with pytest.raises(ArtifactError, match=message):
        InferenceSession(path)
    assert not (tmp_path.parent / "evil").exists()


def test_truncated_and_tampered_archives(small_artifact, tmp_path):
    tgz = pack_artifact(small_artifact, tmp_path / "a.tar.gz")
    data = tgz.read_bytes()
    (tmp_path / "t.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="not a readable .tar.gz"):
        InferenceSession(tmp_path / "t.tar.gz")
    # Same names, one file's content changed: the manifest's checksum catches it.
    files = {p.name: p.read_bytes() for p in small_artifact.iterdir()}
    files["weights.bin"] = b"\0" * len(files["weights.bin"])
    bad = _tar(tmp_path / "w.tar.gz", [({"name": f"art/{k}"}, v) for k, v in files.items()])
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        InferenceSession(bad)


def test_not_an_artifact(tmp_path):
    (tmp_path / "f.txt").write_text("hello")
    with pytest.raises(ArtifactError, match="not an artifact directory"):
        InferenceSession(tmp_path / "f.txt")
    with pytest.raises(ArtifactError, match="no such artifact"):
        InferenceSession(tmp_path / "missing")
    with pytest.raises(ArtifactError, match="not a dnnfusion artifact"):
        pack_artifact(tmp_path)

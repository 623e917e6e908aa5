"""Settings, archive path checks and report summaries."""

from __future__ import annotations

import hashlib
import json

import pytest
from pydantic import ValidationError

from dnfstore.settings import Settings
from dnfstore.storage import Storage
from service.archive import ArchiveError, safe_member_path
from service.security import hash_key, new_key
from workers.artifacts import read_summary, store_artifact


def test_settings_defaults_and_limits(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    s = Settings(data_dir="/srv/d")
    assert s.sqlalchemy_url == "sqlite:////srv/d/dnnfusion.db"
    assert str(s.storage_root) == "/srv/d/storage"
    assert s.max_upload_bytes == 2 * 1024**3
    assert s.visibility_timeout_s > s.compile_time_limit_s > s.compile_soft_time_limit_s
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("DNNFUSION_MAX_UPLOAD_BYTES", "123")
    s = Settings()
    assert s.sqlalchemy_url == "postgresql+psycopg://u@h/db" and s.max_upload_bytes == 123
    with pytest.raises(ValidationError, match="visibility_timeout"):
        Settings(
            compile_time_limit_s=100, compile_soft_time_limit_s=50, broker_visibility_timeout_s=100
        )
    with pytest.raises(ValidationError, match="soft"):
        Settings(compile_time_limit_s=50, compile_soft_time_limit_s=50)


@pytest.mark.parametrize(
    "name",
    ["../x", "a/../../x", "/etc/passwd", "C:/x", "\\\\srv\\x", "a\\..\\..\\x", "", "a\x00b", "./"],
)
def test_unsafe_member_names(name):
    with pytest.raises(ArchiveError):
        safe_member_path(name)


def test_safe_member_names():
    assert safe_member_path("./net//model.onnx").as_posix() == "net/model.onnx"
    assert safe_member_path("a\\b.bin").as_posix() == "a/b.bin"


def test_keys_are_random_and_kinds_prefixed():
    (t1, h1), (t2, h2) = new_key("user"), new_key("agent")
    assert t1.startswith("dnf_") and t2.startswith("dnfa_") and h1 != h2
    assert hash_key(t1) == h1 and len(h1) == 64
    with pytest.raises(ValueError):
        new_key("root")


def test_read_summary_is_defensive():
    assert read_summary(
        {
            "original_nodes": 10,
            "fused_blocks": "4",
            "max_abs_error": 1e-6,
            "latency_ms": float("nan"),
            "ort_latency_ms": True,
        }
    ) == {
        "original_nodes": 10,
        "fused_blocks": 4,
        "max_abs_error": 1e-6,
        "latency_ms": None,
        "ort_latency_ms": None,
    }
    assert read_summary({})["latency_ms"] is None


def test_store_artifact_packs_and_copies_report(tmp_path):
    """Packaging only: a hand-made directory, not a compilation result."""
    import tarfile
    import uuid

    storage = Storage(tmp_path / "storage")
    art = tmp_path / "art"
    art.mkdir()
    (art / "report.json").write_text(json.dumps({"fused_blocks": 3}))
    (art / "model.c").write_text("int main(void){return 0;}\n")
    job = uuid.uuid4()
    tarball, report_key, report, size, sha = store_artifact(storage, art, job)
    assert (tarball, report_key) == (f"compilations/{job}/artifact.tar.gz",
                                     f"compilations/{job}/report.json")
    path = storage.root / tarball
    assert path.stat().st_size == size
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    assert json.loads((storage.root / report_key).read_text()) == report == {"fused_blocks": 3}
    assert list((storage.root / "tmp").iterdir()) == []

    with tarfile.open(path) as tf:
        assert sorted(tf.getnames()) == ["artifact", "artifact/model.c", "artifact/report.json"]

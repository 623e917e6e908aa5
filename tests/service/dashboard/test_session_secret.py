"""The cookie-signing key: configured, or one random key in the storage directory that every
API process of the deployment reads."""

from __future__ import annotations

import stat
import uuid

import pytest

from dnfstore.settings import Settings
from service.dashboard.session import Sessions, load_secret


def _settings(tmp_path, **values) -> Settings:
    return Settings(data_dir=tmp_path / "ro-cwd", storage_dir=tmp_path / "storage", **values)


def test_key_file_is_created_once_private_and_shared(tmp_path):
    settings = _settings(tmp_path)
    first = load_secret(settings)
    path = settings.storage_root / "session.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert load_secret(settings) == first  # a second API process reads the same key
    assert not (tmp_path / "ro-cwd").exists()  # nothing written outside the storage directory
    a, b = Sessions(first, 60), Sessions(load_secret(settings), 60)
    cookie = a.new_cookie(uuid.uuid4(), uuid.uuid4())
    assert b._parse(cookie) is not None
    assert Sessions(b"x" * 40, 60)._parse(cookie) is None  # another key: not a session


def test_configured_secret(tmp_path):
    secret = "s" * 40
    assert load_secret(_settings(tmp_path, session_secret=secret)) == secret.encode()
    assert not (tmp_path / "storage" / "session.key").exists()
    with pytest.raises(ValueError, match="at least 32 characters"):
        load_secret(_settings(tmp_path, session_secret="short"))

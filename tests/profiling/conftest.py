"""A migrated profiling database on each backend: an SQLite file, and a fresh database on the
real PostgreSQL at 127.0.0.1:5432 (created here, dropped at the end)."""

from __future__ import annotations

import pytest

from profiling.db import open_database
from tests.helpers.pg import scratch_database


@pytest.fixture
def pg_url():
    with scratch_database("dnnfusion_prof") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'profiles.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    database = open_database(url, create=True)
    try:
        yield database
    finally:
        database.close()

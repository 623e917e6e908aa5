"""A migrated profiling database on each backend: an SQLite file, and a fresh database on the
real PostgreSQL at 127.0.0.1:5432 (created here, dropped at the end)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from profiling.db import open_database
from tests.service.conftest import PG_ADMIN, PG_URL


@pytest.fixture
def pg_url():
    name = f"dnnfusion_prof_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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

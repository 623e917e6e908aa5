"""A scratch PostgreSQL database on the real server at 127.0.0.1:5432, dropped afterwards."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import psycopg

PG_ADMIN = os.environ.get(
    "DNNFUSION_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL = os.environ.get("DNNFUSION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<random>``; yield its SQLAlchemy URL; drop it (open sessions too)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_URL}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

"""A scratch PostgreSQL database on the real server at 127.0.0.1:5432, dropped afterwards."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from bench.stack import scratch_database as _scratch

PG_ADMIN = os.environ.get(
    "DNNFUSION_TEST_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL = os.environ.get("DNNFUSION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """Create ``<prefix>_<random>``; yield its SQLAlchemy URL; drop it (open sessions too)."""
    with _scratch(prefix, PG_ADMIN, PG_URL) as url:
        yield url

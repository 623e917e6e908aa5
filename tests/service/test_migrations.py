"""``alembic upgrade head`` creates exactly the models' schema; downgrade removes it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from dnfstore import migrate
from dnfstore.models import Base
from dnfstore.settings import Settings
from tests.helpers.pg import scratch_database
from tests.service.procs import REPO

pytestmark = pytest.mark.slow  # every migration up and down on PostgreSQL

TABLES = {"users", "api_keys", "models", "compilations", "device_classes", "devices",
          "profile_entries", "profiling_requests"}


@pytest.fixture
def scratch_pg():
    with scratch_database("dnnfusion_mig") as url:
        yield url


def _alembic(url: str, *argv: str) -> None:
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_upgrade_matches_models_and_downgrade_works(backend, scratch_pg, tmp_path):
    url = scratch_pg if backend == "postgresql" else f"sqlite:///{tmp_path / 'm.db'}"
    _alembic(url, "upgrade", "head")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            assert diff == [], diff
        settings = Settings(database_url=url)
        migrate.downgrade(settings)  # the same scripts, in-process (saves a subprocess)
        with engine.connect() as conn:
            assert not TABLES & set(inspect(conn).get_table_names())
        migrate.upgrade(settings)
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
    finally:
        engine.dispose()

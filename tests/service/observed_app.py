"""The ``observed`` fixture: the embedded app with a metrics token and JSON logs on stderr (set
up as ``dnnfusion serve`` does, undone after the test: the root logger is process-wide)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dnfstore import logs, migrate
from service.main import create_app
from service.observe import configure_logging
from tests.service.conftest import Embedded, add_user, embedded_settings
from workers.embedded import EmbeddedWorker

TOKEN = "metrics-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def observed(tmp_path: Path) -> Iterator[Embedded]:
    settings = embedded_settings(tmp_path / "data", metrics_token=TOKEN, log_format="json")
    migrate.upgrade(settings)
    alice, agent = add_user(settings, "alice")
    bob, _ = add_user(settings, "bob")
    root_level = logging.getLogger().level
    configure_logging(settings)
    try:
        app = create_app(settings, dispatcher=EmbeddedWorker(settings))
        with TestClient(app) as client:
            yield Embedded(client=client, settings=settings, alice=alice, bob=bob, agent=agent)
    finally:
        logs.unconfigure()
        logging.getLogger().setLevel(root_level)

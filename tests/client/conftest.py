"""Fixtures of the client tests: one real ``dnnfusion serve`` for the session (started by the
first test that asks for it), and no URL, key or config file of the person running the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.server import Service, start_service


@pytest.fixture(autouse=True)
def no_user_client_settings(monkeypatch, tmp_path_factory):
    for name in ("DNNFUSION_URL", "DNNFUSION_API_KEY", "DNNFUSION_CLIENT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Iterator[Service]:
    svc = start_service(tmp_path_factory.mktemp("serve"))
    try:
        yield svc
    finally:
        svc.proc.stop()

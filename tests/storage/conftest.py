"""Fixtures of the object-store tests: one S3 server (moto, loopback) for the session, and
``store``: the same contract run against the local directory and a fresh S3 bucket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dnfstore.objectstore import LocalObjectStore, ObjectStore
from dnfstore.s3store import S3ObjectStore
from tests.helpers.s3 import S3Server, moto_s3_server

THRESHOLD = 1 << 20  # multipart from 1 MiB in these tests (parts are still >= 5 MiB)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    with moto_s3_server() as server:
        yield server


def s3_store(server: S3Server, **kw) -> S3ObjectStore:
    return S3ObjectStore(server.new_bucket(), endpoint_url=server.url,
                         multipart_threshold=THRESHOLD, **kw)


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "storage")
    return s3_store(request.getfixturevalue("s3_server"), prefix="deploy-a")

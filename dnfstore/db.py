"""Engine and session factory. SQLite (the embedded default) gets WAL and a busy timeout so the
API threads and the embedded worker threads can share the file."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from dnfstore.settings import Settings


def make_engine(settings: Settings) -> Engine:
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects stay readable after a commit, so a request can end its
    # transaction early (e.g. before streaming an upload) and keep using what it loaded.
    return sessionmaker(engine, expire_on_commit=False)


_per_process: dict[tuple[int, str], sessionmaker[Session]] = {}


def _forget_parent_engines() -> None:
    """In a forked child: drop the parent's pools without closing its connections (closing
    them here would end the parent's sessions on the shared sockets)."""
    for factory in _per_process.values():
        factory.kw["bind"].dispose(close=False)
    _per_process.clear()


os.register_at_fork(after_in_child=_forget_parent_engines)


def process_sessionmaker(settings: Settings) -> sessionmaker[Session]:
    """A session factory owned by this process: a forked worker child never reuses the
    connections of its parent."""
    key = (os.getpid(), settings.sqlalchemy_url)
    if key not in _per_process:
        _per_process[key] = make_sessionmaker(make_engine(settings))
    return _per_process[key]

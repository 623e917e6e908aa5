"""Opening the profiling database: ``DATABASE_URL``, else the embedded SQLite file of
``dnnfusion serve`` (``<DNNFUSION_DATA_DIR>/dnnfusion.db``, the service settings' default).

Readers (planning) never create anything: a missing SQLite file, a file that is not a database
or a database without the profiling tables raises :class:`ProfilingDatabaseError` with one
line, and the caller plans with the analytic model. The writer (``dnnfusion profile``) creates
the file and runs the migrations first (:func:`open_database` with ``create=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from compiler_core.errors import DnnFusionError

TABLES = ("device_classes", "devices", "profile_entries", "profiling_requests")


class ProfilingDatabaseError(DnnFusionError):
    """The profiling database is missing, unreadable, not migrated, or failed a query.
    ``missing``: the embedded file does not exist (nothing was ever measured)."""

    missing = False


class MissingDatabaseError(ProfilingDatabaseError):
    missing = True


@dataclass
class ProfilingDatabase:
    url: str  # with the password hidden
    engine: Engine
    sessions: sessionmaker[Session]

    def close(self) -> None:
        self.engine.dispose()


def database_url(url: str | None = None) -> str:
    """The URL to use: ``url``, else ``DATABASE_URL``, else the embedded SQLite file."""
    if url:
        return url
    from dnfstore.settings import Settings

    return Settings().sqlalchemy_url


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is shown as the error says
        return "<malformed URL>"


def open_database(url: str | None = None, *, create: bool = False) -> ProfilingDatabase:
    """Connect and check the profiling tables. ``create``: make the SQLite file and migrate
    the schema to the latest version (``alembic upgrade head``, as ``dnnfusion serve`` does).

    Raises :class:`ProfilingDatabaseError` (one line) when the database cannot be used."""
    from dnfstore.db import make_engine, make_sessionmaker
    from dnfstore.settings import Settings

    raw = database_url(url)
    shown = _shown(raw)
    try:
        parsed = make_url(raw)
    except Exception as e:  # noqa: BLE001 - sqlalchemy raises ArgumentError and others
        raise ProfilingDatabaseError(f"profiling database URL is malformed: {e}") from None
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if is_sqlite and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not create and not path.is_file():
            raise MissingDatabaseError(
                f"profiling database {path} does not exist (run `dnnfusion profile` or "
                "`dnnfusion serve` to create it, or set DATABASE_URL)")
    settings = Settings(database_url=raw)
    try:
        if create:
            from dnfstore import migrate

            migrate.upgrade(settings)
        engine = make_engine(settings)
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
    except (SQLAlchemyError, _alembic_error()) as e:
        raise ProfilingDatabaseError(
            f"profiling database {shown} is unusable: {_first_line(e)}") from None
    missing = [t for t in TABLES if t not in present]
    if missing:
        engine.dispose()
        raise ProfilingDatabaseError(
            f"profiling database {shown} has no {missing[0]} table (run `alembic upgrade head`"
            " or `dnnfusion serve` to migrate it)")
    return ProfilingDatabase(shown, engine, make_sessionmaker(engine))


def _alembic_error() -> type[Exception]:
    from alembic.util import CommandError

    return CommandError


def _first_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None)
    text = str(orig if orig is not None else err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:300]

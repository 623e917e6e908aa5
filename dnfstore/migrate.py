"""Run the Alembic migrations from Python (``dnnfusion serve`` does this on start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from dnfstore.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]


def alembic_config(settings: Settings) -> Config:
    cfg = Config(str(REPO_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False  # keep the caller's logging setup
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    url = make_url(settings.sqlalchemy_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str = "base") -> None:
    command.downgrade(alembic_config(settings), revision)

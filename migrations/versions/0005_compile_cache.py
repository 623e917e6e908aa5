"""compilations: the compile cache (key, hit source) and the per-user sharing flag

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("share_cache", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("compilations") as batch:
        batch.add_column(sa.Column("cache_key", sa.String(64)))
        batch.add_column(sa.Column("cached_from_id", sa.Uuid()))
        batch.add_column(sa.Column("profile_class", sa.String(128)))
        batch.add_column(sa.Column("profile_fingerprint", sa.String(64)))
        batch.add_column(sa.Column("idempotency_key", sa.String(255)))
        batch.add_column(sa.Column("idempotency_hash", sa.String(64)))
        batch.create_index("ix_compilations_cache_key", ["cache_key"])
        batch.create_unique_constraint(
            "uq_compilations_idempotency", ["owner_id", "idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("compilations") as batch:
        batch.drop_constraint("uq_compilations_idempotency", type_="unique")
        batch.drop_index("ix_compilations_cache_key")
        for name in ("idempotency_hash", "idempotency_key", "profile_fingerprint",
                     "profile_class", "cached_from_id", "cache_key"):
            batch.drop_column(name)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("share_cache")

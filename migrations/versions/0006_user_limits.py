"""users: per-user limits (concurrent compilations, stored bytes, uploads per minute)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One optional row per user; NULL = the server's default (dnfstore.limits_models).
    op.create_table(
        "user_limits",
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("max_concurrent_compilations", sa.Integer()),
        sa.Column("max_stored_bytes", sa.BigInteger()),
        sa.Column("max_uploads_per_minute", sa.Integer()),
    )


def downgrade() -> None:
    op.drop_table("user_limits")

"""profile entries: the device's battery level when the run started

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("profile_entries") as batch:
        batch.add_column(sa.Column("battery_pct", sa.Float()))


def downgrade() -> None:
    with op.batch_alter_table("profile_entries") as batch:
        batch.drop_column("battery_pct")

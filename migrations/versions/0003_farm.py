"""device farm: executable profiling requests (the candidate sub-model), device status,
idempotent agent results

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("profiling_requests") as batch:
        batch.add_column(sa.Column("candidate", sa.LargeBinary()))
        batch.add_column(sa.Column("candidate_first", sa.JSON()))
        batch.add_column(sa.Column("candidate_second", sa.JSON()))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("online", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("temperature_c", sa.Float()))
        batch.add_column(sa.Column("battery_pct", sa.Float()))
    with op.batch_alter_table("profile_entries") as batch:
        batch.add_column(sa.Column("request_id", sa.Integer()))
        batch.add_column(sa.Column("idempotency_key", sa.String(128)))
        batch.create_unique_constraint("uq_profile_entries_idempotency", ["idempotency_key"])


def downgrade() -> None:
    with op.batch_alter_table("profile_entries") as batch:
        batch.drop_constraint("uq_profile_entries_idempotency", type_="unique")
        batch.drop_column("idempotency_key")
        batch.drop_column("request_id")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("battery_pct")
        batch.drop_column("temperature_c")
        batch.drop_column("online")
    with op.batch_alter_table("profiling_requests") as batch:
        batch.drop_column("candidate_second")
        batch.drop_column("candidate_first")
        batch.drop_column("candidate")

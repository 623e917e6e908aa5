"""profiling database: device classes, devices, profile entries, profiling requests;
compilations.device_class

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _class_fk() -> sa.Column:
    return sa.Column("device_class_id", sa.Integer(),
                     sa.ForeignKey("device_classes.id", ondelete="CASCADE"), nullable=False)


def _signature_columns() -> list[sa.Column]:
    return [
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("structure_key", sa.String(64), nullable=False),
        sa.Column("codegen_version", sa.Integer(), nullable=False),
        sa.Column("threads", sa.Integer(), nullable=False),
        sa.Column("ops", sa.String(2048), nullable=False),
        sa.Column("mapping", sa.String(1024), nullable=False),
        sa.Column("dtype", sa.String(16), nullable=False),
        sa.Column("shapes", sa.JSON(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "device_classes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(128), nullable=False, unique=True),
        sa.Column("cpu_model", sa.String(255)),
        sa.Column("isa", sa.String(64)),
        sa.Column("cores", sa.Integer()),
        sa.Column("max_mhz", sa.Integer()),
        sa.Column("os", sa.String(64)),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), primary_key=True),
        _class_fk(),
        sa.Column("serial", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(255)),
        _ts("created_at", nullable=False),
        _ts("last_seen_at"),
        sa.UniqueConstraint("device_class_id", "serial", name="uq_devices_serial"),
    )
    op.create_index("ix_devices_device_class_id", "devices", ["device_class_id"])
    op.create_table(
        "profile_entries",
        sa.Column("id", sa.Integer(), primary_key=True),
        _class_fk(),
        sa.Column("device_id", sa.Integer(), sa.ForeignKey("devices.id", ondelete="SET NULL")),
        sa.Column("agent", sa.String(255)),
        *_signature_columns(),
        sa.Column("fused_us", sa.JSON(), nullable=False),
        sa.Column("separate_us", sa.JSON(), nullable=False),
        sa.Column("fused_median_us", sa.Float(), nullable=False),
        sa.Column("fused_p10_us", sa.Float(), nullable=False),
        sa.Column("fused_p90_us", sa.Float(), nullable=False),
        sa.Column("fused_count", sa.Integer(), nullable=False),
        sa.Column("separate_median_us", sa.Float(), nullable=False),
        sa.Column("separate_p10_us", sa.Float(), nullable=False),
        sa.Column("separate_p90_us", sa.Float(), nullable=False),
        sa.Column("separate_count", sa.Integer(), nullable=False),
        sa.Column("spread", sa.Float(), nullable=False),
        sa.Column("max_abs_diff", sa.Float()),
        sa.Column("cpu", sa.String(255)),
        sa.Column("temperature_c", sa.Float()),
        _ts("measured_at", nullable=False),
    )
    op.create_index("ix_profile_entries_exact", "profile_entries",
                    ["device_class_id", "signature", "codegen_version"])
    op.create_index("ix_profile_entries_nearest", "profile_entries",
                    ["device_class_id", "structure_key", "codegen_version"])
    op.create_table(
        "profiling_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        _class_fk(),
        *_signature_columns(),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("times_wanted", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(255)),
        _ts("lease_expires_at"),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.UniqueConstraint("device_class_id", "signature",
                            name="uq_profiling_requests_signature"),
    )
    op.create_index("ix_profiling_requests_state", "profiling_requests",
                    ["device_class_id", "state"])
    op.add_column("compilations", sa.Column("device_class", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("compilations") as batch:
        batch.drop_column("device_class")
    op.drop_index("ix_profiling_requests_state", table_name="profiling_requests")
    op.drop_table("profiling_requests")
    op.drop_index("ix_profile_entries_nearest", table_name="profile_entries")
    op.drop_index("ix_profile_entries_exact", table_name="profile_entries")
    op.drop_table("profile_entries")
    op.drop_index("ix_devices_device_class_id", table_name="devices")
    op.drop_table("devices")
    op.drop_table("device_classes")

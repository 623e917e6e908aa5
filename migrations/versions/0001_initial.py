"""users, api keys, models, compilations

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        _ts("created_at", nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        _ts("created_at", nullable=False),
        _ts("revoked_at"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("upload_format", sa.String(16), nullable=False),
        sa.Column("storage_path", sa.String(1024), nullable=False),
        sa.Column("model_file", sa.String(1024), nullable=False),
        sa.Column("opset", sa.Integer()),
        sa.Column("inputs", sa.JSON(), nullable=False),
        _ts("created_at", nullable=False),
        sa.UniqueConstraint("owner_id", "sha256", name="uq_models_owner_sha256"),
    )
    op.create_index("ix_models_owner_id", "models", ["owner_id"])
    op.create_table(
        "compilations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("model_id", sa.Uuid(), sa.ForeignKey("models.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("input_shapes", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(32)),
        sa.Column("error", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(255)),
        _ts("created_at", nullable=False),
        _ts("enqueued_at"),
        _ts("started_at"),
        _ts("heartbeat_at"),
        _ts("stage_started_at"),
        _ts("finished_at"),
        sa.Column("stage_ms", sa.JSON(), nullable=False),
        sa.Column("artifact_path", sa.String(1024)),
        sa.Column("artifact_bytes", sa.BigInteger()),
        sa.Column("artifact_sha256", sa.String(64)),
        sa.Column("report_path", sa.String(1024)),
        sa.Column("original_nodes", sa.Integer()),
        sa.Column("fused_blocks", sa.Integer()),
        sa.Column("max_abs_error", sa.Float()),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("ort_latency_ms", sa.Float()),
    )
    op.create_index("ix_compilations_owner_id", "compilations", ["owner_id"])
    op.create_index("ix_compilations_model_id", "compilations", ["model_id"])
    op.create_index("ix_compilations_state", "compilations", ["state"])


def downgrade() -> None:
    op.drop_index("ix_compilations_state", table_name="compilations")
    op.drop_index("ix_compilations_model_id", table_name="compilations")
    op.drop_index("ix_compilations_owner_id", table_name="compilations")
    op.drop_table("compilations")
    op.drop_index("ix_models_owner_id", table_name="models")
    op.drop_table("models")
    op.drop_table("api_keys")
    op.drop_table("users")

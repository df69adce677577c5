"""The audit log: learner exports and erasures (and later operator actions) are recorded.

Expand-only: one new table, nothing else changes (docs/ARCHITECTURE.md, "Upgrades").

Revision ID: 0014_audit_log
Revises: 0006_grade_outbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0014_audit_log"
down_revision = "0006_grade_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("platform_id", sa.Integer, nullable=True),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.CheckConstraint("outcome IN ('ok','refused','failed')", name="ck_audit_log_outcome"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_action_at", "audit_log", ["action", "at"])
    op.create_index("ix_audit_log_platform_at", "audit_log", ["platform_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_platform_at", table_name="audit_log")
    op.drop_index("ix_audit_log_action_at", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")

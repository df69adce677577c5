"""Grade outbox: one row per (platform, line item, learner), coalesced, leased by sync workers.

Revision ID: 0006_grade_outbox
Revises: 0005_runtime
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0006_grade_outbox"
down_revision = "0005_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grade_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("platform_key", sa.String(64), nullable=False),
        sa.Column("line_item_key", sa.String(600), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("line_item_url", sa.Text, nullable=True),
        sa.Column("lineitems_url", sa.Text, nullable=True),
        sa.Column("resource_link_id", sa.String(255), nullable=True),
        sa.Column("tag", sa.String(255), nullable=True),
        sa.Column("label", sa.String(512), nullable=True),
        sa.Column("resource_id", sa.String(255), nullable=True),
        sa.Column("line_item_score_maximum", sa.Float, nullable=False),
        sa.Column("score_given", sa.Float, nullable=True),
        sa.Column("score_maximum", sa.Float, nullable=True),
        sa.Column("activity_progress", sa.String(32), nullable=False),
        sa.Column("grading_progress", sa.String(32), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        sa.Column("outcome_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.Column("last_sent_timestamp", UtcDateTime(), nullable=True),
        sa.Column("grade_delivered", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("platform_key", "line_item_key", "user_id", name="uq_grade_outbox_key"),
        sa.CheckConstraint(
            "status IN ('pending','in_flight','delivered','superseded','dead')", name="ck_grade_outbox_status"
        ),
        sa.CheckConstraint("status <> 'in_flight' OR lease_expires_at IS NOT NULL", name="ck_grade_outbox_lease"),
    )
    op.create_index("ix_grade_outbox_due", "grade_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_grade_outbox_lease", "grade_outbox", ["status", "lease_expires_at"])


def downgrade() -> None:
    op.drop_index("ix_grade_outbox_lease", table_name="grade_outbox")
    op.drop_index("ix_grade_outbox_due", table_name="grade_outbox")
    op.drop_table("grade_outbox")

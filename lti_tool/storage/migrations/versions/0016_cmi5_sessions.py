"""cmi5: AU sessions (one per launch of an AU) and what each AU, block and course achieved per attempt.

Expand-only: two new tables (docs/ARCHITECTURE.md, "Upgrades").

Revision ID: 0016_cmi5_sessions
Revises: 0005_runtime (the attempts table its rows belong to)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0016_cmi5_sessions"
down_revision = "0005_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cmi5_au_sessions",
        sa.Column("session_id", sa.String(36), primary_key=True),
        sa.Column("attempt_id", sa.String(32), sa.ForeignKey("attempts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("au_key", sa.String(64), nullable=False),
        sa.Column("au_id", sa.Text, nullable=False),
        sa.Column("registration", sa.String(36), nullable=False),
        sa.Column("activity_id", sa.Text, nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("actor_key", sa.Text, nullable=False),
        sa.Column("actor", sa.JSON, nullable=False),
        sa.Column("launch_mode", sa.String(16), nullable=False),
        sa.Column("mastery_score", sa.Float, nullable=True),
        sa.Column("verbs", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("fetch_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("fetched_at", UtcDateTime(), nullable=True),
        sa.Column("credential_key", sa.String(64), nullable=True, unique=True),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("status IN ('open','terminated','abandoned')", name="ck_cmi5_au_sessions_status"),
    )
    op.create_index("ix_cmi5_au_sessions_attempt", "cmi5_au_sessions", ["attempt_id", "au_key"])
    op.create_table(
        "cmi5_au_records",
        sa.Column("attempt_id", sa.String(32), sa.ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("node_key", sa.String(64), primary_key=True),
        sa.Column("node_id", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("completed", sa.Boolean, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("waived", sa.Boolean, nullable=False),
        sa.Column("score_scaled", sa.Float, nullable=True),
        sa.Column("satisfied_at", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('au','block','course')", name="ck_cmi5_au_records_kind"),
    )


def downgrade() -> None:
    op.drop_table("cmi5_au_records")
    op.drop_index("ix_cmi5_au_sessions_attempt", table_name="cmi5_au_sessions")
    op.drop_table("cmi5_au_sessions")

"""LRS forwarding: per-academy forwarding settings and cursor, and the dead letters of refused statements.

Expand-only: two new tables (docs/ARCHITECTURE.md, "Upgrades"). The cursor is a position in
``lrs_statements.seq`` (stored order); no row is added per statement on the ingest path.

Revision ID: 0017_lrs_forwarding
Revises: 0012_lrs (the statements table the cursor walks); depends on 0002_lti (platforms)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0017_lrs_forwarding"
down_revision = "0012_lrs"
branch_labels = None
depends_on = "0002_lti"

_BIG = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "lrs_forwarding",
        sa.Column("platform_id", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("endpoint", sa.Text, nullable=False),
        sa.Column("xapi_version", sa.String(8), nullable=False),
        sa.Column("auth_key", sa.String(255), nullable=False),
        sa.Column("auth_secret", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cursor_seq", _BIG, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(64), nullable=True),
        sa.Column("delivered", _BIG, nullable=False),
        sa.Column("last_success_at", UtcDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("state IN ('on','paused','off')", name="ck_lrs_forwarding_state"),
        sa.CheckConstraint("xapi_version IN ('1.0.3','2.0.0')", name="ck_lrs_forwarding_version"),
    )
    op.create_table(
        "lrs_forward_dead",
        sa.Column("id", _BIG, primary_key=True),
        sa.Column("platform_id", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", _BIG, nullable=False),
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("platform_id", "seq", name="uq_lrs_forward_dead_seq"),
        sa.CheckConstraint("status IN ('dead','retry')", name="ck_lrs_forward_dead_status"),
    )
    op.create_index("ix_lrs_forward_dead_status", "lrs_forward_dead", ["platform_id", "status", "seq"])


def downgrade() -> None:
    op.drop_index("ix_lrs_forward_dead_status", table_name="lrs_forward_dead")
    op.drop_table("lrs_forward_dead")
    op.drop_table("lrs_forwarding")

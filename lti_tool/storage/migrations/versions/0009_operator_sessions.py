"""Server-side operator sessions: logout and lifetimes revoke a session on every node.

Revision ID: 0009_operator_sessions
Revises: 0004_catalogue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0009_operator_sessions"
down_revision = "0004_catalogue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("operator_id", sa.Integer, sa.ForeignKey("operators.id", ondelete="CASCADE"), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_operator_sessions_operator_id", "operator_sessions", ["operator_id"])
    op.create_index("ix_operator_sessions_expires_at", "operator_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_operator_sessions_expires_at", table_name="operator_sessions")
    op.drop_index("ix_operator_sessions_operator_id", table_name="operator_sessions")
    op.drop_table("operator_sessions")

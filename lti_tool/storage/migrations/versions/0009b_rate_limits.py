"""Rate-limit counters shared by every node (operator lock-out, anonymous LTI endpoints).

Revision ID: 0009b_rate_limits
Revises: 0009_operator_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0009b_rate_limits"
down_revision = "0009_operator_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("window_ends_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_rate_limits_window_ends_at", "rate_limits", ["window_ends_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limits_window_ends_at", table_name="rate_limits")
    op.drop_table("rate_limits")

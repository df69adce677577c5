"""SCORM 2004 state shared across a learner's attempts: global objectives and adl.data stores.

Expand-only: one new table, nothing else changes (docs/ARCHITECTURE.md, "Upgrades").

Revision ID: 0015_learner_shared_state
Revises: 0005_runtime
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0015_learner_shared_state"
down_revision = "0005_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learner_shared_state",
        sa.Column("platform_id", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("deployment_id", sa.String(255), primary_key=True),
        sa.Column("learner_sub", sa.String(255), primary_key=True),
        sa.Column("scope", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("target_id", sa.Text, nullable=False),
        sa.Column("value", sa.JSON, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('objective','data')", name="ck_learner_shared_state_kind"),
    )


def downgrade() -> None:
    op.drop_table("learner_shared_state")

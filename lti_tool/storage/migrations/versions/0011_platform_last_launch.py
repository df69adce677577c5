"""Platforms remember their last accepted launch (``platforms list/show`` show it).

A registration whose LMS tool was deleted stops launching; its last launch tells the operator.
Written at most once a minute per platform by the launch path.

Revision ID: 0011_platform_last_launch
Revises: 0002_lti
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0011_platform_last_launch"
down_revision = "0002_lti"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("platforms", sa.Column("last_launch_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("platforms") as batch:
        batch.drop_column("last_launch_at")

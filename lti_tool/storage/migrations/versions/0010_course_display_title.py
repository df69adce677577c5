"""Courses: an operator-set display title (deep-linked activities and grade columns use it).

Revision ID: 0010_course_display_title
Revises: 0005_runtime
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_course_display_title"
down_revision = "0005_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.add_column(sa.Column("display_title", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("display_title")

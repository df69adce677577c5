"""The development LMS's tables: resource links, line items, scores.

Databases migrated before the development LMS had its own migrations already hold these tables
(the tool's ``0002_lti`` created them then, and keeps them: expand/contract). So each table is
created only where it is absent, and such a database is just stamped at this revision.

Revision ID: d001_devlms_tables
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "d001_devlms_tables"
down_revision = None
branch_labels = ("devlms",)
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "devplatform_resource_links" not in existing:
        op.create_table(
            "devplatform_resource_links",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("title", sa.String(255), nullable=False),
            sa.Column("url", sa.Text, nullable=True),
            sa.Column("custom", sa.JSON, nullable=False),
            sa.Column("line_item_id", sa.Integer, nullable=True),
            sa.Column("created_at", UtcDateTime(), nullable=False),
        )
    if "devplatform_line_items" not in existing:
        op.create_table(
            "devplatform_line_items",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("label", sa.String(255), nullable=False),
            sa.Column("score_maximum", sa.Float, nullable=False),
            sa.Column("resource_link_id", sa.String(255), nullable=True),
            sa.Column("resource_id", sa.String(255), nullable=True),
            sa.Column("tag", sa.String(255), nullable=True),
            sa.Column("created_at", UtcDateTime(), nullable=False),
        )
    if "devplatform_scores" not in existing:
        op.create_table(
            "devplatform_scores",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "line_item_id",
                sa.Integer,
                sa.ForeignKey("devplatform_line_items.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("user_id", sa.String(255), nullable=False),
            sa.Column("score_given", sa.Float, nullable=True),
            sa.Column("score_maximum", sa.Float, nullable=True),
            sa.Column("activity_progress", sa.String(32), nullable=False),
            sa.Column("grading_progress", sa.String(32), nullable=False),
            sa.Column("comment", sa.Text, nullable=True),
            sa.Column("timestamp", sa.String(64), nullable=False),
            sa.Column("received_at", UtcDateTime(), nullable=False),
        )
        op.create_index("ix_devplatform_scores_line_item_id", "devplatform_scores", ["line_item_id"])


def downgrade() -> None:
    op.drop_index("ix_devplatform_scores_line_item_id", table_name="devplatform_scores")
    op.drop_table("devplatform_scores")
    op.drop_table("devplatform_line_items")
    op.drop_table("devplatform_resource_links")

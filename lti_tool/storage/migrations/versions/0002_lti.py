"""LTI launch: login requests, validated launches, development platform tables.

Revision ID: 0002_lti
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0002_lti"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_login_requests",
        sa.Column(
            "state",
            sa.String(128),
            sa.ForeignKey("launch_states.state", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("login_hint", sa.Text, nullable=False),
        sa.Column("lti_message_hint", sa.Text, nullable=True),
        sa.Column("deployment_id", sa.String(255), nullable=True),
        sa.Column("storage_target", sa.String(255), nullable=True),
    )
    op.create_table(
        "lti_launches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "platform_id",
            sa.Integer,
            sa.ForeignKey("platforms.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("message_type", sa.String(64), nullable=False),
        sa.Column("sub", sa.String(255), nullable=True),
        sa.Column("context_id", sa.String(255), nullable=True),
        sa.Column("resource_link_id", sa.String(255), nullable=True),
        sa.Column("claims", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_lti_launches_platform_id", "lti_launches", ["platform_id"])
    op.create_index("ix_lti_launches_expires_at", "lti_launches", ["expires_at"])
    op.create_table(
        "devplatform_resource_links",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("custom", sa.JSON, nullable=False),
        sa.Column("line_item_id", sa.Integer, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
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
    op.drop_index("ix_lti_launches_expires_at", table_name="lti_launches")
    op.drop_index("ix_lti_launches_platform_id", table_name="lti_launches")
    op.drop_table("lti_launches")
    op.drop_table("lti_login_requests")

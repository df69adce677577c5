"""LTI launch: login requests, validated launches.

Until the development LMS became its own package this revision also created its three tables
(``devplatform_*``). Databases migrated before keep them (expand/contract: nothing is dropped);
new databases get them only from the development LMS's own migrations, in demo mode
(``lti_tool/devlms/migrations``, which create them only where they are absent).

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


def downgrade() -> None:
    op.drop_index("ix_lti_launches_expires_at", table_name="lti_launches")
    op.drop_index("ix_lti_launches_platform_id", table_name="lti_launches")
    op.drop_table("lti_launches")
    op.drop_table("lti_login_requests")

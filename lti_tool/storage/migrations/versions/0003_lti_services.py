"""LTI Advantage services: shared service-token cache and NRPS roster cache.

Revision ID: 0003_lti_services
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0003_lti_services"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_tokens",
        sa.Column("cache_key", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.String(512), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("access_token", sa.Text, nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_service_tokens_expires_at", "service_tokens", ["expires_at"])
    op.create_table(
        "roster_cache",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "platform_id",
            sa.Integer,
            sa.ForeignKey("platforms.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("context_id", sa.String(255), nullable=False),
        sa.Column("link_key", sa.String(255), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("fetched_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("platform_id", "deployment_id", "context_id", "link_key", name="uq_roster_cache_key"),
        sa.CheckConstraint("level IN ('resource_link','context')", name="ck_roster_cache_level"),
    )
    op.create_index("ix_roster_cache_platform_id", "roster_cache", ["platform_id"])
    op.create_index("ix_roster_cache_expires_at", "roster_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_roster_cache_expires_at", table_name="roster_cache")
    op.drop_index("ix_roster_cache_platform_id", table_name="roster_cache")
    op.drop_table("roster_cache")
    op.drop_index("ix_service_tokens_expires_at", table_name="service_tokens")
    op.drop_table("service_tokens")

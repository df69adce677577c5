"""Built-in LRS: credentials, statements (+ agent/activity index tables), attachments, activities, documents.

Revision ID: 0012_lrs
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0012_lrs"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "lrs_credentials",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("registration", sa.String(36), nullable=True),
        sa.Column("activity_id", sa.Text, nullable=True),
        sa.Column("agent_key", sa.String(512), nullable=True),
        sa.Column("agent_json", sa.Text, nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.CheckConstraint("scope IN ('operator','launch')", name="ck_lrs_credentials_scope"),
    )
    op.create_table(
        "lrs_statements",
        sa.Column("seq", SEQ, primary_key=True),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("statement_id", sa.String(36), nullable=False),
        sa.Column("registration", sa.String(36), nullable=True),
        sa.Column("verb_id", sa.String(1024), nullable=False),
        sa.Column("ref_target", sa.String(36), nullable=True),
        sa.Column("voided", sa.Boolean, nullable=False),
        sa.Column("is_voiding", sa.Boolean, nullable=False),
        sa.Column("stored", UtcDateTime(), nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("credential_id", sa.Integer, nullable=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attachment_hashes", sa.Text, nullable=True),
        sa.UniqueConstraint("tenant", "statement_id", name="uq_lrs_statements_id"),
    )
    op.create_index("ix_lrs_statements_registration", "lrs_statements", ["tenant", "registration", "seq"])
    op.create_index("ix_lrs_statements_verb", "lrs_statements", ["tenant", "verb_id", "seq"])
    op.create_index("ix_lrs_statements_stored", "lrs_statements", ["tenant", "stored", "seq"])
    op.create_index("ix_lrs_statements_ref", "lrs_statements", ["tenant", "ref_target"])
    op.create_table(
        "lrs_statement_agents",
        sa.Column("seq", SEQ, sa.ForeignKey("lrs_statements.seq", ondelete="CASCADE"), primary_key=True),
        sa.Column("agent_key", sa.String(512), primary_key=True),
        sa.Column("direct", sa.Boolean, primary_key=True),
    )
    op.create_index("ix_lrs_statement_agents_key", "lrs_statement_agents", ["agent_key", "direct", "seq"])
    op.create_table(
        "lrs_statement_activities",
        sa.Column("seq", SEQ, sa.ForeignKey("lrs_statements.seq", ondelete="CASCADE"), primary_key=True),
        sa.Column("activity_id", sa.String(1024), primary_key=True),
        sa.Column("direct", sa.Boolean, primary_key=True),
    )
    op.create_index(
        "ix_lrs_statement_activities_id", "lrs_statement_activities", ["activity_id", "direct", "seq"]
    )
    op.create_table(
        "lrs_attachments",
        sa.Column("tenant", sa.String(255), primary_key=True),
        sa.Column("sha2", sa.String(128), primary_key=True),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "lrs_activities",
        sa.Column("tenant", sa.String(255), primary_key=True),
        sa.Column("activity_id", sa.String(1024), primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_table(
        "lrs_documents",
        sa.Column("id", SEQ, primary_key=True),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("activity_id", sa.String(1024), nullable=False),
        sa.Column("agent_key", sa.String(512), nullable=False),
        sa.Column("registration", sa.String(36), nullable=False),
        sa.Column("doc_id", sa.String(1024), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("updated", UtcDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('state','activity_profile','agent_profile')", name="ck_lrs_documents_kind"),
        sa.UniqueConstraint(
            "tenant", "kind", "activity_id", "agent_key", "registration", "doc_id", name="uq_lrs_documents_key"
        ),
    )
    op.create_index(
        "ix_lrs_documents_updated", "lrs_documents", ["tenant", "kind", "activity_id", "agent_key", "updated"]
    )


def downgrade() -> None:
    op.drop_table("lrs_documents")
    op.drop_table("lrs_activities")
    op.drop_table("lrs_attachments")
    op.drop_table("lrs_statement_activities")
    op.drop_table("lrs_statement_agents")
    op.drop_table("lrs_statements")
    op.drop_table("lrs_credentials")

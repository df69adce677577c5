"""Runtime: learner registrations, attempts pinned to a course version, per-SCO state documents.

Revision ID: 0005_runtime
Revises: 0004_catalogue
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_tool.storage.models import UtcDateTime

revision = "0005_runtime"
down_revision = "0004_catalogue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("courses") as batch:
        batch.add_column(sa.Column("attempt_policy", sa.String(16), nullable=True))
    op.create_table(
        "learner_registrations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform_id", sa.Integer, sa.ForeignKey("platforms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("context_id", sa.String(255), nullable=True),
        sa.Column("context_title", sa.String(512), nullable=True),
        sa.Column("resource_link_id", sa.String(255), nullable=False),
        sa.Column("resource_link_title", sa.String(512), nullable=True),
        sa.Column("learner_sub", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("is_learner", sa.Boolean, nullable=False),
        sa.Column("course_id", sa.Integer, sa.ForeignKey("courses.id"), nullable=False),
        sa.Column("ags", sa.JSON, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint(
            "platform_id", "deployment_id", "resource_link_id", "learner_sub", name="uq_registrations_learner_link"
        ),
    )
    op.create_index("ix_learner_registrations_platform_id", "learner_registrations", ["platform_id"])
    op.create_index("ix_learner_registrations_course_id", "learner_registrations", ["course_id"])
    op.create_table(
        "attempts",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "registration_id",
            sa.Integer,
            sa.ForeignKey("learner_registrations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("course_version_id", sa.Integer, sa.ForeignKey("course_versions.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("current_item", sa.String(255), nullable=True),
        sa.Column("sequencing", sa.JSON, nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("outcome_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("registration_id", "number", name="uq_attempts_number"),
        sa.CheckConstraint("status IN ('active','completed','abandoned')", name="ck_attempts_status"),
    )
    op.create_index("ix_attempts_registration_id", "attempts", ["registration_id"])
    op.create_index("ix_attempts_course_version_id", "attempts", ["course_version_id"])
    op.create_table(
        "sco_states",
        sa.Column("attempt_id", sa.String(32), sa.ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("item_id", sa.String(255), primary_key=True),
        sa.Column("cmi_version", sa.String(8), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("session_open", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("last_commit_id", sa.String(64), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sco_states")
    op.drop_table("attempts")
    op.drop_table("learner_registrations")
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("attempt_policy")

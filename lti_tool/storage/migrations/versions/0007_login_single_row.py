"""A login is one row: the hints kept for the cookie-less fallbacks move into ``launch_states``.

Every login wrote two rows (state + hints) in two tables; the launch path now writes one.

Revision ID: 0007_login_single_row
Revises: 0002_lti
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_login_single_row"
down_revision = "0002_lti"
branch_labels = None
depends_on = None

HINTS = ("login_hint", "lti_message_hint", "deployment_id", "storage_target")


def _hint_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("login_hint", sa.Text, nullable=True),
        sa.Column("lti_message_hint", sa.Text, nullable=True),
        sa.Column("deployment_id", sa.String(255), nullable=True),
        sa.Column("storage_target", sa.String(255), nullable=True),
    ]


def upgrade() -> None:
    for column in _hint_columns():
        op.add_column("launch_states", column)
    for name in HINTS:  # portable correlated copy (SQLite and PostgreSQL)
        op.execute(
            f"UPDATE launch_states SET {name} = (SELECT r.{name} FROM lti_login_requests r "  # noqa: S608 - fixed names
            "WHERE r.state = launch_states.state)"
        )
    op.drop_table("lti_login_requests")


def downgrade() -> None:
    # Read the hints first: on SQLite the batch rebuild of launch_states drops the old table, and
    # that would cascade to a hints table created before it.
    conn = op.get_bind()
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            sa.text(
                "SELECT state, login_hint, lti_message_hint, deployment_id, storage_target FROM launch_states "
                "WHERE login_hint IS NOT NULL"
            )
        )
    ]
    with op.batch_alter_table("launch_states") as batch:
        for name in HINTS:
            batch.drop_column(name)
    requests = op.create_table(
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
    if rows:
        op.bulk_insert(requests, rows)

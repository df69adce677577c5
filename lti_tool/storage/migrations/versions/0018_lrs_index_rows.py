"""LRS index rows: fewer B-tree entries written per statement.

* ``lrs_statement_agents`` and ``lrs_statement_activities`` on SQLite become ``WITHOUT ROWID``
  tables: the primary key (seq, key, direct) is the table itself, so each index row is written
  to two B-trees (the key and the lookup index) instead of three (a rowid table, the primary
  key's automatic index and the lookup index). PostgreSQL's tables are heaps either way: unchanged.
* ``ix_lrs_statements_ref`` and ``ix_lrs_statements_registration`` become partial indexes
  (``WHERE ... IS NOT NULL``) on both databases: a statement that is not a StatementRef (nearly
  all) or has no registration writes no entry; the queries that use them (``ref_target = ?``,
  ``registration = ?``) imply the condition.

Expand-only for the code of the previous release (same tables, columns and lookups).

Revision ID: 0018_lrs_index_rows
Revises: 0012_lrs (the tables it changes)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_lrs_index_rows"
down_revision = "0012_lrs"
branch_labels = None
depends_on = None

_LINKS = (
    ("lrs_statement_agents", "agent_key", "VARCHAR(512)", "ix_lrs_statement_agents_key"),
    ("lrs_statement_activities", "activity_id", "VARCHAR(1024)", "ix_lrs_statement_activities_id"),
)


def _rebuild_links(*, rowid: bool) -> None:
    """SQLite: the link tables rebuilt with (``rowid``) or without a rowid, their rows kept."""
    for table, key, key_type, index in _LINKS:
        op.execute(
            f"CREATE TABLE {table}_0018 ("
            f"seq INTEGER NOT NULL, {key} {key_type} NOT NULL, direct BOOLEAN NOT NULL, "
            f"PRIMARY KEY (seq, {key}, direct), "
            "FOREIGN KEY(seq) REFERENCES lrs_statements (seq) ON DELETE CASCADE)" + ("" if rowid else " WITHOUT ROWID")
        )
        op.execute(f"INSERT INTO {table}_0018 (seq, {key}, direct) SELECT seq, {key}, direct FROM {table}")  # noqa: S608
        op.execute(f"DROP TABLE {table}")
        op.execute(f"ALTER TABLE {table}_0018 RENAME TO {table}")
        op.create_index(index, table, [key, "direct", "seq"])


def _partial(*, partial: bool) -> None:
    for index, columns, column in (
        ("ix_lrs_statements_ref", ["tenant", "ref_target"], "ref_target"),
        ("ix_lrs_statements_registration", ["tenant", "registration", "seq"], "registration"),
    ):
        op.drop_index(index, table_name="lrs_statements")
        where = {}
        if partial:
            condition = sa.text(f"{column} IS NOT NULL")
            where = {"sqlite_where": condition, "postgresql_where": condition}
        op.create_index(index, "lrs_statements", columns, **where)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_links(rowid=False)
    _partial(partial=True)


def downgrade() -> None:
    _partial(partial=False)
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_links(rowid=True)

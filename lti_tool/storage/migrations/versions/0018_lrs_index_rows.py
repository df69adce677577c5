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

PostgreSQL: never blocks the live service's writes. A plain ``CREATE INDEX`` holds a SHARE lock
on ``lrs_statements`` (every insert waits) for as long as it reads the table, minutes on a large
LRS, during a rolling upgrade. Each index is instead rebuilt outside the migration's transaction
(``autocommit_block``): ``CREATE INDEX CONCURRENTLY`` under a temporary name, ``DROP INDEX
CONCURRENTLY`` of the old one, then a rename (a catalogue update) to the final name; the end schema
is the same. Re-runnable after a crash mid-way: a leftover temporary index (valid, or INVALID from
an interrupted concurrent build) is dropped first and the old one is dropped only if it exists. This
file was edited in place to do so: a database that already ran it has the identical schema, one
that had not yet gets the same result without the lock.

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


_PARTIAL = (
    ("ix_lrs_statements_ref", ["tenant", "ref_target"], "ref_target"),
    ("ix_lrs_statements_registration", ["tenant", "registration", "seq"], "registration"),
)


def _partial(*, partial: bool) -> None:
    """The two indexes of ``lrs_statements`` made partial (``WHERE column IS NOT NULL``) or full."""
    if op.get_bind().dialect.name != "postgresql":
        for index, columns, column in _PARTIAL:
            op.drop_index(index, table_name="lrs_statements")
            condition = sa.text(f"{column} IS NOT NULL")
            op.create_index(index, "lrs_statements", columns, **({"sqlite_where": condition} if partial else {}))
        return
    with op.get_context().autocommit_block():  # CONCURRENTLY cannot run inside a transaction
        for index, columns, column in _PARTIAL:
            temporary = f"{index}_0018"
            where = {"postgresql_where": sa.text(f"{column} IS NOT NULL")} if partial else {}
            # a crash mid-way left it behind, maybe INVALID (an interrupted concurrent build)
            op.drop_index(temporary, table_name="lrs_statements", postgresql_concurrently=True, if_exists=True)
            op.create_index(temporary, "lrs_statements", columns, postgresql_concurrently=True, **where)
            op.drop_index(index, table_name="lrs_statements", postgresql_concurrently=True, if_exists=True)
            op.execute(f"ALTER INDEX {temporary} RENAME TO {index}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_links(rowid=False)
    _partial(partial=True)


def downgrade() -> None:
    _partial(partial=False)
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_links(rowid=True)

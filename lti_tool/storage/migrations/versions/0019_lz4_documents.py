"""PostgreSQL: the large JSON documents rewritten on every commit are compressed with lz4, not pglz.

A SCO's state document (``sco_states.state``: interactions, objectives, 4 KB of suspend data…) is
usually over PostgreSQL's 2 KB TOAST threshold, so every commit compressed it again with the
default ``pglz`` and every read decompressed it: half of the database's CPU per commit (0.51 →
0.26 ms per read-and-write of a 12 KB document, issue 16). lz4 is several times cheaper to
compress and decompress at a similar ratio. The same holds for an attempt's sequencing state and
the LRS's documents (State API bookmarks).

Expand-only and instant: ``SET COMPRESSION`` changes the catalogue, not the rows (values already
stored stay pglz and are read as before; new values are written with lz4), so a web node of the
previous release runs against the migrated database unchanged. A server older than PostgreSQL 14,
or one built without lz4, keeps pglz (logged). SQLite: nothing to do.

Revision ID: 0019_lz4_documents
Revises: 0005_runtime (sco_states, attempts); depends on 0012_lrs (lrs_documents)
"""

from __future__ import annotations

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError

revision = "0019_lz4_documents"
down_revision = "0005_runtime"
branch_labels = None
depends_on = "0012_lrs"

logger = logging.getLogger(__name__)

#: (table, column): JSON or binary values that are usually TOASTed and rewritten often
COLUMNS = (("sco_states", "state"), ("attempts", "sequencing"), ("lrs_documents", "content"))


def _compress(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if (bind.dialect.server_version_info or (0,)) < (14,):
        logger.warning("PostgreSQL older than 14: documents keep pglz compression")
        return
    for table, column in COLUMNS:
        try:
            with bind.begin_nested():  # a server built without lz4 refuses it: keep pglz
                op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET COMPRESSION {method}')
        except DBAPIError as exc:  # the server's refusal, logged
            logger.warning("%s.%s keeps its compression: %s", table, column, str(exc).splitlines()[0])


def upgrade() -> None:
    _compress("lz4")


def downgrade() -> None:
    _compress("pglz")

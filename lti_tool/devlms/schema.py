"""The development LMS's schema: migrated in demo mode only, on its own version table.

``cbsi-connect db upgrade`` runs :func:`upgrade` after the tool's migrations when
``server.demo`` is true, and ``cbsi-connect demo`` always does; in production it never runs, so a
database created there has none of these tables.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from lti_tool.storage import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "devlms_alembic_version"
TABLES = ("devplatform_resource_links", "devplatform_line_items", "devplatform_scores")


def _config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database) -> None:
    """Create or migrate the development LMS's tables (idempotent)."""
    command.upgrade(_config(db), "heads")


def downgrade(db: Database) -> None:
    """Drop the development LMS's tables and its version table's rows."""
    command.downgrade(_config(db), "base")


def current_revisions(db: Database) -> set[str]:
    """The development LMS's revisions recorded in ``db`` (empty when never migrated)."""
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads())


def is_current(db: Database) -> bool:
    """Whether ``db`` holds the development LMS's tables at this release's revision."""
    heads = set(ScriptDirectory.from_config(_config(db)).get_heads())
    return current_revisions(db) == heads

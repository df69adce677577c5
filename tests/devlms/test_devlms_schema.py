"""The development LMS's tables live in migrations of their own, applied only in demo mode (issue #11, 6).

- a database the tool's migrations create (production: ``cbsi-connect db upgrade``) has none of
  them, nor their version table;
- demo mode (``db upgrade`` with ``server.demo``, or ``cbsi-connect demo``) creates them, on a
  version table of their own (``devlms_alembic_version``), and the models match;
- a database created before the split (the tool's ``0002_lti`` made the tables then) keeps its
  tables and rows: the development LMS's migration only stamps it.

Runs on SQLite, and on PostgreSQL with ``CBSI_TEST_POSTGRES_URL``.
"""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect, text

from lti_tool.cli import CliContext, cli
from lti_tool.devlms import schema
from lti_tool.devlms.models import DevBase
from lti_tool.storage import Database
from lti_tool.storage.models import Base

DEV_TABLES = {"devplatform_resource_links", "devplatform_line_items", "devplatform_scores"}


def _tables(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def _cli(tmp_path: Path, db: Database, *args: str, demo: bool) -> str:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[server]
secret_key = "{"k" * 40}"
demo = {"true" if demo else "false"}
instance_folder = "{tmp_path / "instance"}"
[database]
url = "{db.engine.url.render_as_string(hide_password=False)}"
[keys]
folder = "{tmp_path / "keys"}"
"""
    )
    obj = CliContext(str(config))
    try:
        result = CliRunner().invoke(cli, list(args), obj=obj, catch_exceptions=False)
    finally:
        obj.services.db.dispose()  # the command's own engine: no connection left for the collector
    assert result.exit_code == 0, result.output
    return result.output


def test_production_upgrade_creates_none_of_the_development_tables(tmp_path: Path, fresh_database: Database) -> None:
    db = fresh_database
    _cli(tmp_path, db, "db", "upgrade", demo=False)
    tables = _tables(db)
    assert set(Base.metadata.tables) <= tables
    assert not tables & DEV_TABLES
    assert schema.VERSION_TABLE not in tables
    db.check_migrated()  # the tool's schema is complete without them


def test_demo_upgrade_creates_them_on_their_own_version_table(tmp_path: Path, fresh_database: Database) -> None:
    db = fresh_database
    _cli(tmp_path, db, "db", "upgrade", demo=True)
    assert DEV_TABLES | {schema.VERSION_TABLE} <= _tables(db)
    assert schema.is_current(db)
    assert schema.current_revisions(db) == {"d001_devlms_tables"}
    assert not db.current_revisions() & schema.current_revisions(db)  # the tool's version table never names them
    db.check_migrated()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={"compare_type": False, "include_name": lambda name, kind, _p: kind != "table" or name in DEV_TABLES},
        )
        assert compare_metadata(context, DevBase.metadata) == []
    _cli(tmp_path, db, "db", "upgrade", demo=True)  # idempotent
    assert schema.is_current(db)


def test_a_database_from_before_the_split_keeps_its_tables_and_rows(fresh_database: Database) -> None:
    """Rolling upgrade: the previous release's 0002_lti created the tables; nothing is dropped or re-created."""
    db = fresh_database
    db.upgrade()
    DevBase.metadata.create_all(db.engine)  # the tables exactly as the old 0002_lti made them
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO devplatform_line_items (label, score_maximum, created_at) "
                "VALUES ('kept', 100, CURRENT_TIMESTAMP)"
            )
        )
    assert not schema.is_current(db)
    schema.upgrade(db)
    assert schema.is_current(db)
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT label FROM devplatform_line_items")).scalars().all() == ["kept"]


def test_the_development_tables_downgrade_alone(fresh_database: Database) -> None:
    db = fresh_database
    db.upgrade()
    schema.upgrade(db)
    schema.downgrade(db)
    tables = _tables(db)
    assert not tables & DEV_TABLES
    assert set(Base.metadata.tables) <= tables  # the tool's schema is untouched
    db.check_migrated()

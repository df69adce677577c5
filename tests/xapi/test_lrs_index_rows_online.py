"""Migration 0018 on PostgreSQL never blocks the live service's LRS writes (issue 16).

During a rolling upgrade the previous release's web nodes keep storing statements while 0018
rebuilds two indexes of ``lrs_statements``. The migration is stopped after every statement it
issues, and from another connection the test then looks for a lock on the table that blocks
inserts (``pg_locks``) and stores a statement under a short ``lock_timeout``; a third connection
keeps storing statements the whole time. A plain ``CREATE``/``DROP INDEX`` inside the migration's
transaction keeps its lock until the commit, so both see it deterministically. Afterwards the
indexes are valid, partial (or full after the downgrade) and have their usual names, and a re-run
after a crash mid-way succeeds.
"""

from __future__ import annotations

import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from lti_tool.storage import Database

pytestmark = pytest.mark.postgres

REVISION = "0018_lrs_index_rows"
PARENT = "0012_lrs"
#: index -> (its columns as pg_get_indexdef prints them, the column of its partial condition)
INDEXES = {
    "ix_lrs_statements_ref": ("(tenant, ref_target)", "ref_target"),
    "ix_lrs_statements_registration": ("(tenant, registration, seq)", "registration"),
}
#: lock modes that conflict with an insert's ROW EXCLUSIVE lock
WRITE_BLOCKING = ["ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]
LOCK_TIMEOUT = "SET lock_timeout = '200ms'"
ROWS = 20_000
INSERT = text(
    "INSERT INTO lrs_statements (tenant, statement_id, registration, verb_id, ref_target, voided, is_voiding, "
    "stored, timestamp, payload) VALUES ('', :id, :id, 'http://adlnet.gov/expapi/verbs/experienced', NULL, "
    "false, false, now(), now(), '{}')"
)


@pytest.fixture
def pg(fresh_database: Database) -> Database:
    if fresh_database.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: set CBSI_TEST_POSTGRES_URL (scripts/lib-pg.sh pg_start)")
    return fresh_database


@pytest.fixture
def other(pg: Database) -> Iterator[Engine]:
    """Connections of the live service: not the migration's engine."""
    engine = create_engine(pg.engine.url.render_as_string(hide_password=False))
    yield engine
    engine.dispose()


def _fill(db: Database, rows: int = ROWS) -> None:
    """Statements as an LRS stores them: a third with a registration, one in fifty a StatementRef."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO lrs_statements (tenant, statement_id, registration, verb_id, ref_target, voided, "
                "is_voiding, stored, timestamp, payload) "
                "SELECT '', md5('s' || g)::uuid::text, "
                "CASE WHEN g % 3 = 0 THEN md5('r' || g % 97)::uuid::text END, "
                "'http://adlnet.gov/expapi/verbs/experienced', "
                "CASE WHEN g % 50 = 0 THEN md5('s' || g - 1)::uuid::text END, "
                "false, false, now(), now(), '{\"id\": \"' || g || '\"}' FROM generate_series(1, :n) AS g"
            ),
            {"n": rows},
        )


def _store_one(conn: Any) -> bool:
    """Store one statement under a short lock timeout: False when a lock made it wait too long."""
    try:
        conn.exec_driver_sql(LOCK_TIMEOUT)
        conn.execute(INSERT, {"id": str(uuid.uuid4())})
        conn.commit()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        conn.rollback()
        return False
    return True


@dataclass
class Watch:
    """What the live service saw while the migration ran."""

    statements: list[str] = field(default_factory=list)
    #: (statement the migration had just run, lock modes on lrs_statements that block writes)
    locks: list[tuple[str, list[str]]] = field(default_factory=list)
    #: statements the migration had just run when an insert waited out its lock timeout
    blocked: list[str] = field(default_factory=list)
    inserted: int = 0
    timed_out: int = 0


def _migrate_watched(db: Database, other: Engine, migrate: Callable[[], None]) -> Watch:
    """Run ``migrate`` (on ``db``'s engine) in a thread, stopped after each statement it issues."""
    watch = Watch()
    ran: queue.Queue[str | None] = queue.Queue()
    go: queue.Queue[None] = queue.Queue()
    done = threading.Event()
    failure: list[BaseException] = []

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not done.is_set():
            ran.put(statement)
            go.get(timeout=60)

    def run() -> None:
        try:
            migrate()
        except BaseException as exc:  # handed to the test's thread
            failure.append(exc)
        finally:
            ran.put(None)

    def writer() -> None:  # the live service, storing statements all along
        with other.connect() as conn:
            while not done.is_set():
                if _store_one(conn):
                    watch.inserted += 1
                else:
                    watch.timed_out += 1
                time.sleep(0.005)

    event.listen(db.engine, "after_cursor_execute", after)
    threads = [threading.Thread(target=run), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        while (statement := ran.get(timeout=120)) is not None:
            watch.statements.append(statement)
            with other.connect() as conn:
                modes = (
                    conn.execute(
                        text(
                            "SELECT mode FROM pg_locks WHERE relation = to_regclass('lrs_statements') AND granted "
                            "AND pid <> pg_backend_pid() AND mode = ANY(:modes)"
                        ),
                        {"modes": WRITE_BLOCKING},
                    )
                    .scalars()
                    .all()
                )
                conn.commit()
                if modes:
                    watch.locks.append((statement, sorted(modes)))
                if not _store_one(conn):
                    watch.blocked.append(statement)
            go.put(None)
    finally:
        done.set()
        go.put(None)
        event.remove(db.engine, "after_cursor_execute", after)
        for thread in threads:
            thread.join(60)
    if failure:
        raise failure[0]
    return watch


def _indexes(db: Database) -> dict[str, tuple[bool, str]]:
    """The indexes of ``lrs_statements``: name -> (valid, definition)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'lrs_statements'::regclass"
            )
        ).all()
    return {name: (valid, definition) for name, valid, definition in rows}


def _assert_indexes(db: Database, *, partial: bool) -> None:
    indexes = _indexes(db)
    assert all(valid for valid, _ in indexes.values()), indexes
    assert not [name for name in indexes if name.endswith("_0018")], indexes  # no temporary left behind
    for name, (columns, column) in INDEXES.items():
        assert name in indexes, sorted(indexes)
        definition = indexes[name][1]
        assert f"USING btree {columns}" in definition, definition
        if partial:
            assert definition.endswith(f"WHERE ({column} IS NOT NULL)"), definition
        else:
            assert "WHERE" not in definition, definition
    assert {"ix_lrs_statements_verb", "ix_lrs_statements_stored", "uq_lrs_statements_id"} <= set(indexes)


def _assert_never_blocked(watch: Watch) -> None:
    index_ddl = [s for s in watch.statements if re.search(r"\b(CREATE|DROP)\s+INDEX\b", s, re.IGNORECASE)]
    assert len(index_ddl) >= 4, watch.statements
    seen = {
        "write-blocking locks on lrs_statements": watch.locks,
        "inserts that waited out their lock timeout after": watch.blocked,
        "inserts of the live service that waited out their lock timeout": watch.timed_out,
        "index statements that lock the table": [s.strip() for s in index_ddl if "CONCURRENTLY" not in s],
    }
    assert seen == {key: 0 if isinstance(value, int) else [] for key, value in seen.items()}


def _count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM lrs_statements")).scalar_one())


def test_the_upgrade_builds_the_partial_indexes_without_blocking_writes(pg: Database, other: Engine) -> None:
    cfg = pg._alembic_config()
    command.upgrade(cfg, PARENT)
    _fill(pg)
    watch = _migrate_watched(pg, other, lambda: command.upgrade(cfg, REVISION))
    _assert_never_blocked(watch)
    _assert_indexes(pg, partial=True)
    assert _count(pg) == ROWS + watch.inserted + len(watch.statements)  # every write of the live service kept
    pg.upgrade()  # the other heads still follow
    assert pg.current_revisions() == pg.head_revisions()


def test_the_downgrade_builds_the_full_indexes_without_blocking_writes(pg: Database, other: Engine) -> None:
    cfg = pg._alembic_config()
    command.upgrade(cfg, REVISION)  # 0018 and its parents only: the downgrade takes 0018 alone back
    _fill(pg)
    watch = _migrate_watched(pg, other, lambda: command.downgrade(cfg, f"{REVISION}-1"))
    _assert_never_blocked(watch)
    _assert_indexes(pg, partial=False)
    assert REVISION not in pg.current_revisions()
    pg.upgrade()
    _assert_indexes(pg, partial=True)


def _interrupted_temporary_build(conn: Any, name: str) -> None:
    """What a crash in CREATE INDEX CONCURRENTLY leaves: an INVALID index (here a unique build that fails)."""
    with pytest.raises(Exception, match="could not create unique index"):
        conn.exec_driver_sql(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON lrs_statements (tenant)")


def _crash_in_the_first_build(conn: Any) -> None:
    _interrupted_temporary_build(conn, "ix_lrs_statements_ref_0018")


def _crash_in_the_second_build(conn: Any) -> None:
    """The first index was done but for its rename, the second one's build was interrupted."""
    conn.exec_driver_sql(
        "CREATE INDEX CONCURRENTLY ix_lrs_statements_ref_0018 ON lrs_statements (tenant, ref_target) "
        "WHERE ref_target IS NOT NULL"
    )
    conn.exec_driver_sql("DROP INDEX CONCURRENTLY ix_lrs_statements_ref")
    _interrupted_temporary_build(conn, "ix_lrs_statements_registration_0018")


CRASHES: dict[str, Callable[[Any], None]] = {
    "in the first build": _crash_in_the_first_build,
    "in the second build, the first not renamed": _crash_in_the_second_build,
}


@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_a_rerun_after_a_crash_mid_way_succeeds(pg: Database, crash: str) -> None:
    cfg = pg._alembic_config()
    command.upgrade(cfg, PARENT)
    _fill(pg, 2_000)
    with pg.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        CRASHES[crash](conn)
    leftovers = {name: valid for name, (valid, _) in _indexes(pg).items() if name.endswith("_0018")}
    assert leftovers and False in leftovers.values(), leftovers  # the crash is simulated: an INVALID leftover
    command.upgrade(cfg, REVISION)
    _assert_indexes(pg, partial=True)
    assert _count(pg) == 2_000

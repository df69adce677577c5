"""Storage: migrations, the un-migrated guard, UTC timestamps, constraints."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from lti_tool import create_app
from lti_tool.services import Services
from lti_tool.settings import load_settings
from lti_tool.storage import Database, SchemaNotReadyError
from lti_tool.storage.models import Deployment, LaunchState, Platform


def test_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(SchemaNotReadyError) as err:
        db.check_migrated()
    assert "cbsi-connect db upgrade" in str(err.value)
    assert err.value.code == "schema_not_ready"


def test_app_refuses_to_start_on_unmigrated_database(tmp_path: Path) -> None:
    settings = load_settings(
        environ={},
        overrides={
            "server": {"demo": True, "instance_folder": str(tmp_path / "i")},
            "database": {"url": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"},
        },
    )
    with pytest.raises(SchemaNotReadyError):
        create_app(settings)


def test_upgrade_is_idempotent(services: Services) -> None:
    services.db.upgrade()
    services.db.check_migrated()
    assert services.db.current_revisions() == services.db.head_revisions()


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def _platform(**kw: object) -> Platform:
    values: dict[str, object] = {
        "issuer": "https://lms.example",
        "client_id": "c1",
        "name": "Academy",
        "auth_login_url": "https://lms.example/auth",
        "auth_token_url": "https://lms.example/token",
        "key_set_url": "https://lms.example/jwks",
        "details": {},
    }
    values.update(kw)
    return Platform(**values)


def test_timestamps_round_trip_as_aware_utc(services: Services) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-4)))
    with services.db.session() as s:
        s.add(LaunchState(state="s1", nonce="n1", issuer="i", target_link_uri="u", expires_at=when))
    with services.db.session() as s:
        row = s.get(LaunchState, "s1")
        assert row is not None
        assert row.expires_at == when
        assert row.expires_at.tzinfo is not None
        assert row.expires_at.utcoffset() == timedelta(0)
        assert row.created_at.tzinfo == UTC


def test_naive_datetimes_are_refused(services: Services) -> None:
    with pytest.raises(Exception, match="naive datetime"), services.db.session() as s:
        s.add(LaunchState(state="s2", nonce="n2", issuer="i", target_link_uri="u", expires_at=datetime(2026, 1, 1)))
        s.flush()


def test_platform_issuer_client_is_unique(services: Services) -> None:
    with services.db.session() as s:
        s.add(_platform())
    with pytest.raises(IntegrityError), services.db.session() as s:
        s.add(_platform(name="again"))


def test_same_issuer_may_hold_several_client_ids(services: Services) -> None:
    with services.db.session() as s:
        s.add(_platform())
        s.add(_platform(client_id="c2"))
    with services.db.session() as s:
        assert s.query(Platform).count() == 2


def test_deployments_cascade_and_are_unique(services: Services) -> None:
    with services.db.session() as s:
        p = _platform()
        p.deployments.append(Deployment(deployment_id="d1"))
        s.add(p)
    with pytest.raises(IntegrityError), services.db.session() as s:
        pid = s.query(Platform).one().id
        s.add(Deployment(platform_id=pid, deployment_id="d1"))
    with services.db.session() as s:
        s.delete(s.query(Platform).one())
    with services.db.session() as s:
        assert s.query(Deployment).count() == 0


def test_platform_status_is_checked_by_the_database(services: Services) -> None:
    with pytest.raises(IntegrityError), services.db.session() as s:
        s.add(_platform(status="maybe"))


def test_migrations_match_the_models(services: Services) -> None:
    """The schema the migrations build is exactly what the ORM models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from lti_tool.devlms.models import DevBase
    from lti_tool.devlms.schema import VERSION_TABLE
    from lti_tool.storage.models import Base

    # the test database holds the development LMS's tables too (demo mode): each schema against its models
    def only(metadata: Any) -> Any:
        return lambda name, kind, _parent: kind != "table" or name in metadata.tables

    with services.db.engine.connect() as conn:
        for metadata in (Base.metadata, DevBase.metadata):
            opts = {"compare_type": False, "include_name": only(metadata)}
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
            assert diff == []
        tables = set(inspect(conn).get_table_names())
    assert tables == {*Base.metadata.tables, *DevBase.metadata.tables, "alembic_version", VERSION_TABLE}


def test_sqlite_units_of_work_take_turns_without_deadlock(tmp_path: Path) -> None:
    """Threads take turns; a unit of work waiting on another thread's unit does not hang."""
    import threading
    import time

    from lti_tool.storage import db as dbmod

    db = Database(f"sqlite:///{tmp_path / 'turns.sqlite3'}")
    db.upgrade()
    inside = threading.Event()
    order: list[str] = []

    def first() -> None:
        with db.session():
            inside.set()
            order.append("first-in")
            time.sleep(0.2)
            order.append("first-out")

    t = threading.Thread(target=first)
    t.start()
    inside.wait()
    with db.session():
        order.append("second")
    t.join()
    assert order == ["first-in", "first-out", "second"]

    # nested waiting: the holder waits for another thread's unit of work; bounded, no deadlock
    original = dbmod.TURN_WAIT_SECONDS
    dbmod.TURN_WAIT_SECONDS = 0.2
    try:
        done = threading.Event()

        def other() -> None:
            with db.session() as s:
                s.execute(__import__("sqlalchemy").text("SELECT 1"))
            done.set()

        with db.session():
            worker = threading.Thread(target=other)
            worker.start()
            assert done.wait(5), "a waiting unit of work must fall back instead of deadlocking"
            worker.join()
    finally:
        dbmod.TURN_WAIT_SECONDS = original
    db.dispose()


def test_login_hints_move_into_the_state_row_and_back(fresh_database: Database) -> None:
    """0007 folds ``lti_login_requests`` into ``launch_states`` keeping every pending login's hints."""
    from alembic import command

    db = fresh_database
    command.upgrade(db._alembic_config(), "0002_lti")
    now = datetime(2026, 12, 4, 12, 0)
    with db.engine.begin() as conn:
        for state in ("s1", "s2"):
            conn.execute(
                text(
                    "INSERT INTO launch_states (state, nonce, issuer, client_id, target_link_uri, created_at, "
                    "expires_at) VALUES (:s, :n, 'https://lms.example', 'c', 'https://tool/lti/launch', :t, :t)"
                ),
                {"s": state, "n": "n-" + state, "t": now},
            )
        conn.execute(
            text(
                "INSERT INTO lti_login_requests (state, login_hint, lti_message_hint, deployment_id, storage_target) "
                "VALUES ('s1', 'user-7', :hint, 'dep-1', '_parent')"
            ),
            {"hint": '{"cmid":3}'},
        )
    db.upgrade()
    assert db.current_revisions() == db.head_revisions()
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT state, login_hint, lti_message_hint, deployment_id, storage_target FROM launch_states")
        ).all()
        assert sorted(tuple(r) for r in rows) == [
            ("s1", "user-7", '{"cmid":3}', "dep-1", "_parent"),
            ("s2", None, None, None, None),
        ]
    command.downgrade(db._alembic_config(), "0007_login_single_row-1")
    with db.engine.connect() as conn:
        moved_back = conn.execute(text("SELECT state, login_hint, storage_target FROM lti_login_requests")).all()
        assert [tuple(r) for r in moved_back] == [("s1", "user-7", "_parent")]
        columns = {c["name"] for c in inspect(conn).get_columns("launch_states")}
        assert "login_hint" not in columns and "nonce" in columns


@pytest.mark.postgres
def test_large_documents_are_lz4_compressed_on_postgresql(fresh_database: Database) -> None:
    """0019: a SCO's state (rewritten on every commit), an attempt's sequencing state and LRS
    documents are compressed with lz4 (pglz was half the database's CPU per commit); the
    downgrade puts pglz back. Values written after the upgrade are lz4."""
    from alembic import command

    db = fresh_database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: set CBSI_TEST_POSTGRES_URL (scripts/lib-pg.sh pg_start)")
    columns = [("sco_states", "state"), ("attempts", "sequencing"), ("lrs_documents", "content")]
    query = text(
        "SELECT attcompression FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attname = :c"
    )

    def methods() -> list[str]:
        with db.engine.connect() as conn:
            return [conn.execute(query, {"t": t, "c": c}).scalar_one() for t, c in columns]

    db.upgrade()
    assert methods() == ["l", "l", "l"]
    with db.engine.begin() as conn:  # a state written now: a table made like sco_states (no rows needed there)
        conn.execute(text("CREATE TEMP TABLE probe (LIKE sco_states INCLUDING COMPRESSION)"))
        big = '{"cmi.suspend_data": "%s"}' % ("lesson-3;page-7;" * 600)
        conn.execute(
            text(
                "INSERT INTO probe (attempt_id, item_id, cmi_version, state, seq, sessions, session_open, outcome,"
                " updated_at) VALUES ('a', 'i', '2004', CAST(:s AS json), 0, 0, false, CAST('{}' AS json), now())"
            ),
            {"s": big},
        )
        assert conn.execute(text("SELECT pg_column_compression(state) FROM probe")).scalar_one() == "lz4"
    command.downgrade(db._alembic_config(), "0019_lz4_documents-1")
    assert methods() == ["p", "p", "p"]


def test_sqlite_log_is_checkpointed_in_the_background_not_by_the_committing_request(tmp_path: Path) -> None:
    """Commits leave the write-ahead log to the process's checkpointer thread: the request's own
    checkpoint is only a backstop (far above what is written here), yet the rows reach the
    database file within moments; after ``dispose`` the thread lets the file go."""
    from lti_tool.storage import db as dbmod

    path = tmp_path / "ckpt.sqlite3"
    db = Database(f"sqlite:///{path}")
    with db.engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == dbmod.CHECKPOINT_BACKSTOP_PAGES
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    before = path.stat().st_size
    for batch in range(10):  # ~400 KB in 10 commits: ~110 pages, far below the backstop
        with db.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO t (body) VALUES " + ", ".join(["(?)"] * 25), tuple(f"{batch}-{i}" * 400 for i in range(25))
            )
    deadline = time.monotonic() + 5
    while path.stat().st_size < before + 300_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size >= before + 300_000, "the log was not copied into the database file"
    assert str(path.resolve()) in dbmod.CHECKPOINTER._connections
    db.dispose()
    assert str(path.resolve()) not in dbmod.CHECKPOINTER._connections

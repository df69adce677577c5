"""The runtime commit's driver-level calls on PostgreSQL (issue 16) and its JSON documents.

``storage.db.run_prepared`` runs the commit's two statements through libpq's own prepared
statements on ``Database.autocommit``'s connection; ``storage.documents`` encodes and decodes the
documents with orjson. These tests hold them to what psycopg's cursor and the standard library
guaranteed: the same errors, the same values, a connection never left in the wrong mode.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from lti_tool.runtime import store
from lti_tool.services import Services
from lti_tool.storage import documents, learners
from lti_tool.storage.db import Database, run_prepared

NEEDS_PG = "needs PostgreSQL: set CBSI_TEST_POSTGRES_URL (scripts/lib-pg.sh pg_start)"


@pytest.fixture
def pg(services: Services) -> Database:
    if services.db.is_sqlite:
        pytest.skip(NEEDS_PG)
    return services.db


# -- documents ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        {"values": {"cmi.location": "p-7", "cmi.suspend_data": 'é ñ \U0001f46e \u2028 " \\ \n'}, "counts": {"x": 3}},
        {"score": 0.75, "time": 12.5, "ok": True, "none": None, "list": [1, "2", [3]]},
        {"lone": "\ud800 and \udfff"},  # orjson refuses: the standard library's escapes
        {"big": 2**70},  # orjson refuses: written as its digits
    ],
)
def test_a_document_reads_back_as_written(document: dict[str, object]) -> None:
    assert documents.loads(documents.dumps(document)) == document
    assert json.loads(documents.dumps(document)) == document  # what every other reader sees


def test_keys_that_are_not_strings_are_written_as_the_standard_library_writes_them() -> None:
    assert json.loads(documents.dumps({1: "a", 2.5: "b", None: "c"})) == json.loads(
        json.dumps({1: "a", 2.5: "b", None: "c"})
    )


def test_the_engine_writes_json_columns_with_documents_dumps(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    real = documents.dumps
    monkeypatch.setattr(documents, "dumps", lambda d: calls.append(d) or real(d))
    db = Database(services.db.url, pool_size=1)
    try:
        with db.engine.connect() as conn:
            processor = db.engine.dialect._json_serializer  # what SQLAlchemy's JSON type calls
            assert processor({"a": 1}) == '{"a":1}' and calls == [{"a": 1}]
            assert conn is not None
    finally:
        db.dispose()


# -- run_prepared ------------------------------------------------------------------------------


def test_a_statement_the_server_forgot_is_prepared_again(pg: Database) -> None:
    with pg.autocommit() as conn:
        assert run_prepared(conn, b"t_forgot", "SELECT $1::int + 1", [41]).get_value(0, 0) == b"42"
        conn.connection.driver_connection.execute("DEALLOCATE ALL")  # what a pooler's DISCARD ALL does
        assert run_prepared(conn, b"t_forgot", "SELECT $1::int + 1", [1]).get_value(0, 0) == b"2"


def test_only_an_idle_autocommitting_connection_is_used(pg: Database) -> None:
    with pg.session() as s, pytest.raises(RuntimeError, match="autocommit"):
        run_prepared(s.connection(), b"t_tx", "SELECT 1", [])


def test_a_time_is_sent_as_its_instant_and_a_naive_one_is_refused(pg: Database) -> None:
    at = datetime(2026, 12, 5, 15, 30, 1, 250000, tzinfo=timezone(timedelta(hours=2)))
    with pg.autocommit() as conn:
        got = run_prepared(conn, b"t_time", "SELECT ($1::timestamptz AT TIME ZONE 'UTC')::text", [at])
        assert got.get_value(0, 0) == b"2026-12-05 13:30:01.25"
        with pytest.raises(ValueError, match="naive"):
            run_prepared(
                conn, b"t_time", "SELECT ($1::timestamptz AT TIME ZONE 'UTC')::text", [at.replace(tzinfo=None)]
            )


def test_text_libpq_cannot_carry_is_psycopgs_error_and_sql_errors_are_psycopgs_too(pg: Database) -> None:
    import psycopg

    with pg.autocommit() as conn:
        with pytest.raises(psycopg.DataError, match="NUL"):
            run_prepared(conn, b"t_text", "SELECT $1::text", ["a\x00b"])
        with pytest.raises(psycopg.errors.DivisionByZero):
            run_prepared(conn, b"t_div", "SELECT 1 / $1::int", [0])
        # the connection is still fine, still autocommitting, still idle
        assert run_prepared(conn, b"t_text", "SELECT $1::text", ["ok"]).get_value(0, 0) == b"ok"
    with pg.session() as s:  # and the pool hands it back in transaction mode
        assert s.connection().connection.driver_connection.autocommit is False


def test_the_call_lets_other_threads_run(pg: Database) -> None:
    """libpq's wait releases the GIL: a gunicorn worker's other threads keep serving meanwhile."""
    spins = 0
    stop = threading.Event()

    def spin() -> None:
        nonlocal spins
        while not stop.is_set():
            spins += 1

    with pg.autocommit() as conn:
        run_prepared(conn, b"t_sleep", "SELECT 1", [])
        thread = threading.Thread(target=spin)
        thread.start()
        try:
            time.sleep(0.05)
            before = spins
            run_prepared(conn, b"t_sleep2", "SELECT pg_sleep(0.3)", [])
            during = spins - before
        finally:
            stop.set()
            thread.join()
    assert during > 10_000  # a held GIL would leave the spinner at a few switches' worth


def test_a_connection_lost_under_the_commit_is_invalidated_and_the_next_one_is_fresh(
    pg: Database, services: Services
) -> None:
    with pg.autocommit() as conn:
        backend = run_prepared(conn, b"t_pid", "SELECT pg_backend_pid()", []).get_value(0, 0).decode()
        with pg.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(CAST(:p AS int))"), {"p": backend})
        time.sleep(0.1)
        with pytest.raises(DBAPIError) as raised:
            store.commit_row(conn, "no-such-attempt", "i1")
        assert raised.value.connection_invalidated and conn.invalidated
    with pg.autocommit() as conn:
        assert store.commit_row(conn, "no-such-attempt", "i1") is None


def test_the_commit_statements_read_and_write_what_the_orm_sees(
    pg: Database, services: Services, fixtures_dir: Path
) -> None:
    """The hot path's row (libpq, text) is the ORM's row, value for value."""
    from tests import factories

    course = factories.import_course(services, fixtures_dir / "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip")
    launch = factories.launch(course.course_key, platform_id=factories.add_platform(services.db), sub="l1")
    opened, session = factories.start_attempt(services, launch, learner_name="L")
    item = session.item_id
    now = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)
    state = {"version": "2004", "values": {"cmi.location": "é\ud800"}, "counts": {}}
    with pg.autocommit() as conn:
        row = store.commit_row(conn, opened.attempt_id, item)
        assert row is not None
        values = {"state": state, "seq": row.seq + 1, "outcome": {"score": 0.5}, "session_open": True,
                  "last_commit_id": "c-1", "updated_at": now}  # fmt: skip
        assert store.write_commit(conn, opened.attempt_id, item, row.seq, values)
        assert not store.write_commit(conn, opened.attempt_id, item, row.seq, values)  # the seq guard
        again = store.commit_row(conn, opened.attempt_id, item)
    with pg.session() as s:
        orm = learners.sco_state(s, opened.attempt_id, item)
        assert orm is not None
        assert (orm.state, orm.seq, orm.outcome, orm.session_open, orm.last_commit_id, orm.updated_at) == (
            state,
            row.seq + 1,
            {"score": 0.5},
            True,
            "c-1",
            now,
        )
    assert again is not None
    assert (again.state, again.seq, again.outcome, again.session_open, again.last_commit_id) == (
        state,
        row.seq + 1,
        {"score": 0.5},
        True,
        "c-1",
    )
    assert (again.cmi_version, again.status) == (row.cmi_version, "active")

"""The pool's liveness check (``lti_tool.storage.db._liveness_check``) on PostgreSQL.

A connection used moments ago is drawn without a round trip; one the server terminated while it
sat in the pool, or one idle for long, is pinged and replaced: the request that draws it never
sees the dead connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from lti_tool.storage import db as db_module
from lti_tool.storage.db import Database

pytestmark = pytest.mark.postgres


@pytest.fixture
def pooled(postgres_url: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Database, list[int]]]:
    if postgres_url is None:
        pytest.skip("the pool's liveness check is for server databases: PostgreSQL pass")
    database = Database(postgres_url, pool_size=1)
    pings: list[int] = []
    real = database.engine.dialect.do_ping

    def counting(dbapi_conn: object) -> bool:
        pings.append(1)
        return bool(real(dbapi_conn))

    monkeypatch.setattr(database.engine.dialect, "do_ping", counting)
    try:
        yield database, pings
    finally:
        database.dispose()


def _backend(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_warm_connection_is_drawn_without_a_ping(pooled: tuple[Database, list[int]]) -> None:
    database, pings = pooled
    first = _backend(database)
    for _ in range(5):
        assert _backend(database) == first
    assert pings == []


def test_a_connection_idle_for_long_is_pinged(
    pooled: tuple[Database, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    database, pings = pooled
    first = _backend(database)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert _backend(database) == first
    assert pings == [1]


def test_a_connection_terminated_in_the_pool_is_replaced_unseen(pooled: tuple[Database, list[int]]) -> None:
    database, pings = pooled
    victim = _backend(database)
    admin = create_engine(os.environ["CBSI_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": victim}).scalar_one()
    finally:
        admin.dispose()
    time.sleep(0.3)  # the server's notice and close reach the pooled socket
    replaced = _backend(database)  # no error: the pool drew a fresh connection
    assert replaced != victim
    assert pings, "the readable socket of the terminated connection was not pinged"

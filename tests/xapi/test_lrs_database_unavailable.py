"""A database lost under the LRS's driver-level write path answers 503 ``database_unavailable``
with Retry-After (never a 500), and the service recovers by itself.

The connection dies right after the request's transaction begins, so the first SQL to meet it is
the driver path's (``lti_tool.lrs.driver``): on SQLite its connection is closed under it (a
``ProgrammingError`` the dialect counts as a disconnect), on PostgreSQL its server process is
terminated (``pg_terminate_backend``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

from lti_tool.lrs import create_operator_credential
from lti_tool.lrs.credentials import IssuedCredential
from lti_tool.lrs.driver import Driver
from lti_tool.services import Services


def _statement() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.org", "name": "a"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": "https://courses.example.org/golf"},
    }


@pytest.fixture
def operator(services: Services) -> IssuedCredential:
    return create_operator_credential(services.db, "outage")


def _post(client: FlaskClient, cred: IssuedCredential, body: Any) -> Any:
    headers = {"Authorization": cred.basic_auth, "X-Experience-API-Version": "1.0.3"}
    return client.post("/xapi/statements", json=body, headers=headers)


def _kill(services: Services) -> Any:
    """A ``begin`` listener that kills the connection the transaction runs on (once)."""
    done: list[bool] = []

    def kill(conn: Any) -> None:
        if done:
            return
        done.append(True)
        raw = conn.connection.dbapi_connection
        if conn.dialect.name == "sqlite":
            raw.close()
            return
        pid = raw.info.backend_pid
        killer = create_engine(os.environ["CBSI_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
        with killer.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            for _ in range(100):  # gone from the server before the request goes on
                if not admin.execute(text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).first():
                    break
                time.sleep(0.02)
        killer.dispose()

    return kill


@pytest.fixture
def killed_on_begin(services: Services) -> Iterator[list[Any]]:
    listener = _kill(services)
    armed: list[Any] = []

    def arm() -> None:
        event.listen(services.db.engine, "begin", listener)
        armed.append(listener)

    yield [arm]
    if armed:
        event.remove(services.db.engine, "begin", listener)


def test_a_connection_lost_under_the_driver_path_answers_503(
    app: Flask, client: FlaskClient, services: Services, operator: IssuedCredential, killed_on_begin: list[Any]
) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production
    assert _post(client, operator, [_statement()]).status_code == 200  # credential cached, driver made
    seen: list[BaseException] = []
    original = Driver.run

    def spy(self: Driver, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except BaseException as exc:
            seen.append(exc)
            raise

    Driver.run = spy  # type: ignore[method-assign]
    try:
        killed_on_begin[0]()
        lost = _statement()
        response = _post(client, operator, [lost])
    finally:
        Driver.run = original  # type: ignore[method-assign]
    assert seen, "the driver path never met the lost connection: the test proved nothing"
    assert getattr(seen[0], "connection_invalidated", False), seen[0]
    assert response.status_code == 503, response.data[:300]
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"] == "database_unavailable"
    assert b"Traceback" not in response.data
    # the pool dropped the dead connection: the next requests succeed, and nothing half-stored
    again = _post(client, operator, [lost])
    assert again.status_code == 200, again.data[:300]
    headers = {"Authorization": operator.basic_auth, "X-Experience-API-Version": "1.0.3"}
    got = client.get(f"/xapi/statements?statementId={lost['id']}", headers=headers)
    assert got.status_code == 200

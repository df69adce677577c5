"""A database that is down or restarting answers 503 ``database_unavailable`` with Retry-After (issue 12, item 5).

Every new connection refused (a ``do_connect`` hook raising the driver's OperationalError, as
for an unreadable file or a stopped server; SQLite and PostgreSQL), and an engine on a path
SQLite cannot open.
PostgreSQL (``-m postgres`` with ``CBSI_TEST_POSTGRES_URL``): the app's server connections are
killed with ``pg_terminate_backend`` again and again while learners commit: every answer is a
success, a stale-seq 409 or a 503, never a 500, and the service recovers by itself.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from lti_tool import create_app
from lti_tool.services import Services, build_services
from lti_tool.settings import load_settings

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"


@pytest.fixture
def launched(app: Flask, make_launch: Callable[..., Any], player_config: Callable[..., dict[str, Any]]) -> dict:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production
    return player_config(make_launch(GOLF12))


@pytest.fixture
def database_down(services: Services) -> Iterator[None]:
    """Every new connection is refused until the test ends (pooled ones are closed first)."""

    def refuse(*_args: Any) -> None:
        raise services.db.engine.dialect.loaded_dbapi.OperationalError("unable to open database file")

    services.db.engine.dispose()
    event.listen(services.db.engine, "do_connect", refuse)
    yield
    event.remove(services.db.engine, "do_connect", refuse)


def _commit(client: FlaskClient, rt: dict, seq: int) -> Any:
    return client.post(
        rt["commitUrl"],
        data=json.dumps({"seq": seq, "changes": {"cmi.core.lesson_location": str(seq)}}),
        headers={"Authorization": f"Bearer {rt['token']}"},
        content_type="application/json",
    )


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.data[:300]
    assert response.headers["Retry-After"] == "5"
    assert b"Traceback" not in response.data


def test_a_commit_gets_503_json_with_retry_after(client: FlaskClient, services: Services, launched: dict) -> None:
    rt = launched["runtime"]
    services.db.engine.dispose()

    def refuse(*_args: Any) -> None:
        raise services.db.engine.dialect.loaded_dbapi.OperationalError("unable to open database file")

    event.listen(services.db.engine, "do_connect", refuse)
    try:
        response = _commit(client, rt, 1)
        _assert_unavailable(response)
        body = response.get_json()
        assert body["error"] == "database_unavailable"
        assert len(body["incident"]) == 12
        assert "unable to open" not in body["message"]  # the driver's words stay in the log
    finally:
        event.remove(services.db.engine, "do_connect", refuse)
    # the database is back: the same commit goes through
    assert _commit(client, rt, 1).status_code == 200


def test_a_browser_gets_the_friendly_page(client: FlaskClient, launched: dict, database_down: None) -> None:
    response = client.post(
        f"/player/{launched['attemptId']}", data={"token": launched["token"]}, headers={"Accept": "text/html"}
    )
    _assert_unavailable(response)
    assert response.mimetype == "text/html"
    assert b"database_unavailable" in response.data and b"try again shortly" in response.data


def test_ready_says_so_too_while_health_stays_alive(client: FlaskClient, database_down: None) -> None:
    response = client.get("/ready")
    _assert_unavailable(response)
    assert response.get_json()["status"] == "unavailable"
    assert client.get("/health").status_code == 200  # liveness: the process itself is fine


def test_an_lti_login_on_an_unopenable_database_file(tmp_path: Path, settings_overrides: dict) -> None:
    folder = tmp_path / "not-a-file.sqlite3"
    folder.mkdir()  # SQLite cannot open a directory: every connection fails
    overrides = {**settings_overrides, "database": {"url": f"sqlite:///{folder}"}}
    settings = load_settings(environ={}, overrides=overrides)
    built = build_services(settings)
    try:
        app = create_app(settings, services=built, check_schema=False)
        response = app.test_client().post(
            "/lti/login",
            data={"iss": "https://lms.example", "login_hint": "u1", "target_link_uri": "http://localhost/lti/launch"},
        )
        _assert_unavailable(response)
        assert response.mimetype == "text/html"  # the LMS sends the learner's browser here
        assert b"database_unavailable" in response.data
    finally:
        built.db.dispose()


def test_integrity_errors_are_not_disguised_as_an_outage(app: Flask) -> None:
    @app.get("/api/integrity")
    def integrity() -> str:
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    @app.get("/api/invalidated")
    def invalidated() -> str:
        raise DBAPIError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert client.get("/api/integrity").status_code == 500
    _assert_unavailable(client.get("/api/invalidated"))


@pytest.mark.postgres
def test_commits_while_postgres_drops_every_connection(
    client: FlaskClient, services: Services, launched: dict, app: Flask
) -> None:
    admin_url = os.environ.get("CBSI_TEST_POSTGRES_URL")
    if not admin_url:
        pytest.skip("needs PostgreSQL: set CBSI_TEST_POSTGRES_URL (scripts/lib-pg.sh pg_start)")
    rt = launched["runtime"]
    database = services.db.engine.url.database
    killer = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    stop = threading.Event()
    killed: list[int] = []

    def kill_loop() -> None:
        with killer.connect() as conn:
            while not stop.is_set():
                rows = conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).all()
                killed.append(len(rows))
                time.sleep(0.1)

    seq = iter(range(1, 10_000))
    lock = threading.Lock()
    statuses: list[tuple[int, str | None, str | None]] = []

    def learner() -> None:
        own = app.test_client()
        for _ in range(40):
            with lock:
                n = next(seq)
            response = _commit(own, rt, n)
            body = response.get_json(silent=True) or {}
            statuses.append((response.status_code, body.get("error"), response.headers.get("Retry-After")))

    thread = threading.Thread(target=kill_loop)
    thread.start()
    try:
        workers = [threading.Thread(target=learner) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
    finally:
        stop.set()
        thread.join(timeout=10)
        killer.dispose()
    assert sum(killed) > 0, "no connection was killed: the test proved nothing"
    codes = {status for status, _, _ in statuses}
    assert codes <= {200, 409, 503}, [s for s in statuses if s[0] not in (200, 409, 503)][:5]
    for status, error, retry_after in statuses:
        if status == 503:
            assert (error, retry_after) == ("database_unavailable", "5")
    # with the server alive again, the pool replaces its dead connections by itself
    response = _commit(client, rt, next(seq))
    assert response.status_code == 200, response.data[:300]
    print(f"killed {sum(killed)} backends; answers {sorted((c, sum(1 for s in statuses if s[0] == c)) for c in codes)}")


def _pg_ctl(*args: str) -> None:
    """Run the throwaway cluster's pg_ctl (``CBSI_TEST_PG_CTL``, as its owner when we are root)."""
    command = [os.environ["CBSI_TEST_PG_CTL"], "-D", os.environ["CBSI_TEST_PG_DATA"], *args]
    if os.getuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.mark.postgres
def test_commits_across_a_postgres_restart(client: FlaskClient, app: Flask, launched: dict) -> None:
    """The server really stops for a second and starts again (scripts/lib-pg.sh's cluster).

    Run with ``CBSI_TEST_PG_CTL="$PG_CTL" CBSI_TEST_PG_DATA="$PG_DIR/data"`` after ``pg_start``.
    """
    if not (os.environ.get("CBSI_TEST_POSTGRES_URL") and os.environ.get("CBSI_TEST_PG_CTL")):
        pytest.skip("needs the throwaway cluster: CBSI_TEST_POSTGRES_URL, CBSI_TEST_PG_CTL, CBSI_TEST_PG_DATA")
    rt = launched["runtime"]
    opts = shlex.split(Path(os.environ["CBSI_TEST_PG_DATA"], "postmaster.opts").read_text())
    options = [o for i, o in enumerate(opts[1:], start=1) if o != "-D" and opts[i - 1] != "-D"]
    seq = iter(range(1, 100_000))
    lock = threading.Lock()
    stop = threading.Event()
    statuses: list[tuple[int, str | None, str | None]] = []

    def learner() -> None:
        own = app.test_client()
        while not stop.is_set():
            with lock:
                n = next(seq)
            response = _commit(own, rt, n)
            body = response.get_json(silent=True) or {}
            statuses.append((response.status_code, body.get("error"), response.headers.get("Retry-After")))
            time.sleep(0.01)

    workers = [threading.Thread(target=learner) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        _pg_ctl("stop", "-m", "fast", "-w")
        time.sleep(1.5)
        _pg_ctl("start", "-w", "-l", os.environ["CBSI_TEST_PG_DATA"] + "/../log", "-o", shlex.join(options))
        time.sleep(1.0)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=60)
    counts = {code: sum(1 for s in statuses if s[0] == code) for code in {s[0] for s in statuses}}
    print(f"answers across the restart: {sorted(counts.items())}")
    assert set(counts) <= {200, 409, 503}, [s for s in statuses if s[0] not in (200, 409, 503)][:5]
    assert counts.get(503, 0) > 0, "the server was down for 1.5 s: some commit must have met it"
    assert all((e, r) == ("database_unavailable", "5") for c, e, r in statuses if c == 503)
    response = _commit(client, rt, next(seq))
    assert response.status_code == 200, response.data[:300]  # pre-ping replaced the dead connections

"""Health, error pages and the no-stack-trace rule."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from lti_tool.services import Services


def test_health_is_liveness_only(client: FlaskClient, services: Services) -> None:
    assert client.get("/health").get_json() == {"status": "ok"}
    with _alembic_version(services, ["older"]):
        assert client.get("/health").status_code == 200  # alive; /ready says why it is not ready


def test_ready_ok(client: FlaskClient, services: Services) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "database": services.db.dialect,
        "schema": "current",
        "signing_key": "present",
    }


@contextlib.contextmanager
def _alembic_version(services: Services, revisions: list[str]) -> Iterator[None]:
    current = services.db.current_revisions()
    with services.db.session() as s:
        s.execute(text("DELETE FROM alembic_version"))
        for revision in revisions:
            s.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})
    try:
        yield
    finally:
        with services.db.session() as s:
            s.execute(text("DELETE FROM alembic_version"))
            for revision in current:
                s.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})


def test_ready_reports_schema_behind(client: FlaskClient, services: Services) -> None:
    heads = sorted(services.db.head_revisions())
    with _alembic_version(services, ["0001_foundation"]):  # a revision of ours that is not a head
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.get_json()["error"] == "schema_not_ready"
    with _alembic_version(services, heads[1:]):  # one head missing, nothing newer
        assert client.get("/ready").get_json()["error"] == "schema_not_ready"
    assert client.get("/ready").status_code == 200


def test_ready_accepts_a_schema_migrated_by_a_newer_release(client: FlaskClient, services: Services) -> None:
    """Rolling upgrade: the new release migrated the database (expand only); this node keeps serving."""
    heads = sorted(services.db.head_revisions())
    with _alembic_version(services, [*heads[1:], "9999_from_a_newer_release"]):
        response = client.get("/ready")
        assert response.status_code == 200
        assert response.get_json()["schema"] == "ahead"
        services.db.check_migrated()


def test_ready_reports_a_missing_signing_key(client: FlaskClient, services: Services) -> None:
    for pem in services.keys.folder.glob("*.pem"):
        pem.unlink()
    services.keys._cache = None
    response = client.get("/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "signing_key_unusable" and "keys rotate" in body["message"]


def test_unknown_api_route_is_json(client: FlaskClient) -> None:
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_unknown_page_is_friendly_html(client: FlaskClient) -> None:
    response = client.get("/nothing", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"not_found" in response.data


def test_unexpected_error_never_leaks_a_stack_trace(app: Flask) -> None:
    @app.get("/api/boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    app.testing = False  # let the error handler answer, as in production
    response = app.test_client().get("/api/boom")
    body = response.get_json()
    assert response.status_code == 500
    assert body["error"] == "internal_error"
    assert len(body["incident"]) == 12
    assert b"secret internal detail" not in response.data
    assert b"Traceback" not in response.data


def test_oversized_body_is_refused_clearly(app: Flask, settings_overrides: dict) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1024

    @app.post("/api/echo")
    def echo() -> str:
        from flask import request

        return str(len(request.get_data()))

    response = app.test_client().post("/api/echo", data=b"x" * 4096)
    assert response.status_code == 413
    assert response.get_json()["error"] == "payload_too_large"

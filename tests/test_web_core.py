"""Health, error pages and the no-stack-trace rule."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from lti_tool.services import Services


def test_health_ok(client: FlaskClient, services: Services) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": services.db.dialect}


def test_health_reports_schema_behind(client: FlaskClient, services: Services) -> None:
    current = services.db.current_revisions()
    with services.db.session() as s:
        s.execute(text("DELETE FROM alembic_version"))
        s.execute(text("INSERT INTO alembic_version (version_num) VALUES ('older')"))
    try:
        response = client.get("/health")
        assert response.status_code == 503
        assert response.get_json()["error"] == "schema_not_ready"
    finally:
        with services.db.session() as s:
            s.execute(text("DELETE FROM alembic_version"))
            for revision in current:
                s.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})
    assert client.get("/health").status_code == 200


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

"""Service-level routes: health, JWKS, the landing page."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, render_template

from lti_tool.storage import StorageError
from lti_tool.web import services
from lti_tool.web.errors import RETRY_AFTER_SECONDS

bp = Blueprint("core", __name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    """200 when the database answers and the schema is current, else 503."""
    try:
        services().db.ping()
        services().db.check_migrated()
    except StorageError as exc:
        response = jsonify({"status": "unavailable", "error": exc.code, "message": str(exc)})
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, 503
    return jsonify({"status": "ok", "database": services().db.dialect}), 200


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The tool's public keys: the active one and recently retired ones."""
    response = jsonify(services().keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/")
def index() -> str:
    """Landing page for people who open the tool URL directly."""
    settings = services().settings
    return render_template("index.html", settings=settings)


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)

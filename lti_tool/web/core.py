"""Service-level routes: health, JWKS, the landing page."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, render_template

from lti_tool.keys import KeyError_
from lti_tool.storage import StorageError
from lti_tool.web import services
from lti_tool.web.errors import RETRY_AFTER_SECONDS

bp = Blueprint("core", __name__)


@bp.get("/health")
def health() -> tuple[Response, int]:
    """Liveness: 200 while this process serves requests (it checks nothing else)."""
    return jsonify({"status": "ok"}), 200


@bp.get("/ready")
def ready() -> tuple[Response, int]:
    """Readiness for load balancers: 200 when the database answers, its schema is this release's
    (or a newer release's, during a rolling upgrade) and a signing key is present; else 503."""
    checks: dict[str, str] = {}
    try:
        services().db.ping()
        checks["database"] = services().db.dialect
        ahead = services().db.schema_ahead()
        checks["schema"] = "ahead" if ahead else "current"
    except StorageError as exc:
        response = jsonify({"status": "unavailable", "error": exc.code, "message": str(exc), **checks})
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response, 503
    try:
        services().keys.signing_key()
    except KeyError_ as exc:
        return jsonify({"status": "unavailable", "error": "signing_key_unusable", "message": str(exc), **checks}), 503
    return jsonify({"status": "ok", **checks, "signing_key": "present"}), 200


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

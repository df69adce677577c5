"""The ``/xapi/`` blueprint: Statements, State, Activity/Agent Profile, About, Activities, Agents.

One dispatcher reads the request into an :class:`~lti_tool.lrs.protocol.XRequest` (which also unfolds
the 1.0.3 alternate request syntax, ``?method=`` with a form body), checks the version and the
credential, then calls the resource handler registered by :mod:`lti_tool.lrs.statements_api`,
:mod:`lti_tool.lrs.documents_api` or :mod:`lti_tool.lrs.metadata_api`. Every error is JSON
``{"error": code, "message": ...}`` with its status; CORS headers are added to every answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, g, request
from sqlalchemy.exc import IntegrityError

from lti_tool.lrs import documents_api, metadata_api, statements_api  # noqa: F401  (importing registers their resources)
from lti_tool.lrs.credentials import authenticate
from lti_tool.lrs.multipart import MultipartError
from lti_tool.lrs.protocol import (
    LAST_VERSION,
    ROUTES,
    URL_PREFIX,
    XapiError,
    accept_languages,
    json_response,
    negotiate_version,
    read_request,
    remember_version,
)
from lti_tool.lrs.store import LrsBadRequest, LrsConflict, iso
from lti_tool.services import services_of
from scorm.xapi import StatementError

bp = Blueprint("xapi", __name__, url_prefix=URL_PREFIX)

CORS_HEADERS = "Authorization, Content-Type, X-Experience-API-Version, If-Match, If-None-Match, X-Experience-API-Hash"
CORS_EXPOSE = "ETag, Last-Modified, X-Experience-API-Version, X-Experience-API-Consistent-Through"


@bp.after_request
def _headers(resp: Response) -> Response:
    resp.headers["X-Experience-API-Version"] = getattr(g, "xapi_version", "1.0.3")
    if request.path.rstrip("/").endswith("/statements") and "X-Experience-API-Consistent-Through" not in resp.headers:
        resp.headers["X-Experience-API-Consistent-Through"] = iso(datetime.now(UTC))
    origin = request.headers.get("Origin")
    if origin and _allowed_origin(origin):
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE
    resp.headers["Vary"] = "Origin"
    return resp


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _allowed_origin(origin: str) -> bool:
    """Content served from the content origin (or the app's own origin) may call the LRS."""
    settings = services_of(current_app).settings
    allowed = {_origin_of(settings.server.base_url), _origin_of(settings.content_origin)}
    return origin.rstrip("/").lower() in allowed


# -- dispatch --------------------------------------------------------------------------------------


@bp.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST", "DELETE", "OPTIONS"])
@bp.route("/<path:path>", methods=["GET", "PUT", "POST", "DELETE", "OPTIONS"])
def dispatch(path: str) -> Response:
    name = path.strip("/")
    if request.method == "OPTIONS":
        resp = Response(status=204)
        resp.headers["Access-Control-Allow-Methods"] = "GET, PUT, POST, DELETE, HEAD, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        resp.headers["Access-Control-Max-Age"] = "600"
        return resp
    try:
        handler = ROUTES.get(name)
        if handler is None:
            raise XapiError(404, "not_found", f"no xAPI resource /xapi/{name}")
        x = read_request(name)
        x.languages = accept_languages()
        services = services_of(current_app)
        for attempt in (1, 2):
            try:
                with services.db.session() as session:
                    if name != "about":
                        x.credential = authenticate(session, x.header("authorization"))
                        if x.credential is not None and x.credential.key in LAST_VERSION:
                            g.xapi_version = LAST_VERSION[x.credential.key]
                    negotiate_version(x)
                    if name != "about":
                        if x.credential is None:
                            raise XapiError(401, "unauthorized", "valid LRS credentials (HTTP Basic) are required")
                        remember_version(x.credential.key, x.version)
                    resp = handler(x, session)
                break
            except IntegrityError:
                # a concurrent request stored one of these statement ids first (everything of this
                # one was rolled back): judged once more, the same statement is now a resend (200/204)
                # and another content under its id a conflict with its precise message (409)
                if attempt == 2 or name != "statements" or x.method not in ("PUT", "POST"):
                    raise
        if x.method == "HEAD":
            resp.set_data(b"")
        return resp
    except XapiError as exc:
        resp = json_response({"error": exc.code, "message": exc.message}, exc.status)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Basic realm="xAPI"'
        return resp
    except (LrsBadRequest, StatementError, MultipartError) as exc:
        return json_response({"error": "bad_request", "message": str(exc)}, 400)
    except LrsConflict as exc:
        return json_response({"error": "conflict", "message": str(exc)}, 409)
    except IntegrityError:
        # a concurrent request stored the same statement id or created the same document first
        message = "a concurrent request stored the same statement or document first; read it and retry"
        return json_response({"error": "conflict", "message": message}, 409)


def init_app(app: Flask) -> None:
    """Register the ``/xapi/`` blueprint (exempt from CSRF: it authenticates every request)."""
    app.register_blueprint(bp)

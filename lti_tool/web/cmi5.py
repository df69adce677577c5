"""The cmi5 fetch URL (cmi5 §8.2): POST once for the AU session's LRS credential.

The AU runs on the content origin and calls this URL with XHR, so the content origin gets CORS.
A GET answers 405: the spec makes the fetch URL POST-only, and a crawler or a prefetching
browser must never spend the one-time token.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from lti_tool.runtime import cmi5_delivery
from lti_tool.runtime.errors import ItemNotFound
from lti_tool.services import services_of

bp = Blueprint("cmi5", __name__, url_prefix="/cmi5")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


@bp.after_request
def _cors(resp: Response) -> Response:
    origin = request.headers.get("Origin")
    settings = services_of(current_app).settings
    if origin and origin.rstrip("/").lower() in {_origin(settings.server.base_url), _origin(settings.content_origin)}:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
    resp.headers["Vary"] = "Origin"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/fetch/<token>", methods=["POST", "OPTIONS"])
def fetch(token: str) -> Response:
    """``{"auth-token": …}`` on the first call; the spec's error JSON (``error-code``) after that."""
    if request.method == "OPTIONS":
        return Response(status=204)
    return jsonify(cmi5_delivery.fetch_token(services_of(current_app), token[:200]))


def init_app(app: Flask) -> None:
    """Register the blueprint (exempt from CSRF: the token in the URL is the only credential)."""
    app.register_blueprint(bp)


@bp.post("/launch/<attempt_id>")
def launch(attempt_id: str) -> Response:
    """Start a session of one AU of the attempt (``{"token", "au"}``): ``{"url", "launchMethod", "sessionId"}``.

    The player page calls it with its attempt token; the answer's URL is the AU's launch URL
    with the cmi5 parameters (cmi5 §8.1), opened in the player's frame or a window of its own.
    """
    from lti_tool.web.content import content_base_url

    au = _launch_target(attempt_id, "the launch request names no AU")
    started = cmi5_delivery.launch_au(
        services_of(current_app),
        attempt_id=attempt_id,
        au_id=au,
        content_base=lambda version_id: content_base_url(version_id, attempt_id),
    )
    return jsonify({"url": started.url, "launchMethod": started.launch_method, "sessionId": started.session_id})


@bp.post("/tincan/<attempt_id>")
def tincan_launch(attempt_id: str) -> Response:
    """The launch URL of one xAPI (TinCan) activity of the attempt: ``{"token", "au"}`` -> ``{"url", …}``."""
    from lti_tool.runtime import xapi_delivery
    from lti_tool.web.content import content_base_url

    activity = _launch_target(attempt_id, "the launch request names no activity")
    started = xapi_delivery.launch_activity(
        services_of(current_app),
        attempt_id=attempt_id,
        activity_id=activity,
        content_base=lambda version_id: content_base_url(version_id, attempt_id),
    )
    return jsonify({"url": started.url, "launchMethod": "AnyWindow"})


def _launch_target(attempt_id: str, missing: str) -> str:
    """The ``au`` a player page asks to launch, after its attempt token was checked (both launch routes)."""
    from lti_tool.web.bodies import read_json_object
    from lti_tool.web.player import check_token

    body = read_json_object(16 * 1024, what="the launch request")
    check_token(body.get("token") if isinstance(body.get("token"), str) else None, attempt_id)
    target = body.get("au")
    if not isinstance(target, str) or not target:
        raise ItemNotFound(missing)
    return target

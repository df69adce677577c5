"""The cmi5 fetch URL (cmi5 §8.2): POST once for the AU session's LRS credential.

The AU runs on the content origin and calls this URL with XHR, so the content origin gets CORS.
A GET answers 405: the spec makes the fetch URL POST-only, and a crawler or a prefetching
browser must never spend the one-time token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request, url_for

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

    au, body = _launch_request(attempt_id, "the launch request names no AU")
    started = cmi5_delivery.launch_au(
        services_of(current_app),
        attempt_id=attempt_id,
        au_id=au,
        content_base=lambda version_id: content_base_url(version_id, attempt_id),
        return_url=_return_url(attempt_id),
        language=_language(body.get("locale")),
    )
    return jsonify({"url": started.url, "launchMethod": started.launch_method, "sessionId": started.session_id})


def _return_url(attempt_id: str) -> str:
    """``returnURL`` of the AU's LaunchData: always a page of this tool, never the LMS's own page.

    An AU sends its own window to ``returnURL`` when it exits (cmi5 §10.2.6). Played in the
    player's frame, that window is a frame inside the LMS's frame, where an LMS page usually
    refuses to load (Moodle sends ``X-Frame-Options: sameorigin``). So the AU returns to this
    tool's exit page, which hands the exit to the player page around it
    (``static/player/cmi5_exit.js``); the player then does what its Exit button does: the top
    window goes to the launch's ``launch_presentation.return_url`` when the page was given one
    (checked by ``web.player.safe_return_url`` when the page was made), else the course's units
    stay on screen. A preview's AU returns to the "preview ended" page.
    """
    from lti_tool import preview
    from lti_tool.storage import learners

    settings = services_of(current_app).settings
    db = services_of(current_app).db
    owner = learners.attempt_platform_id(db, attempt_id)
    ended = "preview.ended" if owner is not None and owner in preview.preview_platform_ids(db) else "cmi5.exit_page"
    return settings.server.base_url.rstrip("/") + url_for(ended)


def _language(sent: object) -> str:
    """The learner's language: the player page's (the launch's ``launch_presentation.locale``,
    else the page language), when the tool has it, else this request's."""
    from flask_babel import get_locale

    from lti_tool.web.i18n import normalise

    return normalise(sent) or str(get_locale() or "en")


@bp.get("/exit")
def exit_page() -> str:
    """Where an AU sends the learner when it exits and the launch gave no safe return URL."""
    return render_template("player/cmi5_exit.html")


@bp.post("/tincan/<attempt_id>")
def tincan_launch(attempt_id: str) -> Response:
    """The launch URL of one xAPI (TinCan) activity of the attempt: ``{"token", "au"}`` -> ``{"url", …}``."""
    from lti_tool.runtime import xapi_delivery
    from lti_tool.web.content import content_base_url

    activity, _body = _launch_request(attempt_id, "the launch request names no activity")
    started = xapi_delivery.launch_activity(
        services_of(current_app),
        attempt_id=attempt_id,
        activity_id=activity,
        content_base=lambda version_id: content_base_url(version_id, attempt_id),
    )
    return jsonify({"url": started.url, "launchMethod": "AnyWindow"})


def _launch_request(attempt_id: str, missing: str) -> tuple[str, dict[str, Any]]:
    """The ``au`` a player page asks to launch and the request, after its attempt token was checked
    (both launch routes)."""
    from lti_tool.web.bodies import read_json_object
    from lti_tool.web.player import check_token

    body = read_json_object(16 * 1024, what="the launch request")
    check_token(body.get("token") if isinstance(body.get("token"), str) else None, attempt_id)
    target = body.get("au")
    if not isinstance(target, str) or not target:
        raise ItemNotFound(missing)
    return target, body

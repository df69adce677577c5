"""LTI 1.3 endpoints: OIDC login, launch, tool configuration, launch sessions.

Routes:
    GET/POST /lti/login      third-party initiated login → 302 GET to the platform's auth URL
    POST     /lti/launch     id_token + state → validate → dispatch by message type
    GET      /lti/config     the values an LMS admin copies by hand (HTML; JSON with Accept or .json)

The class view (``/class/<id>``) and the learner home (``/home/<id>``) live in
:mod:`lti_tool.web.class_view`, on this same blueprint.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, g, jsonify, redirect, render_template, request

from lti_tool.lti.context import Launch, LaunchPage, LaunchRedirect, LaunchResult
from lti_tool.lti.errors import LaunchRejected
from lti_tool.lti.service import LAUNCH_SESSION_SECONDS, LtiService
from lti_tool.services import services_of
from lti_tool.web import i18n, services
from sync.lti_claims import LTI_VERSION, MESSAGE_RESOURCE_LINK

logger = logging.getLogger(__name__)

bp = Blueprint("lti", __name__)

STATE_COOKIE_PREFIX = "lti_state_"
LAUNCH_COOKIE = "lti_launch"
TOKEN_PARAM = "lt"  # noqa: S105 - a parameter name, not a secret


class MissingLaunchParameter(LaunchRejected):
    """The LMS did not send an id_token and state. Open the activity again from your course."""

    code = "missing_launch_parameter"


class PlatformAuthError(LaunchRejected):
    """The LMS refused to authenticate you for this tool."""

    code = "platform_auth_error"


def lti_service() -> LtiService:
    """The LTI service of the current app."""
    return services().lti


def _cookie_args() -> dict[str, Any]:
    """``SameSite=None; Secure; Partitioned`` where browsers accept Secure (https, localhost)."""
    return lti_service().cookie_args


def cookie_args_for(base_url: str) -> dict[str, Any]:
    """The state and launch cookie attributes for a tool served at ``base_url``."""
    parts = urlsplit(base_url)
    secure_ok = parts.scheme == "https" or parts.hostname in ("localhost", "127.0.0.1", "::1")
    if secure_ok:
        return {"secure": True, "httponly": True, "samesite": "None", "partitioned": True}
    # SPEC COMPLIANCE NOTE: over plain http on a non-local host browsers drop Secure cookies,
    # so the cookie falls back to SameSite=Lax (works for same-site demo platforms only).
    # Production always runs on https with SameSite=None; Secure; Partitioned.
    return {"secure": False, "httponly": True, "samesite": "Lax"}


# -- login --------------------------------------------------------------------------------------


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> Response:
    """OIDC third-party initiated login (LTI Core §4.1; Security Framework §5.1.1).

    :raise 429: too many logins from the client address. :raise 503: the login table is full.
    """
    from lti_tool.web.security import guard_login

    guard_login()
    source = request.form if request.method == "POST" else request.args
    params = {
        k: source.get(k, "")
        for k in (
            "iss",
            "login_hint",
            "target_link_uri",
            "lti_message_hint",
            "client_id",
            "lti_deployment_id",
            "lti_storage_target",
        )
    }
    start = lti_service().start_login(params)
    if start.storage_target:
        response = Response(render_template("lti/storage_put.html", start=start, key=_storage_key(start.state)))
        response.headers["Cache-Control"] = "no-store"
    else:
        # A top-level GET redirect (Moodle 4.5.11+ needs GET: its session cookie is SameSite=Lax).
        response = redirect(start.redirect_url, code=302)
    response.set_cookie(
        STATE_COOKIE_PREFIX + start.state,
        start.state,
        max_age=services().settings.lti.launch_state_ttl_seconds,
        path="/lti/",
        **_cookie_args(),
    )
    return response


def _storage_key(state: str) -> str:
    return "cbsi_state_" + state


# -- launch -------------------------------------------------------------------------------------


@bp.post("/lti/launch")
def launch() -> Any:
    """Validate an id_token, bind it to the browser that logged in, dispatch it."""
    if request.form.get("error"):
        raise PlatformAuthError(
            f"the LMS answered '{request.form.get('error')}': "
            f"{request.form.get('error_description', 'it did not authenticate you for this tool')[:300]}"
        )
    id_token, state = request.form.get("id_token", ""), request.form.get("state", "")
    if not id_token or not state:
        raise MissingLaunchParameter()
    svc = lti_service()
    token, login_record = svc.validate(id_token, state)
    if not _browser_bound(svc, state):
        return _cookie_fallback(svc, state, id_token)
    launch_obj = svc.complete(token, login_record)
    handler = services().launch_handlers.handler_for(launch_obj.message_type)
    if handler is None:  # the validator accepts only registered types; a handler vanished meanwhile
        raise LaunchRejected(f"no handler for {launch_obj.message_type}", code="unsupported_message_type")
    g.lti_launch_token = svc.launch_token(launch_obj.id)
    response = launch_response(handler(launch_obj))
    response.delete_cookie(STATE_COOKIE_PREFIX + state, path="/lti/", **_cookie_args())
    page = urlsplit(response.headers.get("Location", "")).path
    if page in (f"/play/{launch_obj.id}", f"/class/{launch_obj.id}", f"/home/{launch_obj.id}"):
        # Scoped to the one page this launch opens: launches never pile up in every request's
        # Cookie header. The page URL carries the token as well; the cookie serves its reloads
        # once a browser has dropped the query (e.g. a bookmark of the bare path).
        response.set_cookie(
            LAUNCH_COOKIE, g.lti_launch_token, max_age=LAUNCH_SESSION_SECONDS, path=page, **_cookie_args()
        )
    return response


def launch_response(result: LaunchResult) -> Response:
    """The HTTP response for a launch handler's framework-free answer."""
    if isinstance(result, LaunchRedirect):
        return redirect(result.location, code=result.status)
    if isinstance(result, LaunchPage):
        response = Response(result.html, status=result.status, mimetype="text/html")
        response.headers.update(result.headers)
        return response
    raise TypeError(f"a launch handler returned {type(result).__name__}, not a LaunchResult")


def _browser_bound(svc: LtiService, state: str) -> bool:
    """The state cookie came back, or the platform storage proof was posted (LTI platform storage)."""
    cookie = request.cookies.get(STATE_COOKIE_PREFIX + state)
    if cookie is not None and hmac.compare_digest(cookie, state):
        return True
    proof = request.form.get("lti_storage_proof")
    return bool(proof) and hmac.compare_digest(proof, svc.storage_value(state))


def _cookie_fallback(svc: LtiService, state: str, id_token: str) -> Response:
    """The state cookie did not come back: platform storage check, else a new-window relaunch."""
    info = svc.login_request(state)
    relaunch = svc.relaunch_url(info) if info is not None else None
    storage_target = info.storage_target if info is not None else None
    origin = ""
    if info is not None and storage_target:
        try:
            platform = svc.resolve_platform(info.issuer, info.client_id)
            auth = urlsplit(platform.auth_login_url)
            origin = f"{auth.scheme}://{auth.netloc}"
        except LaunchRejected:
            storage_target = None
    logger.info("state cookie missing (storage target: %s)", bool(storage_target), extra={"action": "cookie_fallback"})
    response = Response(
        render_template(
            "lti/cookie_fallback.html",
            state=state,
            id_token=id_token,
            key=_storage_key(state),
            storage_target=storage_target,
            platform_origin=origin,
            relaunch_url=relaunch,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# -- launch sessions ----------------------------------------------------------------------------


def current_launch_token() -> str:
    """The launch-scoped token issued during this request (for handlers building URLs)."""
    return str(g.lti_launch_token)


def launch_url(path: str, launch: Launch) -> str:
    """``path`` with the launch-scoped token of ``launch`` (issued in this request or the current one)."""
    token = getattr(g, "lti_launch_token", None) or lti_service().launch_token(launch.id)
    return f"{path}?{urlencode({TOKEN_PARAM: token})}"


def require_launch(launch_id: str) -> Launch:
    """The launch a page request is authorised for: token in ``?lt=``, ``X-Launch-Token`` or the
    launch cookie. An LMS cookie alone never authenticates.

    Raises:
        LaunchSessionError: no valid token for this launch.
    """
    token = (
        request.args.get(TOKEN_PARAM)
        or request.form.get(TOKEN_PARAM)
        or request.headers.get("X-Launch-Token")
        or request.cookies.get(LAUNCH_COOKIE)
    )
    launch_obj = lti_service().launch_from_token(token, launch_id)
    g.lti_launch_token = token
    i18n.use_launch(launch_obj.claims)  # the page speaks the launch's language
    return launch_obj


def resource_link_handler(launch_obj: Launch) -> LaunchRedirect:
    """Learners go to the player, instructors and admins to the class view (303 after the POST)."""
    if launch_obj.is_learner:
        if not _names_course(launch_obj):
            return LaunchRedirect(launch_url(f"/home/{launch_obj.id}", launch_obj))
        return LaunchRedirect(launch_url(f"/play/{launch_obj.id}", launch_obj))
    return LaunchRedirect(launch_url(f"/class/{launch_obj.id}", launch_obj))


def _names_course(launch_obj: Launch) -> bool:
    """Whether the launch's resource link carries a catalogue course (``custom.course``, as the runtime reads it)."""
    ident = launch_obj.custom.get("course") if launch_obj.custom else None
    return ident is not None and str(ident).strip() != ""


# -- tool configuration ---------------------------------------------------------------------------


def tool_configuration() -> dict[str, Any]:
    """The values an LMS administrator enters by hand (Moodle field names in ``moodle``)."""
    svc = lti_service()
    base = svc.base_url
    jwks = base + "/.well-known/jwks.json"
    return {
        "tool_name": services().settings.lti.tool_name,
        "tool_url": base + "/",
        "login_url": svc.login_url,
        "redirect_uris": [svc.launch_url],
        "target_link_uri": svc.launch_url,
        "jwks_url": jwks,
        "deep_linking_url": svc.launch_url,
        "lti_version": LTI_VERSION,
        "moodle": {
            "Tool URL": svc.launch_url,
            "LTI version": "LTI 1.3",
            "Public key type": "Keyset URL",
            "Public keyset": jwks,
            "Initiate login URL": svc.login_url,
            "Redirection URI(s)": svc.launch_url,
            "Supports Deep Linking (Content-Item Message)": "yes",
            "Content Selection URL": svc.launch_url,
        },
    }


@bp.get("/lti/config")
@bp.get("/lti/config.json")
def config() -> Any:
    """Tool configuration for manual registration."""
    data = tool_configuration()
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    if request.path.endswith(".json") or best == "application/json":
        return jsonify(data)
    return render_template("lti/config.html", config=data)


# -- wiring ---------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Register the blueprint and the default resource link handler (unless one is registered)."""
    container = services_of(app)
    container.lti.cookie_args = cookie_args_for(container.settings.server.base_url)
    if container.launch_handlers.handler_for(MESSAGE_RESOURCE_LINK) is None:
        container.launch_handlers.register(MESSAGE_RESOURCE_LINK, resource_link_handler)
    from lti_tool.web import class_view  # noqa: F401  (its routes join bp; it imports this module)

    app.register_blueprint(bp)


__all__ = [
    "bp",
    "current_launch_token",
    "init_app",
    "launch_response",
    "launch_url",
    "lti_service",
    "require_launch",
    "resource_link_handler",
    "tool_configuration",
]

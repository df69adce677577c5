"""LTI 1.3 endpoints: OIDC login, launch, tool configuration, class view, launch sessions.

Routes:
    GET/POST /lti/login      third-party initiated login → 302 GET to the platform's auth URL
    POST     /lti/launch     id_token + state → validate → dispatch by message type
    GET      /lti/config     the values an LMS admin copies by hand (HTML; JSON with Accept or .json)
    GET      /class/<id>     instructor / admin view of a launch (progress, questions, charts)
    GET      /class/<id>/export.csv   the class table as CSV
    POST     /class/<id>/resend       re-queue the activity's settled grades (launch token in the form)
    POST     /class/<id>/reset        start one learner's next launch on a new attempt (history kept)
    GET      /home/<id>      a learner's courses in this LMS course (launch without a course, after one)
"""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Flask, Response, g, jsonify, redirect, render_template, request
from flask_babel import gettext
from markupsafe import Markup

from lti_tool import audit, charts, class_insights, learner_home, reports
from lti_tool.errors import BadRequest, NotFound
from lti_tool.lti import platforms
from lti_tool.lti.context import Launch, LaunchPage, LaunchRedirect, LaunchResult
from lti_tool.lti.errors import LaunchRejected, LaunchSessionError, PlatformAdminError
from lti_tool.lti.service import LAUNCH_SESSION_SECONDS, LtiService
from lti_tool.services import services_of
from lti_tool.storage import learners
from lti_tool.web import formatting, i18n, services
from lti_tool.web.csv_export import csv_response
from lti_tool.web.i18n import error_text
from lti_tool.web.player import _learner_id as player_learner_id
from lti_tool.web.player import attempt_token, safe_return_url
from sync.lti_claims import CLAIM_LAUNCH_PRESENTATION, LTI_VERSION, MESSAGE_RESOURCE_LINK

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


def _page(html: str) -> Response:
    response = Response(html)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _instructor_launch(launch_id: str, *, posted: bool = False) -> Launch:
    """The instructor's (or admin's) launch a class page or action is for.

    ``posted``: an action; the launch token must travel in the form itself (``lt``), never in
    a cookie alone, so another site cannot make the instructor's browser act (the token is
    the form's CSRF token).

    Raises:
        LaunchSessionError: no valid token, or the token only in a cookie for an action.
        LaunchSessionError: a learner's launch (code ``forbidden_role``).
    """
    if posted and not request.form.get(TOKEN_PARAM):
        raise LaunchSessionError(code="launch_session_invalid")
    launch_obj = require_launch(launch_id)
    if launch_obj.is_learner:
        raise LaunchSessionError(
            "this page is for instructors; open the activity from your course", code="forbidden_role"
        )
    if not launch_obj.resource_link_id and posted:
        raise BadRequest("this launch names no activity", code="bad_request")
    return launch_obj


#: The notices an action leaves on the class view (``?done=``): fixed words, never the query's text.
NOTICES = ("resent", "reset", "nothing_to_resend", "nothing_to_reset")


@bp.get("/class/<launch_id>")
def class_view(launch_id: str) -> Response:
    """Instructor / admin view: the activity's learners, per-question results, funnel and scores."""
    launch_obj = _instructor_launch(launch_id)
    registration = None
    if launch_obj.is_admin:
        try:
            registration = platforms.get_platform(services().db, launch_obj.platform_id)
        except PlatformAdminError:
            registration = None
    report = _class_report(launch_obj)
    questions: list[class_insights.QuestionResult] = []
    funnel: list[tuple[str, int]] = []
    bands: list[charts.Point] = []
    funnel_chart = histogram_chart = ""
    if report is not None and launch_obj.resource_link_id:
        questions = class_insights.question_results(
            services().db,
            platform_id=launch_obj.platform_id,
            deployment_id=launch_obj.deployment_id,
            resource_link_id=launch_obj.resource_link_id,
        )
        funnel, bands, funnel_chart, histogram_chart = _class_charts(report)
    done = request.args.get("done")
    count = request.args.get("count", "")
    return _page(
        render_template(
            "lti/class.html",
            launch=launch_obj,
            registration=registration,
            token=current_launch_token(),
            nrps_available=bool(launch_obj.nrps),
            report=report,
            states=reports.STATES,
            questions=questions,
            funnel=funnel,
            bands=bands,
            funnel_chart=Markup(funnel_chart),  # noqa: S704 - charts.py escapes every text it draws
            histogram_chart=Markup(histogram_chart),  # noqa: S704 - as above
            stage_words=_stage_words(),
            notice=done if done in NOTICES else None,
            notice_count=int(count) if count.isdigit() and len(count) < 7 else 0,
        )
    )


FUNNEL_STAGES = ("enrolled", "started", "completed", "passed")


def _stage_words() -> dict[str, str]:
    return {
        "enrolled": gettext("Enrolled"),
        "started": gettext("Started"),
        "completed": gettext("Completed"),
        "passed": gettext("Passed"),
    }


def _class_charts(report: reports.ClassReport) -> tuple[list[tuple[str, int]], list[charts.Point], str, str]:
    """The completion funnel and the score distribution of a class, as figures and as SVG."""
    funnel = class_insights.funnel_counts([r.state for r in report.rows], len(report.rows))
    words = _stage_words()
    stages = [charts.Point(words[stage], count) for stage, count in funnel]
    funnel_svg = charts.funnel_svg(
        stages,
        title=gettext("Completion funnel"),
        desc=gettext(
            "How many learners enrolled, started, completed (passed or failed included) and passed this activity."
        ),
        number=formatting.number,
        percent_of_first=formatting.percent,
        empty=gettext("No learner yet."),
    )
    bands = charts.score_bands([r.score_percent for r in report.rows if r.score_percent is not None])
    histogram = charts.histogram_svg(
        bands,
        title=gettext("Score distribution"),
        desc=gettext("How many learners scored in each band of ten percentage points."),
        x_label=gettext("Score (percent)"),
        y_label=gettext("Learners"),
        number=formatting.number,
        empty=gettext("No scores yet."),
    )
    return funnel, bands, funnel_svg, histogram


def _back_to_class(launch_obj: Launch, done: str, count: int) -> Response:
    url = launch_url(f"/class/{launch_obj.id}", launch_obj) + "&" + urlencode({"done": done, "count": count})
    return redirect(url, code=303)  # type: ignore[return-value]


def _actor(launch_obj: Launch) -> audit.Actor:
    return audit.Actor(name=f"instructor:{launch_obj.sub or '?'}", source=request.remote_addr or "")


@bp.post("/class/<launch_id>/resend")
def class_resend(launch_id: str) -> Response:
    """Re-queue the settled grades of this activity's learners (this platform and resource link only)."""
    launch_obj = _instructor_launch(launch_id, posted=True)
    from lti_tool import grades
    from lti_tool.storage.outbox import SqlOutboxStore
    from sync.ports import ResendFilter

    prefix = f"{launch_obj.deployment_id}/{launch_obj.resource_link_id}"
    store = SqlOutboxStore(services().db)
    now = datetime.now(UTC)
    count = sum(
        store.resend(ResendFilter(platform_key=str(launch_obj.platform_id), line_item_key=key), now=now)
        for key in (prefix, f"{prefix}#{grades.LINE_ITEM_TAG}")
    )
    with services().db.session() as s:
        audit.record_as(
            s,
            _actor(launch_obj),
            "grades.resend",
            params={"deployment_id": launch_obj.deployment_id, "resource_link_id": launch_obj.resource_link_id,
                    "count": count},
            platform_id=launch_obj.platform_id,
        )  # fmt: skip
    return _back_to_class(launch_obj, "resent" if count else "nothing_to_resend", count)


@bp.post("/class/<launch_id>/reset")
def class_reset(launch_id: str) -> Response:
    """End one learner's newest attempt (kept, marked abandoned): their next launch starts a new one."""
    launch_obj = _instructor_launch(launch_id, posted=True)
    learner = (request.form.get("learner") or "").strip()
    if not learner or len(learner) > 255:
        raise BadRequest("name the learner whose attempt to reset", code="bad_request")
    reset = learners.abandon_newest_attempt(
        services().db,
        platform_id=launch_obj.platform_id,
        deployment_id=launch_obj.deployment_id,
        resource_link_id=launch_obj.resource_link_id or "",
        learner_sub=learner,
        actor=_actor(launch_obj),
    )
    if reset is None:
        raise NotFound("this learner has no attempt on this activity", code="not_found")
    return _back_to_class(launch_obj, "reset" if reset else "nothing_to_reset", 1 if reset else 0)


@bp.get("/class/<launch_id>/export.csv")
def class_export(launch_id: str) -> Response:
    """The class table as CSV (the words of the reader's language, numbers as plain digits)."""
    launch_obj = _instructor_launch(launch_id)
    report = _class_report(launch_obj)
    words = reports_state_words()
    header = [
        gettext("Learner"), gettext("Email"), gettext("LMS user id"), gettext("Status"), gettext("Score (percent)"),
        gettext("Attempts"), gettext("Time spent (seconds)"), gettext("Last activity (UTC)"), gettext("Gradebook"),
    ]  # fmt: skip
    rows: list[list[object]] = [header]
    for row in report.rows if report else ():
        rows.append(
            [
                row.name,
                row.email or "",
                row.user_id,
                words[row.state],
                "" if row.score_percent is None else f"{row.score_percent:g}",
                row.attempts,
                int(row.time_spent_seconds),
                row.last_activity.strftime("%Y-%m-%d %H:%M:%S") if row.last_activity else "",
                i18n.delivery_text(row.grade) if row.grade else "",
            ]
        )
    response = csv_response(rows, f"class-{launch_obj.resource_link_id or 'activity'}.csv")
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def reports_state_words() -> dict[str, str]:
    """A learner's states in the reader's language (the class view's and the CSV's words)."""
    return {
        "not_started": gettext("Not started"),
        "in_progress": gettext("In progress"),
        "completed": gettext("Completed"),
        "passed": gettext("Passed"),
        "failed": gettext("Failed"),
    }


# -- learner home -----------------------------------------------------------------------------------


@bp.get("/home/<launch_id>")
def learner_home_page(launch_id: str) -> Response:
    """The learner's activities in this LMS course, with progress and a way back into each."""
    launch_obj = require_launch(launch_id)
    courses = learner_home.learner_courses(
        services().db,
        platform_id=launch_obj.platform_id,
        deployment_id=launch_obj.deployment_id,
        context_id=launch_obj.context_id,
        learner_sub=launch_obj.sub or "",
    )
    resume = {c.registration_id: _resume_url(c, launch_obj) for c in courses}
    presentation = launch_obj.claims.get(CLAIM_LAUNCH_PRESENTATION)
    return_url = safe_return_url(
        presentation.get("return_url") if isinstance(presentation, dict) else None,
        allow_http=services().settings.server.demo or services().settings.server.base_url.startswith("http://"),
    )
    return _page(
        render_template(
            "lti/home.html",
            launch=launch_obj,
            courses=courses,
            resume=resume,
            return_url=return_url,
            words=reports_state_words(),
        )
    )


def _resume_url(course: learner_home.HomeCourse, launch_obj: Launch) -> str | None:
    """The player of the learner's running attempt (the new-window player, its token in the fragment).

    Only an attempt still open can be resumed without the LMS: a new attempt needs a launch from
    the LMS (its grade line item and roles come with it), so finished courses open from the LMS.
    """
    if course.attempt_id is None or course.state in ("completed", "passed", "failed"):
        return None
    if not learners.attempt_is_active(services().db, course.attempt_id):
        return None
    token = attempt_token(course.attempt_id, player_learner_id(launch_obj.sub or ""))
    return f"/player/{course.attempt_id}#t={token}"


def _class_report(launch_obj: Launch) -> reports.ClassReport | None:
    """Progress of the activity's learners, with the LMS roster when it offers one."""
    if not launch_obj.resource_link_id:
        return None
    roster, note = None, None
    if launch_obj.nrps:
        from lti_tool.lti.nrps import NrpsError
        from lti_tool.web.lti_adv import roster_for

        try:
            roster = roster_for(launch_obj).members
        except NrpsError as exc:
            note = gettext(
                "The LMS roster could not be read (%(code)s): %(reason)s", code=exc.code, reason=error_text(exc)
            )
            logger.warning("roster unavailable for launch %s: %s", launch_obj.id, exc.code, extra={"action": "roster"})
    else:
        note = gettext(
            "Your LMS did not offer its roster for this launch: learners appear here once they open the activity."
        )
    from lti_tool import grades

    link = launch_obj.resource_link_id

    def grade_state(user_ids: list[str]) -> dict[str, dict[str, Any]]:
        return grades.delivery_state(
            services(),
            platform_id=launch_obj.platform_id,
            deployment_id=launch_obj.deployment_id,
            resource_link_id=link,
            user_ids=user_ids,
        )

    return reports.class_report(
        services(),
        platform_id=launch_obj.platform_id,
        deployment_id=launch_obj.deployment_id,
        resource_link_id=link,
        roster=roster,
        roster_note=note,
        grade_state=grade_state,
    )


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

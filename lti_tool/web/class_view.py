"""The instructor's class view and the learner's home page, on the ``lti`` blueprint.

Routes (endpoint names ``lti.class_view``, ``lti.class_resend``, ``lti.class_reset``, ``lti.class_export``,
``lti.learner_home_page``):
    GET      /class/<id>     instructor / admin view of a launch (progress, questions, charts)
    GET      /class/<id>/export.csv   the class table as CSV
    POST     /class/<id>/resend       re-queue the activity's settled grades (launch token in the form)
    POST     /class/<id>/reset        start one learner's next launch on a new attempt (history kept)
    GET      /home/<id>      a learner's courses in this LMS course (launch without a course, after one)

:func:`lti_tool.web.lti.init_app` imports this module before it registers the blueprint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, redirect, render_template, request
from flask_babel import gettext
from markupsafe import Markup

from lti_tool import audit, charts, class_insights, learner_home, reports
from lti_tool.errors import BadRequest, NotFound
from lti_tool.lti import platforms
from lti_tool.lti.context import Launch
from lti_tool.lti.errors import LaunchSessionError, PlatformAdminError
from lti_tool.storage import learners
from lti_tool.web import formatting, i18n, services
from lti_tool.web.csv_export import csv_response
from lti_tool.web.i18n import error_text
from lti_tool.web.lti import TOKEN_PARAM, bp, current_launch_token, launch_url, logger, require_launch
from lti_tool.web.player import _learner_id as player_learner_id
from lti_tool.web.player import attempt_token, safe_return_url
from sync.lti_claims import CLAIM_LAUNCH_PRESENTATION


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

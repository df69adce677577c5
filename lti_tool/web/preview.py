"""Operator preview pages: the one-time preview URL, and where a previewed AU ends.

``GET /preview/<token>`` checks the link without spending it and answers a page that posts it
back (a link previewer or a prefetching browser must not spend a one-time URL);
``POST /preview/<token>`` spends it (``lti_tool.preview.consume``) and renders the course's
player on a preview attempt, through the runtime's entry for learners without a launch. The
page needs no cookie and reads none: a browser's LTI launch cookie of any academy changes
nothing. The console's Preview button (``/admin/packages/<id>/preview``) makes the link and
sends the operator's new tab to it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Blueprint, Flask, Response, g, redirect, render_template, request, url_for
from flask_babel import gettext

from lti_tool import audit, catalogue_usage, preview
from lti_tool.runtime.attempts import open_enrolled_and_start
from lti_tool.web import services
from lti_tool.web.admin import bp as admin_bp
from lti_tool.web.admin import operator_required
from lti_tool.web.security import client_ip

bp = Blueprint("preview", __name__, url_prefix="/preview")


def _page(body: str) -> Response:
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/<token>")
def open_page(token: str) -> Response:
    """A page that posts the link back (checked, not spent).

    :raise 404: ``preview_link_invalid``. :raise 410: ``preview_link_expired``, ``preview_link_used``.
    """
    ticket = preview.check_unspent(services(), token)
    from lti_tool.storage import courses as course_store

    with services().db.session() as s:
        version = course_store.version_by_id(s, ticket.version_id)
        title = version.title if version is not None else ""
    return _page(render_template("preview/open.html", title=title, action=url_for("preview.play", token=token)))


@bp.post("/<token>")
def play(token: str) -> Response:
    """Spend the link and play the course on a preview attempt.

    :raise 404: ``preview_link_invalid``, ``course_unavailable``.
    :raise 410: ``preview_link_used``, ``preview_link_expired``.
    """
    from lti_tool.web.player import render_player

    ticket = preview.consume(services(), token)
    enrolment = preview.enrolment(services(), ticket)
    learner = enrolment.learner_sub
    opened, started = open_enrolled_and_start(
        services(), enrolment, version_id=ticket.version_id, learner_id=learner, item_id=ticket.au
    )
    opened = dataclasses.replace(opened, course_title=gettext("Preview: %(title)s", title=opened.course_title))
    return _page(render_player(opened, learner, None, started, home_url=url_for("preview.ended")))


@bp.get("/ended")
def ended() -> Response:
    """Where a previewed cmi5 AU sends the learner when it exits (its ``returnURL``)."""
    return _page(render_template("preview/ended.html"))


@admin_bp.post("/packages/<int:course_id>/preview")
@operator_required
def console_preview(course_id: int) -> Any:
    """The console's Preview button: make a one-time link (audited) and open it.

    Form fields: ``version`` (number, default the newest), ``au`` (cmi5), ``learner``.

    :raise 404: ``preview_course_not_found``, ``preview_au_not_found``.
    :raise 400: ``preview_learner_invalid``, ``invalid_version``.
    """
    raw_version = (request.form.get("version") or "").strip()
    if raw_version and not raw_version.isdigit():
        raise preview.PreviewError("the version must be a whole number", code="preview_version_invalid")
    link = preview.issue(
        services(),
        str(course_id),
        version=int(raw_version) if raw_version else None,
        au=request.form.get("au") or None,
        learner=request.form.get("learner") or None,
    )
    with services().db.session() as s:
        audit.record_as(
            s,
            audit.Actor(g.operator, client_ip()),
            "packages.preview",
            params={"course": link.course_id, "version": link.version, "au": link.au, "learner": link.learner},
        )
    return redirect(link.url, code=303)


def version_aus(use: catalogue_usage.CourseUse) -> dict[int, list[tuple[str, str]]]:
    """The AUs (id, title) of each cmi5 version of a course: the console's Preview button per AU."""
    from lti_tool.runtime.structure import player_items
    from lti_tool.storage import courses as course_store

    found: dict[int, list[tuple[str, str]]] = {}
    with services().db.session() as s:
        for v in use.versions:
            version = course_store.version_by_id(s, v.version_id) if v.standard == "cmi5" else None
            if version is not None:
                found[v.version_id] = [(item.id, item.title) for item in player_items(version)]
    return found


def init_app(app: Flask) -> None:
    """Register the preview pages (the console route is on the admin blueprint, imported here)."""
    app.register_blueprint(bp)

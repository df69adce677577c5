"""Operator console: one academy's forwarding to its own LRS (state, backlog, dead letters).

The settings are made with ``cbsi-connect platforms forward`` (the secret is read from standard
input there, never typed into a web form); this page shows the state and offers the two actions
an operator needs when something went wrong: send the refused statements again, and resume a
paused forwarding. Both are audited with the operator's name and address and CSRF-protected
(:func:`operator_required`).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from lti_tool.lrs import forwarding
from lti_tool.lti import platforms as platform_ops
from lti_tool.web import services
from lti_tool.web.admin import bp, csrf_token, operator_required
from lti_tool.web.console import actor

#: Dead letters listed on the page.
DEAD_SHOWN = 50


def _page(platform_id: int, *, error: str | None = None, status: int = 200) -> Any:
    db = services().db
    info = platform_ops.find_platform(db, platform_id)
    if info is None:
        return render_template("admin/forwarding.html", info=None, platform_id=platform_id, csrf=csrf_token()), 404
    page = render_template(
        "admin/forwarding.html",
        info=info,
        platform_id=platform_id,
        fw=forwarding.status(db, platform_id),
        dead=forwarding.dead_letters(db, platform_id, limit=DEAD_SHOWN),
        csrf=csrf_token(),
        error=error,
    )
    return page if status == 200 else (page, status)


@bp.get("/academies/<int:platform_id>/forwarding")
@operator_required
def academy_forwarding(platform_id: int) -> Any:
    """The academy's forwarding: on/paused/off, backlog, last success, refused statements."""
    return _page(platform_id)


@bp.post("/academies/<int:platform_id>/forwarding/retry-dead")
@operator_required
def academy_forwarding_retry(platform_id: int) -> Any:
    """Queue the refused statements again (the worker sends each one alone)."""
    try:
        count = forwarding.retry_dead(services().db, platform_id, actor=actor())
    except forwarding.ForwardingError as exc:
        return _refused(platform_id, exc)
    flash(_("%(n)s refused statements queued again.", n=count))
    return redirect(url_for("admin.academy_forwarding", platform_id=platform_id))


@bp.post("/academies/<int:platform_id>/forwarding/resume")
@operator_required
def academy_forwarding_resume(platform_id: int) -> Any:
    """Resume a paused forwarding with its saved settings."""
    try:
        forwarding.resume(services().db, platform_id, actor=actor())
    except forwarding.ForwardingError as exc:
        return _refused(platform_id, exc)
    flash(_("Forwarding resumed."))
    return redirect(url_for("admin.academy_forwarding", platform_id=platform_id))


def _refused(platform_id: int, exc: forwarding.ForwardingError) -> Any:
    if exc.code == "platform_not_found":
        return _page(platform_id)
    return _page(platform_id, error=_("This academy does not forward statements."), status=409)

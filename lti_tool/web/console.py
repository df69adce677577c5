"""Operator console pages: academies, signing keys, grade delivery and the audit log.

Routes live on the ``admin`` blueprint (``/admin/...``) behind :func:`operator_required`, which
checks the server-side session and the CSRF token of every POST. Every change an operator makes
is written to the audit log with their name and address, in the transaction of the change where
the domain function takes an actor (platforms), right after it otherwise (keys, outbox).
Refusals come back as the page again with the reason and a 4xx status, never a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from lti_tool import audit
from lti_tool.lrs import forwarding as lrs_forwarding
from lti_tool.lti import academies as academy_admin
from lti_tool.lti import platforms as platform_ops
from lti_tool.lti.errors import PlatformAdminError
from lti_tool.lti.platforms import registrations as platform_registrations
from lti_tool.storage.models import PlatformStatus
from lti_tool.storage.outbox import PlatformSummary, SqlOutboxStore
from lti_tool.web import services
from lti_tool.web.admin import bp, csrf_token, operator_required
from lti_tool.web.csv_export import csv_response
from lti_tool.web.security import client_ip
from sync.model import OutboxStatus as S

logger = logging.getLogger(__name__)

#: Dead deliveries listed per academy on the delivery page.
DEAD_SHOWN = 20
AUDIT_PAGE = 100


def actor() -> audit.Actor:
    """The logged-in operator and the address they act from."""
    return audit.Actor(g.operator, client_ip())


def _record(action: str, *, params: dict[str, Any] | None = None, platform_id: int | None = None) -> None:
    with services().db.session() as s:
        audit.record_as(s, actor(), action, params=params, platform_id=platform_id)


# -- academies ---------------------------------------------------------------------------------


def _academies_page(*, error: str | None = None, status: int = 200) -> Any:
    rows = academy_admin.overview(services().db)
    page = render_template(
        "admin/academies.html",
        rows=rows,
        forwarding=lrs_forwarding.states(services().db),
        pending=[r for r in rows if r.info.status == PlatformStatus.PENDING.value],
        csrf=csrf_token(),
        error=error,
    )
    return page if status == 200 else (page, status)


@bp.get("/academies")
@operator_required
def academies() -> Any:
    """Every registration with its deployments, state, last launch and usage."""
    return _academies_page()


_STATUS_CHANGES = {
    "approve": PlatformStatus.ACTIVE,
    "enable": PlatformStatus.ACTIVE,
    "disable": PlatformStatus.DISABLED,
}


@bp.post("/academies/<int:platform_id>/status")
@operator_required
def academy_status(platform_id: int) -> Any:
    """Approve, enable, disable (``action`` field) or refuse (forget) a registration."""
    action = request.form.get("action", "")
    try:
        if action == "refuse":
            info = platform_registrations.refuse_pending(services().db, platform_id, actor=actor())
            flash(_("Registration %(name)s refused and forgotten.", name=info.name or info.issuer))
        elif action in _STATUS_CHANGES:
            info = platform_ops.set_status(services().db, platform_id, _STATUS_CHANGES[action], actor=actor())
            flash(_("%(name)s is now %(state)s.", name=info.name or info.issuer, state=_state_word(info.status)))
        else:
            return _academies_page(error=_("Unknown action: choose approve, refuse, enable or disable."), status=400)
    except PlatformAdminError as exc:
        return _academies_page(error=_platform_error(exc, platform_id), status=_error_status(exc))
    return redirect(url_for("admin.academies"))


@bp.post("/academies/<int:platform_id>/rename")
@operator_required
def academy_rename(platform_id: int) -> Any:
    """Give a registration the name people know it by."""
    try:
        platform_ops.rename_platform(services().db, platform_id, request.form.get("name", ""), actor=actor())
    except PlatformAdminError as exc:
        return _academies_page(error=_platform_error(exc, platform_id), status=_error_status(exc))
    flash(_("Name saved."))
    return redirect(url_for("admin.academies"))


@bp.post("/academies/<int:platform_id>/deployments")
@operator_required
def academy_add_deployment(platform_id: int) -> Any:
    """Accept launches from one more deployment id."""
    deployment = request.form.get("deployment_id", "")
    try:
        platform_ops.add_deployment(services().db, platform_id, deployment, actor=actor())
    except PlatformAdminError as exc:
        return _academies_page(error=_platform_error(exc, platform_id), status=_error_status(exc))
    flash(_("Deployment %(id)s added.", id=deployment.strip()))
    return redirect(url_for("admin.academies"))


def _state_word(status: str) -> str:
    return {
        PlatformStatus.ACTIVE.value: _("active"),
        PlatformStatus.PENDING.value: _("waiting for approval"),
        PlatformStatus.DISABLED.value: _("disabled"),
    }.get(status, status)


def _platform_error(exc: PlatformAdminError, platform_id: int) -> str:
    code = getattr(exc, "code", "")
    if code == "platform_not_found":
        return _("There is no registration %(id)s (it may have been refused meanwhile).", id=platform_id)
    if code == "not_pending":
        return _("Registration %(id)s is in use, so it cannot be refused: disable it instead.", id=platform_id)
    if code == "invalid_value":
        return _("Not saved: %(reason)s.", reason=str(exc))
    return str(exc)


def _error_status(exc: PlatformAdminError) -> int:
    return {"platform_not_found": 404, "not_pending": 409}.get(getattr(exc, "code", ""), 400)


# -- signing keys ------------------------------------------------------------------------------


@bp.get("/keys")
@operator_required
def keys() -> str:
    """The tool's signing keys and their state."""
    return render_template("admin/keys.html", keys=services().keys.list(), csrf=csrf_token(), error=None)


@bp.post("/keys/rotate")
@operator_required
def keys_rotate() -> Any:
    """Rotate after the operator ticked the confirmation; the old key stays published for the overlap."""
    if request.form.get("confirm") != "yes":
        error = _("Tick the box to confirm the rotation.")
        page = render_template("admin/keys.html", keys=services().keys.list(), csrf=csrf_token(), error=error)
        return page, 400
    kid = services().keys.rotate()
    _record("keys.rotate", params={"kid": kid})
    logger.info("operator %s rotated the signing key to %s", g.operator, kid, extra={"action": "key_rotated"})
    flash(_("New signing key %(kid)s is active; the previous key stays published for the overlap.", kid=kid[:16]))
    return redirect(url_for("admin.keys"))


# -- grade delivery ----------------------------------------------------------------------------


def _delivery_rows(store: SqlOutboxStore, names: dict[str, str]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    summaries: list[PlatformSummary] = store.summary(now=now)
    dead = store.list_items(statuses=[S.DEAD]) if any(sm.count(S.DEAD) for sm in summaries) else []
    rows = []
    for sm in summaries:
        mine = [it for it in dead if it.update.platform_key == sm.platform_key]
        rows.append(
            {
                "key": sm.platform_key,
                "name": names.get(sm.platform_key) or _("(unregistered platform %(key)s)", key=sm.platform_key),
                "pending": sm.count(S.PENDING),
                "in_flight": sm.count(S.IN_FLIGHT),
                "sent_hour": sm.delivered_last_hour,
                "dead": sm.count(S.DEAD),
                "oldest": sm.oldest_pending_at,
                "dead_items": mine[:DEAD_SHOWN],
                "dead_more": max(0, len(mine) - DEAD_SHOWN),
            }
        )
    return rows


@bp.get("/delivery")
@operator_required
def delivery() -> str:
    """Grade delivery per academy: what waits, what is on its way, what the LMS refused."""
    names = {str(r.info.id): r.info.name or r.info.issuer for r in academy_admin.overview(services().db)}
    rows = _delivery_rows(SqlOutboxStore(services().db), names)
    return render_template("admin/delivery.html", rows=rows, csrf=csrf_token())


@bp.post("/delivery/retry")
@operator_required
def delivery_retry() -> Any:
    """Re-queue dead deliveries, of one academy (``platform`` field) or of all."""
    platform = request.form.get("platform") or None
    if platform is not None and not platform.isdigit():
        return Response(_("Unknown academy."), status=400, mimetype="text/plain")
    count = SqlOutboxStore(services().db).retry_dead(now=datetime.now(UTC), platform_key=platform)
    _record(
        "sync.retry_dead",
        params={"platform": platform or "*", "count": count},
        platform_id=int(platform) if platform else None,
    )
    flash(_("%(n)s refused deliveries queued again.", n=count))
    return redirect(url_for("admin.delivery"))


# -- audit log ---------------------------------------------------------------------------------


def _audit_filters() -> tuple[str | None, int | None, datetime | None]:
    action = (request.args.get("action") or "").strip()[:64] or None
    platform = request.args.get("platform", "")
    days = request.args.get("days", "")
    since = datetime.now(UTC) - timedelta(days=int(days)) if days.isdigit() and 0 < int(days) <= 3660 else None
    return action, int(platform) if platform.isdigit() else None, since


@bp.get("/audit")
@operator_required
def audit_log() -> str:
    """The audit log, newest first, a page at a time (``before`` = the last id shown)."""
    action, platform, since = _audit_filters()
    before = request.args.get("before", "")
    entries = audit.list_entries(
        services().db,
        action=action,
        platform_id=platform,
        since=since,
        before_id=int(before) if before.isdigit() else None,
        limit=AUDIT_PAGE,
    )
    return render_template(
        "admin/audit.html",
        entries=entries,
        more=len(entries) == AUDIT_PAGE,
        filters=request.args,
        csrf=csrf_token(),
    )


AUDIT_CSV_HEADER = ("id", "at", "actor", "action", "platform_id", "params", "source", "outcome")


@bp.get("/audit.csv")
@operator_required
def audit_csv() -> Response:
    """The whole (filtered) audit log as CSV, streamed page by page."""
    action, platform, since = _audit_filters()

    def rows() -> Iterator[tuple[object, ...]]:
        yield AUDIT_CSV_HEADER
        for e in audit.iter_entries(services().db, action=action, platform_id=platform, since=since):
            d = e.as_dict()
            yield tuple(d[k] if k != "params" else _params_text(e.params) for k in AUDIT_CSV_HEADER)

    _record("audit.export", params={"action": action or "*", "platform": platform or "*"}, platform_id=platform)
    return csv_response(rows(), f"cbsi-audit-{datetime.now(UTC):%Y%m%d}.csv")


def _params_text(params: Any) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(dict(params).items()))

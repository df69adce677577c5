"""Operator pages: login, dashboard, catalogue with package upload.

Operators log in with a username and an scrypt-hashed password (``cbsi-connect operators add``);
every state-changing request carries a CSRF token bound to the session.

Sessions live on the server (``operator_sessions``; the cookie carries a random id whose hash is
the row's key): every admin request checks the row, logout deletes it, and it ends after
``server.admin_session_max_seconds`` or ``server.admin_session_idle_seconds`` without a request.
Failed logins are counted per account and per client address in the database
(``lti_tool.ratelimit``): past ``server.admin_login_max_failures`` (or ``…_per_address``) in a
``server.admin_login_window_seconds`` window, logins wait for the window's end, right password or not.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, jsonify, redirect, render_template, request, session, url_for

from lti_tool import catalogue, operators, ratelimit
from lti_tool.errors import AppError, Forbidden
from lti_tool.lti import platforms as platform_ops
from lti_tool.storage import courses as course_store
from lti_tool.web import i18n, services
from lti_tool.web.security import client_ip
from scorm.packaging import PackageError

logger = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin")
F = TypeVar("F", bound=Callable[..., Any])


class CsrfFailed(Forbidden):
    """The form expired or did not come from this site: reload the page and try again."""

    code = "csrf_failed"


def csrf_token() -> str:
    """The session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse a state-changing request without the session's token (form field or header)."""
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf") or ""
    if not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed()


def operator_required(view: F) -> F:
    """Send anonymous visitors to the login page (API-style routes get 401 JSON)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        live = operators.check_session(services(), session.get("sid")) if session.get("sid") else None
        if live is None:
            if session.get("sid"):
                session.clear()  # logged out elsewhere, expired or idle: the cookie is worthless now
            if request.method != "GET" or request.accept_mimetypes.best == "application/json":
                raise AppError("log in as an operator first", code="login_required", status=401)
            return redirect(url_for("admin.login", next=request.path))
        g.operator = live.username
        if request.method == "POST":
            check_csrf()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _refuse_locked(username: str, address: str, wait: ratelimit.Window) -> Response:
    logger.warning(
        "operator login refused: locked out (account %r, address %s, %d tries, %d s to wait)",
        username[:60],
        address,
        wait.count,
        wait.retry_after,
        extra={"action": "operator_login_locked"},
    )
    error = (
        "Too many failed logins for this account or from your address. "
        f"Try again in {ratelimit.duration(wait.retry_after)}."
    )
    response = Response(render_template("admin/login.html", error=error, csrf=csrf_token()), status=429)
    response.headers["Retry-After"] = str(wait.retry_after)
    return response


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Operator login form (429 with Retry-After while the account or address is locked out).

    The account's try is counted before the password is checked (a good password clears the
    count), so parallel guesses cannot slip past the limit while their hashes are computed; the
    address counts failures only (operators behind one NAT log in from one address).
    """
    error = None
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "").strip()
        address = client_ip()
        server, db = services().settings.server, services().db
        window = server.admin_login_window_seconds
        by_address = ratelimit.peek(db, operators.address_bucket(address), window_seconds=window)
        if by_address.count >= server.admin_login_max_failures_per_address:
            return _refuse_locked(username, address, by_address)
        account = ratelimit.hit(db, operators.account_bucket(username), window_seconds=window)
        if account.count > server.admin_login_max_failures:  # refused before the password: it tells nothing
            return _refuse_locked(username, address, account)
        if operators.authenticate(services(), username, request.form.get("password", "")):
            operators.unlock(services(), username)
            session.clear()
            session["sid"] = operators.start_session(services(), username, client_address=address)
            session["operator"] = username
            session["csrf"] = secrets.token_urlsafe(32)
            logger.info("operator %s logged in from %s", username, address, extra={"action": "operator_login"})
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/admin") else url_for("admin.dashboard"))
        error = "Wrong username or password."
        _count_failure(username, address, account)
    return render_template("admin/login.html", error=error, csrf=csrf_token()), 401 if error else 200


def _count_failure(username: str, address: str, account: ratelimit.Window) -> None:
    server = services().settings.server
    window = server.admin_login_window_seconds
    by_address = ratelimit.hit(services().db, operators.address_bucket(address), window_seconds=window)
    logger.warning(
        "failed operator login for %r from %s (%d for the account, %d from the address in this window)",
        username[:60],
        address,
        account.count,
        by_address.count,
        extra={"action": "operator_login_failed"},
    )
    limits = (server.admin_login_max_failures, server.admin_login_max_failures_per_address)
    if account.count == limits[0] or by_address.count == limits[1]:
        logger.warning(
            "operator logins locked for %d s (account %r, address %s)",
            account.retry_after,
            username[:60],
            address,
            extra={"action": "operator_lockout"},
        )


@bp.post("/logout")
@operator_required
def logout() -> Response:
    """End the operator session, on the server too (the old cookie no longer works)."""
    operators.end_session(services(), session.get("sid"))
    logger.info("operator %s logged out", g.operator, extra={"action": "operator_logout"})
    session.clear()
    return redirect(url_for("admin.login"))  # type: ignore[return-value]


@bp.get("/")
@operator_required
def dashboard() -> str:
    """At-a-glance state of the service."""
    db = services().db
    size = course_store.catalogue_size(db)
    return render_template(
        "admin/dashboard.html",
        platforms=dict(
            Counter(p.status for p in platform_ops.list_platforms(db) if p.source != platform_ops.PREVIEW_SOURCE)
        ),
        courses=size.courses,
        versions=size.versions,
        keys=services().keys.list(),
        csrf=csrf_token(),
    )


@bp.get("/packages")
@operator_required
def packages() -> str:
    """The catalogue and the upload form."""
    return _packages_page()


def _packages_page(*, notice: str | None = None, error: str | None = None, status: int = 200) -> Any:
    query = request.args.get("q", "")
    page = render_template(
        "admin/packages.html",
        courses=catalogue.search(services(), query),
        q=query,
        csrf=csrf_token(),
        max_bytes=services().settings.packages.max_total_bytes,
        notice=notice,
        error=error,
    )
    return page if status == 200 else (page, status)


@bp.post("/packages/<int:course_id>/title")
@operator_required
def set_title(course_id: int) -> Any:
    """Set or clear a course's display title (what the LMS sees); the package title stays.

    :raise 400: the title is too long or has control characters (page shown again with the reason).
    :raise 404: no such course.
    """
    try:
        summary = catalogue.set_display_title(services(), str(course_id), request.form.get("display_title", ""))
    except catalogue.CourseNotFound as exc:
        raise AppError(str(exc), code=exc.code, status=404) from exc
    except catalogue.InvalidTitle as exc:
        return _packages_page(error=f"Course {course_id}: {exc}", status=400)
    logger.info(
        "operator %s set the display title of course %s",
        session.get("operator"),
        course_id,
        extra={"action": "course_display_title"},
    )
    return redirect(url_for("admin.packages", saved=summary.course_id))


@bp.post("/packages/upload")
@operator_required
def upload() -> tuple[Response, int]:
    """Import one uploaded package; answers JSON for the page's progress display.

    :raise 400: no file, or the package is refused (code, message, file, element, rule).
    """
    request.max_content_length = services().settings.packages.max_total_bytes
    upload = request.files.get("package")
    if upload is None or not upload.filename:
        return jsonify({"error": "no_file", "message": i18n.localised("no_file", None)}), 400
    name = Path(upload.filename).name or "package.zip"
    with tempfile.TemporaryDirectory(prefix="cbsi-upload-") as tmp:
        path = Path(tmp) / name
        upload.save(path)
        try:
            outcome = catalogue.import_package(
                services(), path, course_key=request.form.get("course") or None, imported_by=g.operator
            )
        except PackageError as exc:
            return jsonify({"error": exc.code, **i18n.package_report(exc)}), 400
        except catalogue.CatalogueError as exc:
            return jsonify({"error": exc.code, "message": str(exc)}), 400
    return jsonify(
        {"result": outcome.status, **outcome.__dict__, "warnings": i18n.package_warnings(outcome.warnings)}
    ), 200


def init_app(app: Flask) -> None:
    """Register the blueprint with the console's pages, and the locale-aware template filters."""
    # their routes are on bp (the console's Preview button is lti_tool.web.preview's)
    from lti_tool.web import console, console_forwarding, console_report, formatting, preview  # noqa: F401

    formatting.init_app(app)
    app.register_blueprint(bp)

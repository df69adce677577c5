"""Operator pages: login, dashboard, catalogue with package upload.

Operators log in with a username and an scrypt-hashed password (``cbsi-connect operators add``);
every state-changing request carries a CSRF token bound to the session.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from lti_tool import catalogue, operators
from lti_tool.errors import AppError, Forbidden
from lti_tool.storage.models import Course, CourseVersion, Platform
from lti_tool.web import services
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
        if not session.get("operator"):
            if request.method != "GET" or request.accept_mimetypes.best == "application/json":
                raise AppError("log in as an operator first", code="login_required", status=401)
            return redirect(url_for("admin.login", next=request.path))
        if request.method == "POST":
            check_csrf()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Operator login form."""
    error = None
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "").strip()
        if operators.authenticate(services(), username, request.form.get("password", "")):
            session.clear()
            session["operator"] = username
            session["csrf"] = secrets.token_urlsafe(32)
            logger.info("operator %s logged in", username, extra={"action": "operator_login"})
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/admin") else url_for("admin.dashboard"))
        error = "Wrong username or password."
        logger.warning("failed operator login for %r", username[:60], extra={"action": "operator_login_failed"})
    return render_template("admin/login.html", error=error, csrf=csrf_token()), 401 if error else 200


@bp.post("/logout")
@operator_required
def logout() -> Response:
    """End the operator session."""
    session.clear()
    return redirect(url_for("admin.login"))  # type: ignore[return-value]


@bp.get("/")
@operator_required
def dashboard() -> str:
    """At-a-glance state of the service."""
    with services().db.session() as s:
        platforms = s.execute(select(Platform.status, func.count()).group_by(Platform.status)).all()
        courses = s.scalar(select(func.count()).select_from(Course)) or 0
        versions = s.scalar(select(func.count()).select_from(CourseVersion)) or 0
    return render_template(
        "admin/dashboard.html",
        platforms=dict(platforms),
        courses=courses,
        versions=versions,
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
        return jsonify({"error": "no_file", "message": "choose a package file to upload"}), 400
    name = Path(upload.filename).name or "package.zip"
    with tempfile.TemporaryDirectory(prefix="cbsi-upload-") as tmp:
        path = Path(tmp) / name
        upload.save(path)
        try:
            outcome = catalogue.import_package(
                services(), path, course_key=request.form.get("course") or None, imported_by=session["operator"]
            )
        except PackageError as exc:
            return jsonify({"error": exc.code, **exc.as_dict()}), 400
        except catalogue.CatalogueError as exc:
            return jsonify({"error": exc.code, "message": str(exc)}), 400
    return jsonify({"result": outcome.status, **outcome.__dict__}), 200


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)

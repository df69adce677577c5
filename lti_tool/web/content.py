"""Package files under the content origin: signed prefix, safe paths, MIME types, ranges."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, send_file

from lti_tool.content import ContentAccessDenied, ContentGrant, ContentSigner, content_type, resolve_package_file
from lti_tool.services import services_of
from lti_tool.storage import courses
from lti_tool.web import services

bp = Blueprint("content", __name__)


def signer() -> ContentSigner:
    """The content signer of the running app (``Services.content_signer``)."""
    return services().content_signer


def set_access_check(app: Flask, check: Callable[[ContentGrant], bool]) -> None:
    """Install the check that a token's subject (attempt) still owns its package version.

    It replaces any earlier check (``Services.content_checks``).
    """
    services_of(app).content_checks[:] = [check]


def content_base_url(version_id: int, subject: str) -> str:
    """The URL prefix (ending in ``/``) under which a player loads one package version."""
    return f"{services().settings.content_origin}/{signer().sign(version_id, subject)}/"


@bp.get("/content/<token>/<path:subpath>")
def package_file(token: str, subpath: str) -> Response:
    """Serve one file of the package the token grants.

    :raise 403: tampered, expired or foreign token; ``platform_disabled`` when the attempt's or
        launch's platform was disabled (within ``lti.platform_status_cache_seconds``).
    :raise 404: path outside the package, symlink, or missing file.
    """
    grant = signer().verify(token)
    from lti_tool.web.security import platform_gate

    platform_gate().check_subject(grant.subject)

    if not all(still_allowed(grant) for still_allowed in services().content_checks):
        raise ContentAccessDenied()
    content_dir = courses.content_dir(services().db, grant.version_id)
    if content_dir is None:
        raise ContentAccessDenied()
    root = services().settings.content_path / content_dir
    path = resolve_package_file(root, subpath)
    response = send_file(path, mimetype=content_type(path.name), conditional=True, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)

"""CBSI-Connect web application: the LTI 1.3 tool, player, runtime API and admin pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from lti_tool.logging_setup import configure_logging
from lti_tool.services import Services, attach, build_services, services_of
from lti_tool.settings import Settings, load_settings

__all__ = ["create_app", "services_of"]


def create_app(
    settings: Settings | None = None,
    *,
    test_config: Mapping[str, Mapping[str, Any]] | None = None,
    services: Services | None = None,
    check_schema: bool = True,
) -> Flask:
    """Build the web application.

    Args:
        settings: validated settings; loaded from ``$CBSI_CONNECT_CONFIG`` and the
            environment when omitted.
        test_config: overrides applied on top of the loaded settings (tests).
        services: pre-built services (tests share one database between app and fixtures).
        check_schema: refuse to start on a database that is not migrated.

    Raises:
        lti_tool.settings.SettingsError: invalid configuration.
        lti_tool.storage.SchemaNotReadyError: the database needs ``cbsi-connect db upgrade``.
    """
    if settings is None:
        settings = load_settings(overrides=test_config)
    services = services or build_services(settings)
    configure_logging(settings.server.log_level, settings.server.log_format)
    if check_schema:
        services.db.check_migrated()

    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=services.secret_key,
        MAX_CONTENT_LENGTH=settings.server.max_request_bytes,
        SESSION_COOKIE_SECURE=settings.server.base_url.startswith("https://"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PREFERRED_URL_SCHEME="https" if settings.server.base_url.startswith("https://") else "http",
    )
    attach(app, services)  # views read it with lti_tool.web.services(), code with services_of(app)

    from lti_tool import observability

    observability.init_app(app)  # first: request id and timing around every other hook
    from lti_tool.web import admin, content, core, errors, i18n, lti_adv, metrics, player, security

    metrics.init_app(app)
    i18n.init_app(app)  # Flask-Babel: the launch's language, else the browser's, else English
    errors.init_app(app)
    security.init_app(app)  # anti-framing headers, 429 answers, disabled platforms
    core.init_app(app)
    content.init_app(app)
    admin.init_app(app)
    player.init_app(app)  # before lti: the player owns /play/<launch id>
    from lti_tool.web import lti

    lti.init_app(app)
    lti_adv.init_app(app)
    if settings.server.demo:  # the development LMS exists only in demo mode (lti_tool.devlms)
        from lti_tool import devlms

        devlms.install(app, services)
    from lti_tool.lrs import web as lrs_web

    lrs_web.init_app(app)  # the built-in LRS under /xapi/
    from lti_tool.web import cmi5 as cmi5_web

    cmi5_web.init_app(app)  # the cmi5 fetch URL
    from lti_tool.web import preview as preview_web

    preview_web.init_app(app)  # operator preview links (lti_tool.preview)
    from lti_tool.web import commit_fast

    commit_fast.install(app)  # runtime commits answered 200 without Flask's machinery (last: reads the routes)
    return app

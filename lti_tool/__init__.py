"""CBSI-Connect web application: the LTI 1.3 tool, player, runtime API and admin pages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from lti_tool.logging_setup import configure_logging
from lti_tool.services import Services, build_services, demo_secret
from lti_tool.settings import Settings, load_settings

__all__ = ["create_app", "get_services"]


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
    secret = settings.server.secret_key or demo_secret(settings.instance_path)
    app.config.update(
        SECRET_KEY=secret,
        MAX_CONTENT_LENGTH=settings.server.max_request_bytes,
        SESSION_COOKIE_SECURE=settings.server.base_url.startswith("https://"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PREFERRED_URL_SCHEME="https" if settings.server.base_url.startswith("https://") else "http",
    )
    app.extensions["cbsi"] = services

    from lti_tool import grades, observability

    observability.init_app(app)  # first: request id and timing around every other hook
    from lti_tool.web import admin, content, core, errors, lti_adv, metrics, player, security

    grades.install(services)  # outcome_changed → grade outbox, in the commit's transaction
    metrics.init_app(app)
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
    return app


def get_services(app: Flask) -> Services:
    """The services container of ``app``."""
    return app.extensions["cbsi"]

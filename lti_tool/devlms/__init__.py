"""The development LMS and the demo: a package of their own, installed only in demo mode.

What is here:

- ``identity``: the platform's identity (issuer path, client and deployment ids, users, course)
  and its registration in the tool (:func:`identity.ensure_registered`);
- ``state``: its long-lived objects (:class:`state.DevLms`: signing key, tool-key cache, signers);
- ``web`` (pages, OIDC launch, deep linking) and ``web_services`` (token, AGS, NRPS): the
  blueprint under ``/dev/platform``;
- ``models``, ``store``, ``schema`` and ``migrations/``: its three tables, their queries, and
  their own Alembic environment (version table ``devlms_alembic_version``), migrated only in demo
  mode;
- ``seed`` and ``course/``: what ``cbsi-connect demo`` puts in a fresh instance, with the sample
  SCORM 1.2 course.

``lti_tool.create_app`` calls :func:`install` when ``server.demo`` is true, and only then: a
production app has no ``/dev/platform`` routes. Tests that drive the development LMS call
:func:`install` on their test app themselves.
"""

from __future__ import annotations

from flask import Flask

from lti_tool.devlms import schema, state, web, web_services
from lti_tool.devlms.state import DevLms
from lti_tool.services import Services

__all__ = ["DevLms", "install", "migrate"]


def install(app: Flask, services: Services) -> DevLms:
    """Build the development LMS's objects for ``app`` and register its blueprint (before any request).

    The tables must exist (:func:`migrate`: ``cbsi-connect db upgrade`` in demo mode, or
    ``cbsi-connect demo``).
    """
    settings = services.settings
    lms = state.build(
        db=services.db,
        base_url=settings.server.base_url.rstrip("/"),
        instance=settings.instance_path,
        secret=str(app.config["SECRET_KEY"]),
        http=services.http,
    )
    bp = web.blueprint()
    web.register(bp, lms)
    web_services.register(bp, lms)
    app.register_blueprint(bp)
    return lms


def migrate(services: Services) -> None:
    """Create or migrate the development LMS's tables (demo mode only; idempotent)."""
    schema.upgrade(services.db)

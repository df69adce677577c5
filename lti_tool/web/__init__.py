"""Flask blueprints: the only place (with the CLI) that imports Flask."""

from __future__ import annotations

from flask import current_app

from lti_tool.services import Services, services_of


def services() -> Services:
    """The services of the current application (the one accessor views use)."""
    return services_of(current_app)

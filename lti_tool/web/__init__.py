"""Flask blueprints: the only place (with the CLI) that imports Flask."""

from __future__ import annotations

from flask import current_app

from lti_tool.services import Services


def services() -> Services:
    """The services of the current application."""
    return current_app.extensions["cbsi"]

"""Numbers, percentages and dates in the reader's locale, for templates and charts.

Registered as Jinja filters (``|number``, ``|percent``, ``|when``, ``|ago``) by :func:`init_app`;
the chart functions take :func:`number` and :func:`percent` as their formatters. The locale is the
request's (Flask-Babel's selector), so a Spanish reader sees ``1.234,5`` and ``15 %``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_babel import format_datetime, format_decimal, format_percent, gettext


def number(value: float | int | None) -> str:
    """``1,234`` / ``1.234`` / ``1 234`` by locale; a dash for no value."""
    if value is None:
        return "–"
    return format_decimal(value, format="#,##0.#")


def percent(value: float | None) -> str:
    """A 0..1 share as a whole percentage in the reader's locale; a dash for no value."""
    if value is None:
        return "–"
    return format_percent(value, format="#,##0%")


def when(value: datetime | None) -> str:
    """A date and time (UTC, as stored) in the reader's locale; a dash for never."""
    if value is None:
        return "–"
    return format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC), format="medium")


def ago(value: datetime | None, *, now: datetime | None = None) -> str:
    """How long ago, in words of the reader's language (``3 h ago``); a dash for never."""
    if value is None:
        return "–"
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    if seconds < 120:
        return gettext("%(n)s s ago", n=seconds)
    if seconds < 7200:
        return gettext("%(n)s min ago", n=seconds // 60)
    if seconds < 172800:
        return gettext("%(n)s h ago", n=seconds // 3600)
    return gettext("%(n)s days ago", n=seconds // 86400)


def init_app(app: Flask) -> None:
    """Register the filters."""
    app.jinja_env.filters.update(number=number, percent=percent, when=when, ago=ago)

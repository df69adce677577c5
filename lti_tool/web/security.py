"""Cross-cutting request guards: anti-framing headers, 429 answers, disabled platforms.

* Pages no LMS frames (admin pages, the landing page, the manual configuration page) get
  ``Content-Security-Policy: frame-ancestors 'none'`` and ``X-Frame-Options: DENY``. Pages an
  LMS frames are left alone: the launch and its pages (``/lti/launch``, ``/play/…``,
  ``/class/…``, ``/player/…``), the deep-linking picker, Dynamic Registration (Moodle opens it
  in a dialog frame), the login/cookie fallbacks and package content.
* :class:`lti_tool.ratelimit.RateLimited` answers 429 with ``Retry-After``.
* :func:`guard_login` and :func:`guard_registration` bound the rows anonymous requests write.
* Requests addressed to an attempt or a launch of a disabled platform are refused with 403
  ``platform_disabled`` (``lti_tool.lti.gate.PlatformGate``), before the view reads the body.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request

from lti_tool import ratelimit
from lti_tool.lti.gate import PlatformGate
from lti_tool.lti.launches import LoginBudget
from lti_tool.lti.platforms import registrations as pending_registrations
from lti_tool.ratelimit import RateLimited, client_address
from lti_tool.storage.models import utcnow
from lti_tool.web import services

logger = logging.getLogger(__name__)
LOGIN_FULL_RETRY_SECONDS = 60


class ServiceBusy(RateLimited):
    """The service is busy: try again in a moment."""

    code = "service_busy"
    status = 503


NOT_FRAMED_ENDPOINTS = frozenset({"core.index", "lti.config"})
"""Endpoints outside the admin blueprint that no LMS frames."""

_DENY_FRAMING = "frame-ancestors 'none'"


def client_ip() -> str:
    """The client's address (``X-Forwarded-For`` only from ``server.trusted_proxies``)."""
    return client_address(
        request.remote_addr, request.headers.get("X-Forwarded-For"), services().settings.server.trusted_proxies
    )


def platform_gate() -> PlatformGate:
    """The app's platform status gate."""
    gate: PlatformGate = services().platform_gate
    return gate


def _not_framed() -> bool:
    endpoint = request.endpoint or ""
    return endpoint.startswith("admin.") or endpoint in NOT_FRAMED_ENDPOINTS


def deny_framing(response: Response) -> Response:
    """Add the anti-framing headers (kept with any CSP the view set)."""
    csp = response.headers.get("Content-Security-Policy")
    if not csp:
        response.headers["Content-Security-Policy"] = _DENY_FRAMING
    elif "frame-ancestors" not in csp:
        response.headers["Content-Security-Policy"] = f"{csp.rstrip('; ')}; {_DENY_FRAMING}"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _check_platform() -> None:
    """Refuse pages and runtime calls of an attempt or launch whose platform is disabled."""
    args = request.view_args or {}
    gate = platform_gate()
    attempt_id = args.get("attempt_id")
    if isinstance(attempt_id, str):
        gate.check_attempt(attempt_id)
    launch_id = args.get("launch_id")
    if isinstance(launch_id, str):
        gate.check_launch(launch_id)


def guard_login() -> None:
    """Bound what anonymous ``/lti/login`` requests write: per client address, and in total.

    Raises:
        RateLimited: 429 past ``lti.login_rate_per_minute`` from one address.
        ServiceBusy: 503 ``login_capacity`` when the login table holds ``lti.max_open_logins`` rows.
    """
    settings = services().settings
    address = client_ip()
    ratelimit.enforce(
        services().db,
        "lti-login:" + address,
        limit=settings.lti.login_rate_per_minute,
        window_seconds=60,
        what="LTI login requests",
    )
    budget: LoginBudget = services().login_budget
    if not budget.admit(now=utcnow()):
        logger.warning(
            "login refused: %d login states stored (lti.max_open_logins)",
            budget.cap,
            extra={"action": "login_capacity"},
        )
        raise ServiceBusy(
            "the tool is receiving too many logins right now; open the activity again in a minute",
            code="login_capacity",
            retry_after=LOGIN_FULL_RETRY_SECONDS,
        )


def guard_registration() -> None:
    """Bound what anonymous ``/lti/register`` requests cost: per client address, and pending rows.

    Pending Dynamic Registrations older than ``lti.pending_registration_ttl_seconds`` are
    forgotten first.

    Raises:
        RateLimited: 429 past ``lti.register_rate_per_hour`` from one address.
        ServiceBusy: 503 ``too_many_pending_registrations`` at ``lti.max_pending_registrations``.
    """
    settings, db = services().settings, services().db
    ratelimit.enforce(
        db,
        "lti-register:" + client_ip(),
        limit=settings.lti.register_rate_per_hour,
        window_seconds=3600,
        what="registration requests",
    )
    pending_registrations.purge_stale_pending(
        db, older_than=pending_registrations.pending_cutoff(utcnow(), settings.lti.pending_registration_ttl_seconds)
    )
    pending = pending_registrations.count_pending(db)
    if pending >= settings.lti.max_pending_registrations:
        logger.warning(
            "dynamic registration refused: %d registrations await approval", pending, extra={"action": "pending_cap"}
        )
        raise ServiceBusy(
            f"{pending} registrations already await approval by the CBSI-Connect operator; ask them to approve "
            "or remove them ('cbsi-connect platforms list'), then register again",
            code="too_many_pending_registrations",
            retry_after=3600,
        )


def init_app(app: Flask) -> None:
    """Install the hooks and the 429 handler (the gate and the login budget are ``Services`` fields)."""
    app.before_request(_check_platform)

    @app.after_request
    def _headers(response: Response) -> Response:
        if _not_framed():
            deny_framing(response)
        return response

    @app.errorhandler(RateLimited)
    def _rate_limited(exc: RateLimited) -> Response:
        from lti_tool.web.errors import error_response

        response = error_response(exc.status, exc.code, exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
        if _not_framed():
            deny_framing(response)
        return response

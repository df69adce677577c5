"""Cross-cutting request guards: anti-framing headers, 429 answers, disabled platforms.

* Pages no LMS frames (admin pages, the landing page, the manual configuration page) get
  ``Content-Security-Policy: frame-ancestors 'none'`` and ``X-Frame-Options: DENY``. Pages an
  LMS frames are left alone: the launch and its pages (``/lti/launch``, ``/play/…``,
  ``/class/…``, ``/player/…``), the deep-linking picker, Dynamic Registration (Moodle opens it
  in a dialog frame), the login/cookie fallbacks and package content.
* :class:`lti_tool.ratelimit.RateLimited` answers 429 with ``Retry-After``.
* Requests addressed to an attempt or a launch of a disabled platform are refused with 403
  ``platform_disabled`` (``lti_tool.lti.platforms.PlatformGate``), before the view reads the body.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

from lti_tool.lti.platforms import PlatformGate
from lti_tool.ratelimit import RateLimited, client_address
from lti_tool.web import services

GATE_EXTENSION = "cbsi_platform_gate"

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
    gate: PlatformGate = current_app.extensions[GATE_EXTENSION]
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


def init_app(app: Flask) -> None:
    """Install the gate, the hooks and the 429 handler."""
    settings = app.extensions["cbsi"].settings
    app.extensions[GATE_EXTENSION] = PlatformGate(
        app.extensions["cbsi"].db, ttl_seconds=settings.lti.platform_status_cache_seconds
    )
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

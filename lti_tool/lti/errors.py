"""LTI errors: one base, one subclass per failure kind, each with a stable code and HTTP status.

Messages are written for the person who sees them (a learner in an LMS frame, or the LMS
administrator reading the code they were sent) and say what to do next.
"""

from __future__ import annotations

from lti_tool.errors import AppError


class LtiError(AppError):
    """The LTI request could not be accepted."""

    code = "lti_error"
    status = 400


class LaunchRejected(LtiError):
    """This launch was refused. Go back to your course and open the activity again."""

    code = "launch_rejected"
    status = 400


class AuthenticationFailed(LaunchRejected):
    """The launch could not be authenticated. Go back to your course and open the activity again."""

    code = "launch_not_authenticated"
    status = 401


class TenantRefused(LaunchRejected):
    """Your LMS is not allowed to launch this tool yet. Ask your LMS administrator."""

    code = "tenant_refused"
    status = 403


class KeySetUnavailable(LaunchRejected):
    """The LMS's public keys could not be fetched. Try again in a minute; if it persists, tell your LMS admin."""

    code = "jwks_unavailable"
    status = 502


class LoginRejected(LtiError):
    """The LMS's login request is incomplete or names an unknown platform."""

    code = "login_rejected"
    status = 400


class LaunchSessionError(LtiError):
    """Your session for this activity has ended. Go back to your course and open the activity again."""

    code = "launch_session_invalid"
    status = 401


class PlatformAdminError(Exception):
    """A platform registration command failed; ``code`` is stable, the message says what to fix."""

    code = "platform_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

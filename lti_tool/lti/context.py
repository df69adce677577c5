"""The contract between the launch validator and whatever handles a validated launch.

``/lti/launch`` validates the id_token (``lti_tool.lti.validation``), stores a :class:`Launch`
server side and hands it to the handler registered for its message type in the application's
:class:`LaunchHandlers`. Handlers live in their own modules (resource link → player or class
view; deep linking → catalogue picker) and register from their blueprint's ``init_app``. A
handler returns a :data:`LaunchResult` (a redirect or a page), never a framework response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.lti_claims import AGS_CLAIM_ENDPOINT, DL_CLAIM_SETTINGS, NRPS_CLAIM, ROLE_PREFIXES

INSTRUCTOR_ROLES = frozenset({"Instructor", "TeachingAssistant", "ContentDeveloper", "Mentor"})
ADMIN_ROLES = frozenset({"Administrator", "SysAdmin"})


def short_role(role: str) -> str:
    """``http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor`` → ``Instructor``.

    Sub-roles (``membership/Instructor#TeachingAssistant``) keep their last fragment.
    """
    for prefix in ROLE_PREFIXES:
        if role.startswith(prefix):
            return role[len(prefix) :]
    if "#" in role:
        return role.rsplit("#", 1)[1]
    return role


@dataclass(frozen=True, kw_only=True)
class Launch:
    """A validated LTI launch, as stored server side (``lti_launches`` table).

    ``claims`` is the full validated id_token payload; the other fields are the parts
    every handler needs.
    """

    id: str
    platform_id: int
    issuer: str
    client_id: str
    deployment_id: str
    message_type: str
    sub: str | None
    roles: tuple[str, ...] = ()
    context_id: str | None = None
    context_title: str | None = None
    resource_link_id: str | None = None
    resource_link_title: str | None = None
    name: str | None = None
    email: str | None = None
    custom: Mapping[str, Any] = field(default_factory=dict)
    claims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def short_roles(self) -> frozenset[str]:
        """Roles without their vocabulary prefix."""
        return frozenset(short_role(r) for r in self.roles)

    @property
    def membership_roles(self) -> frozenset[str]:
        """Context (course) roles: they take precedence over institution roles (Canvas sends both)."""
        prefix = ROLE_PREFIXES[0]
        out = {r[len(prefix) :].split("#")[-1] for r in self.roles if r.startswith(prefix)}
        out |= {r for r in self.roles if "/" not in r and "#" not in r}  # short forms count as context roles
        return frozenset(out)

    @property
    def is_instructor(self) -> bool:
        """Teaches the context (Instructor, TA, content developer, mentor)."""
        roles = self.membership_roles or self.short_roles
        return bool(roles & INSTRUCTOR_ROLES)

    @property
    def is_admin(self) -> bool:
        """Administrator of the context or the platform."""
        return bool(self.short_roles & ADMIN_ROLES)

    @property
    def is_learner(self) -> bool:
        """Everyone who is neither instructor nor admin plays the course as a learner."""
        return not (self.is_instructor or self.is_admin)

    @property
    def ags(self) -> Mapping[str, Any]:
        """The AGS endpoint claim (``lineitem``, ``lineitems``, ``scope``) or empty."""
        return self.claims.get(AGS_CLAIM_ENDPOINT) or {}

    @property
    def nrps(self) -> Mapping[str, Any]:
        """The NRPS claim (``context_memberships_url``) or empty."""
        return self.claims.get(NRPS_CLAIM) or {}

    @property
    def deep_linking_settings(self) -> Mapping[str, Any]:
        """The deep linking settings claim or empty."""
        return self.claims.get(DL_CLAIM_SETTINGS) or {}


@dataclass(frozen=True)
class LaunchRedirect:
    """A handler's answer: send the browser to ``location`` (303 after the launch POST)."""

    location: str
    status: int = 303


@dataclass(frozen=True)
class LaunchPage:
    """A handler's answer: this HTML page, with these response headers."""

    html: str
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


#: What a launch handler returns; the web layer turns it into an HTTP response.
LaunchResult = LaunchRedirect | LaunchPage
LaunchHandler = Callable[[Launch], LaunchResult]


class LaunchHandlers:
    """The handlers of one application, by message type (built by ``lti_tool.services.build_services``).

    Blueprints register their handler from ``init_app``; two applications in one process (tests,
    a demo beside the tool) each have their own registry.
    """

    def __init__(self) -> None:
        self._by_type: dict[str, LaunchHandler] = {}

    def register(self, message_type: str, handler: LaunchHandler) -> None:
        """Route validated launches of ``message_type`` to ``handler`` (replaces an earlier one)."""
        self._by_type[message_type] = handler

    def unregister(self, message_type: str) -> None:
        """Stop accepting ``message_type`` (nothing happens when it has no handler)."""
        self._by_type.pop(message_type, None)

    def handler_for(self, message_type: str) -> LaunchHandler | None:
        """The handler registered for ``message_type``, if any."""
        return self._by_type.get(message_type)

    def message_types(self) -> frozenset[str]:
        """Every message type with a registered handler (the launch validator accepts only these)."""
        return frozenset(self._by_type)

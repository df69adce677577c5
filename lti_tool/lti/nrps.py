"""Names and Role Provisioning Services 2.0: pull the roster of a launch's course.

1EdTech NRPS 2.0: ``GET context_memberships_url`` with
``Accept: application/vnd.ims.lti-nrps.v2.membershipcontainer+json`` and a bearer token for the
``contextmembership.readonly`` scope. Results are paged with ``Link: <…>; rel="next"`` (§2.4.2);
``rel="differences"`` is ignored (we always read the full list). We ask for the resource-link
level first (``rlid``, §3.2: only members who can access the link) and fall back to the
context level when the platform does not support it.

Rosters are cached per (platform, deployment, context, resource link) in ``roster_cache`` for a
TTL so an instructor dashboard does not hit the LMS on every page view.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lti_tool.errors import AppError
from lti_tool.lti import platforms
from lti_tool.lti.context import Launch
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.lti.tokens import ServiceTokens, ServiceUrlNotRegistered, TokenError
from lti_tool.storage import Database
from lti_tool.storage.models import PlatformStatus, RosterCache, utcnow
from sync.lti_claims import NRPS_MEDIA_TYPE, SCOPE_NRPS

logger = logging.getLogger(__name__)

MAX_PAGES = 500
#: HTTP answers to an ``rlid`` request that mean "not supported here": fall back to the context level.
RLID_FALLBACK_STATUSES = frozenset({400, 404, 405, 422, 501})


class NrpsError(AppError):
    """The course roster could not be read from the LMS."""

    code = "nrps_error"
    status = 502


class NrpsNotAvailable(NrpsError):
    """This launch carries no Names and Role service: enable it for the tool in the LMS."""

    code = "nrps_not_available"
    status = 409


class NrpsRequestFailed(NrpsError):
    """The LMS refused or failed the roster request."""

    code = "nrps_request_failed"

    def __init__(self, message: str, *, http_status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.transient = transient


class NrpsUrlRefused(NrpsError):
    """The launch's roster URL is not on the LMS's registered hosts; the roster was not requested."""

    code = "service_url_refused"
    message_key = "roster_url_refused"


class NrpsResponseInvalid(NrpsError):
    """The LMS answered with something that is not a membership container."""

    code = "nrps_response_invalid"


@dataclass(frozen=True, kw_only=True)
class Member:
    """One member of the roster (NRPS §2.3). Only ``user_id`` and ``roles`` are guaranteed."""

    user_id: str
    status: str = "Active"
    name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    roles: tuple[str, ...] = ()

    @property
    def is_active(self) -> bool:
        """``status`` absent or ``Active`` (NRPS §2.3: Inactive/Deleted members stay listed)."""
        return self.status == "Active"


@dataclass(frozen=True, kw_only=True)
class Roster:
    """The members of a course as the LMS reported them."""

    platform_id: int
    deployment_id: str
    context_id: str
    context_title: str | None
    level: str
    members: tuple[Member, ...]
    fetched_at: datetime
    from_cache: bool = False

    @property
    def active_members(self) -> tuple[Member, ...]:
        """Members whose status is Active."""
        return tuple(m for m in self.members if m.is_active)


def parse_member(raw: Mapping[str, Any]) -> Member | None:
    """One member entry to :class:`Member`; ``None`` when it has no ``user_id`` (skipped)."""
    user_id = raw.get("user_id")
    if not isinstance(user_id, str | int) or isinstance(user_id, bool) or str(user_id) == "":
        return None

    def text(name: str) -> str | None:
        value = raw.get(name)
        return value if isinstance(value, str) and value else None

    roles = raw.get("roles")
    return Member(
        user_id=str(user_id),
        status=text("status") or "Active",
        name=text("name"),
        given_name=text("given_name"),
        family_name=text("family_name"),
        email=text("email"),
        roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
    )


def with_query(url: str, **params: str) -> str:
    """Add query parameters to a URL that may already carry some (Moodle's do)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query.extend(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _member_to_json(member: Member) -> dict[str, Any]:
    return {
        "user_id": member.user_id,
        "status": member.status,
        "name": member.name,
        "given_name": member.given_name,
        "family_name": member.family_name,
        "email": member.email,
        "roles": list(member.roles),
    }


class RosterClient:
    """Read rosters through NRPS with a database cache.

    Args:
        db: storage (``platforms``, ``roster_cache``).
        tokens: service tokens (scope ``contextmembership.readonly``).
        ttl_seconds: how long a pulled roster is reused.
        clock: current UTC time.
    """

    def __init__(
        self,
        db: Database,
        tokens: ServiceTokens,
        *,
        ttl_seconds: int = 900,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.tokens = tokens
        self.ttl = timedelta(seconds=ttl_seconds)
        self.clock = clock

    def get_roster(self, launch: Launch, *, refresh: bool = False) -> Roster:
        """The roster of ``launch``'s context: resource-link level first, context level as fallback.

        Args:
            launch: a validated launch carrying the NRPS claim.
            refresh: ignore the cache.

        Raises:
            NrpsNotAvailable: no NRPS claim or no context in the launch.
            NrpsRequestFailed: the LMS refused the request, or no service token could be had.
            NrpsResponseInvalid: the answer was not a membership container.
        """
        url = launch.nrps.get("context_memberships_url")
        if not isinstance(url, str) or not url or not launch.context_id:
            raise NrpsNotAvailable()
        link_key = launch.resource_link_id or ""
        now = self.clock()
        if not refresh:
            cached = self._cached(launch, link_key, now)
            if cached is not None:
                return cached
        platform = platforms.find_platform(self.db, launch.platform_id)
        if platform is None or platform.status == PlatformStatus.DISABLED:
            raise NrpsNotAvailable("the platform of this launch is no longer registered or was disabled")
        level = "context"
        container: dict[str, Any] | None = None
        if launch.resource_link_id:
            container = self._fetch_all(platform, with_query(url, rlid=launch.resource_link_id), fallback_ok=True)
            if container is not None:
                level = "resource_link"
        if container is None:
            container = self._fetch_all(platform, url, fallback_ok=False)
            if container is None:  # pragma: no cover - fallback_ok=False never returns None
                raise NrpsResponseInvalid()
        members = tuple(m for m in (parse_member(r) for r in container["members"]) if m is not None)
        context = container.get("context") if isinstance(container.get("context"), Mapping) else {}
        roster = Roster(
            platform_id=launch.platform_id,
            deployment_id=launch.deployment_id,
            context_id=launch.context_id,
            context_title=(context or {}).get("title") or launch.context_title,
            level=level,
            members=members,
            fetched_at=now,
        )
        self._store(roster, link_key, dict(context or {}))
        logger.info(
            "roster pulled from %s: %d members (%s level)",
            platform.issuer,
            len(members),
            level,
            extra={"action": "nrps_roster_pulled"},
        )
        return roster

    def purge_expired(self) -> int:
        """Delete expired rosters (names and e-mails are not kept past their TTL); returns how many."""
        with self.db.session() as s:
            result = s.execute(delete(RosterCache).where(RosterCache.expires_at <= self.clock()))
        return int(getattr(result, "rowcount", 0) or 0)

    # -- HTTP ------------------------------------------------------------------------------

    def _fetch_all(self, platform: PlatformInfo, first_url: str, *, fallback_ok: bool) -> dict[str, Any] | None:
        members: list[Any] = []
        context: Any = None
        url: str | None = first_url
        seen: set[str] = set()
        pages = 0
        while url:
            if url in seen or pages >= MAX_PAGES:
                raise NrpsResponseInvalid(f"the roster from {platform.issuer} pages in a loop or never ends")
            seen.add(url)
            pages += 1
            try:
                response = self.tokens.authorized_request(
                    "GET", url, platform=platform, scopes=[SCOPE_NRPS], headers={"Accept": NRPS_MEDIA_TYPE}
                )
            except ServiceUrlNotRegistered as exc:
                raise NrpsUrlRefused(exc.message) from exc
            except TokenError as exc:
                raise NrpsRequestFailed(
                    f"no roster access token: {exc.message}", transient=getattr(exc, "transient", False)
                ) from exc
            except requests.Timeout as exc:
                raise NrpsRequestFailed(f"{platform.issuer} did not send the roster in time", transient=True) from exc
            except requests.RequestException as exc:
                kind = getattr(exc, "kind", None)
                detail = str(exc) if isinstance(kind, str) else exc.__class__.__name__
                raise NrpsRequestFailed(
                    f"{platform.issuer} could not be reached for the roster ({detail})",
                    transient=kind != "refused_address",
                ) from exc
            if response.status_code != 200:
                if fallback_ok and pages == 1 and response.status_code in RLID_FALLBACK_STATUSES:
                    return None
                raise NrpsRequestFailed(
                    f"{platform.issuer} answered HTTP {response.status_code} to the roster request"
                    + (
                        "; check that the tool may share the roster (NRPS) in the LMS"
                        if response.status_code in {401, 403}
                        else ""
                    ),
                    http_status=response.status_code,
                    transient=response.status_code >= 500 or response.status_code == 429,
                )
            try:
                body = response.json()
            except ValueError as exc:
                raise NrpsResponseInvalid(f"the roster from {platform.issuer} is not JSON") from exc
            if not isinstance(body, Mapping) or not isinstance(body.get("members"), list):
                raise NrpsResponseInvalid(f"the roster from {platform.issuer} has no members list")
            members.extend(m for m in body["members"] if isinstance(m, Mapping))
            if context is None:
                context = body.get("context")
            url = response.links.get("next", {}).get("url")
            if url and _origin(url) != _origin(first_url):
                # The bearer token must never be sent to another host than the one the launch named.
                raise NrpsResponseInvalid(f"the roster from {platform.issuer} pages to another host ({_origin(url)})")
        return {"context": context, "members": members}

    # -- cache -----------------------------------------------------------------------------

    def _cached(self, launch: Launch, link_key: str, now: datetime) -> Roster | None:
        with self.db.session() as s:
            row = _cache_row(s, launch.platform_id, launch.deployment_id, launch.context_id, link_key)
            if row is None or row.expires_at <= now:
                return None
            members = tuple(m for m in (parse_member(r) for r in row.members) if m is not None)
            return Roster(
                platform_id=row.platform_id,
                deployment_id=row.deployment_id,
                context_id=row.context_id,
                context_title=row.context.get("title") or launch.context_title,
                level=row.level,
                members=members,
                fetched_at=row.fetched_at,
                from_cache=True,
            )

    def _store(self, roster: Roster, link_key: str, context: dict[str, Any]) -> None:
        values = {
            "level": roster.level,
            "context": context,
            "members": [_member_to_json(m) for m in roster.members],
            "fetched_at": roster.fetched_at,
            "expires_at": roster.fetched_at + self.ttl,
        }
        with self.db.session() as s:
            row = _cache_row(s, roster.platform_id, roster.deployment_id, roster.context_id, link_key)
            if row is None:
                s.add(
                    RosterCache(
                        platform_id=roster.platform_id,
                        deployment_id=roster.deployment_id,
                        context_id=roster.context_id,
                        link_key=link_key,
                        **values,
                    )
                )
            else:
                for name, value in values.items():
                    setattr(row, name, value)


def _cache_row(
    s: Session, platform_id: int, deployment_id: str, context_id: str | None, link_key: str
) -> RosterCache | None:
    """The cached roster of one context (and resource link), if any."""
    return s.scalars(
        select(RosterCache).where(
            RosterCache.platform_id == platform_id,
            RosterCache.deployment_id == deployment_id,
            RosterCache.context_id == context_id,
            RosterCache.link_key == link_key,
        )
    ).first()

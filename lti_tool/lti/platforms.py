"""Tenants: platform registrations (issuer + client_id) and their deployment ids.

Plain functions over the database; ``lti_tool.cli_platforms`` wraps them as
``cbsi-connect platforms ...`` commands. A platform is ``pending`` until an operator approves
it, ``active`` while it may launch, ``disabled`` when launches are refused (DESIGN.md §7).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lti_tool import audit
from lti_tool.errors import AppError
from lti_tool.lti.errors import PlatformAdminError
from lti_tool.storage import Database
from lti_tool.storage.models import Attempt, Deployment, LearnerRegistration, LtiLaunch, Platform, PlatformStatus

logger = logging.getLogger(__name__)

_generation = [0]


def generation() -> int:
    """A counter bumped by every registration change made in this process (cache invalidation)."""
    return _generation[0]


def _changed() -> None:
    _generation[0] += 1


def registrations_changed() -> None:
    """Tell this process's caches that a registration changed (Dynamic Registration, updates)."""
    _changed()


@dataclass(frozen=True, kw_only=True)
class PlatformInfo:
    """One platform registration as the launch path and the CLI see it."""

    id: int
    issuer: str
    client_id: str
    name: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str | None
    status: str
    source: str
    deployments: tuple[str, ...]
    created_at: datetime
    #: When a launch from this registration was last accepted (updated at most once a minute).
    last_launch_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        """May launch."""
        return self.status == PlatformStatus.ACTIVE.value


def _info(p: Platform) -> PlatformInfo:
    return PlatformInfo(
        id=p.id,
        issuer=p.issuer,
        client_id=p.client_id,
        name=p.name,
        auth_login_url=p.auth_login_url,
        auth_token_url=p.auth_token_url,
        key_set_url=p.key_set_url,
        auth_audience=p.auth_audience,
        status=p.status,
        source=p.source,
        deployments=tuple(d.deployment_id for d in p.deployments),
        created_at=p.created_at,
        last_launch_at=p.last_launch_at,
    )


def _check_url(option: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PlatformAdminError(f"{option} must be an absolute http(s) URL, got {value!r}", code="invalid_url")
    return value


def add_platform(
    db: Database,
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    name: str = "",
    deployment_ids: tuple[str, ...] = (),
    approve: bool = False,
    auth_audience: str | None = None,
    source: str = "manual",
) -> PlatformInfo:
    """Register a platform (status ``pending`` unless ``approve``).

    Raises:
        PlatformAdminError: ``platform_exists`` for a duplicate issuer + client_id,
            ``invalid_url`` / ``invalid_value`` for bad input.
    """
    if not issuer.strip() or not client_id.strip():
        raise PlatformAdminError("--issuer and --client-id must not be empty", code="invalid_value")
    for option, value in (
        ("--issuer", issuer),
        ("--auth-login-url", auth_login_url),
        ("--auth-token-url", auth_token_url),
        ("--key-set-url", key_set_url),
    ):
        _check_url(option, value)
    deployments = tuple(dict.fromkeys(d.strip() for d in deployment_ids if d.strip()))
    platform = Platform(
        issuer=issuer,
        client_id=client_id,
        name=name or urlsplit(issuer).netloc,
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        key_set_url=key_set_url,
        auth_audience=auth_audience,
        status=(PlatformStatus.ACTIVE if approve else PlatformStatus.PENDING).value,
        source=source,
        details={},
        deployments=[Deployment(deployment_id=d) for d in deployments],
    )
    try:
        with db.session() as s:
            s.add(platform)
            s.flush()
            info = _info(platform)
    except IntegrityError as exc:
        raise PlatformAdminError(
            f"a platform with issuer {issuer} and client id {client_id} exists already "
            "(see 'cbsi-connect platforms list')",
            code="platform_exists",
        ) from exc
    _changed()
    logger.info("platform %s registered (%s)", info.id, info.status, extra={"action": "platform_added"})
    return info


def list_platforms(db: Database) -> list[PlatformInfo]:
    """Every platform, oldest first."""
    with db.session() as s:
        rows = s.scalars(select(Platform).options(selectinload(Platform.deployments)).order_by(Platform.id)).all()
        return [_info(p) for p in rows]


def get_platform(db: Database, platform_id: int) -> PlatformInfo:
    """One platform.

    Raises:
        PlatformAdminError: ``platform_not_found``.
    """
    with db.session() as s:
        p = s.get(Platform, platform_id, options=[selectinload(Platform.deployments)])
        if p is None:
            raise PlatformAdminError(
                f"no platform with id {platform_id} (see 'cbsi-connect platforms list')", code="platform_not_found"
            )
        return _info(p)


STATUS_ACTIONS = {
    PlatformStatus.ACTIVE: "platforms.approve",
    PlatformStatus.DISABLED: "platforms.disable",
    PlatformStatus.PENDING: "platforms.pend",
}


def set_status(
    db: Database, platform_id: int, status: PlatformStatus, *, actor: audit.Actor | None = None
) -> PlatformInfo:
    """Change a platform's status (approve = active, disable = disabled), audited as ``actor``.

    Raises:
        PlatformAdminError: ``platform_not_found``.
    """
    with db.session() as s:
        p = s.get(Platform, platform_id, options=[selectinload(Platform.deployments)])
        if p is None:
            raise PlatformAdminError(
                f"no platform with id {platform_id} (see 'cbsi-connect platforms list')", code="platform_not_found"
            )
        before = p.status
        p.status = status.value
        audit.record_as(
            s, actor, STATUS_ACTIONS[status], params={"from": before, "to": status.value}, platform_id=platform_id
        )
        s.flush()
        info = _info(p)
    _changed()
    logger.info("platform %s is now %s", platform_id, status.value, extra={"action": "platform_status"})
    return info


def approve_platform(db: Database, platform_id: int, *, actor: audit.Actor | None = None) -> PlatformInfo:
    """Make a platform active."""
    return set_status(db, platform_id, PlatformStatus.ACTIVE, actor=actor)


def disable_platform(db: Database, platform_id: int, *, actor: audit.Actor | None = None) -> PlatformInfo:
    """Refuse further launches from a platform."""
    return set_status(db, platform_id, PlatformStatus.DISABLED, actor=actor)


def add_deployment(
    db: Database, platform_id: int, deployment_id: str, *, actor: audit.Actor | None = None
) -> PlatformInfo:
    """Accept launches from one more deployment id of a platform (idempotent).

    Raises:
        PlatformAdminError: ``platform_not_found`` or ``invalid_value``.
    """
    deployment_id = deployment_id.strip()
    if not deployment_id:
        raise PlatformAdminError("the deployment id must not be empty", code="invalid_value")
    with db.session() as s:
        p = s.get(Platform, platform_id, options=[selectinload(Platform.deployments)])
        if p is None:
            raise PlatformAdminError(
                f"no platform with id {platform_id} (see 'cbsi-connect platforms list')", code="platform_not_found"
            )
        if len(deployment_id) > 255 or not deployment_id.isprintable():
            raise PlatformAdminError("the deployment id must be at most 255 printable characters", code="invalid_value")
        if deployment_id not in {d.deployment_id for d in p.deployments}:
            p.deployments.append(Deployment(deployment_id=deployment_id))
            audit.record_as(
                s, actor, "platforms.add_deployment", params={"deployment_id": deployment_id}, platform_id=platform_id
            )
            s.flush()
        info = _info(p)
    _changed()
    return info


def platforms_for_issuer(db: Database, issuer: str) -> tuple[PlatformInfo, ...]:
    """All registrations of one issuer (any status), with their deployments, in one query."""
    with db.session() as s:
        rows = s.execute(
            select(Platform, Deployment.deployment_id)
            .outerjoin(Deployment, Deployment.platform_id == Platform.id)
            .where(Platform.issuer == issuer)
            .order_by(Platform.id, Deployment.id)
        ).all()
        found: dict[int, tuple[Platform, list[str]]] = {}
        for platform, deployment in rows:
            entry = found.setdefault(platform.id, (platform, []))
            if deployment is not None:
                entry[1].append(deployment)
        return tuple(
            PlatformInfo(
                id=p.id,
                issuer=p.issuer,
                client_id=p.client_id,
                name=p.name,
                auth_login_url=p.auth_login_url,
                auth_token_url=p.auth_token_url,
                key_set_url=p.key_set_url,
                auth_audience=p.auth_audience,
                status=p.status,
                source=p.source,
                deployments=tuple(deps),
                created_at=p.created_at,
                last_launch_at=p.last_launch_at,
            )
            for p, deps in found.values()
        )


MAX_NAME_CHARS = 255


def rename_platform(db: Database, platform_id: int, name: str, *, actor: audit.Actor | None = None) -> PlatformInfo:
    """Give a registration a name people recognise (``platforms list`` and error pages show it).

    Raises:
        PlatformAdminError: ``platform_not_found``, or ``invalid_value`` for an empty, too long
            or unprintable name.
    """
    name = name.strip()
    if not name:
        raise PlatformAdminError("the name must not be empty", code="invalid_value")
    if len(name) > MAX_NAME_CHARS:
        raise PlatformAdminError(f"the name is longer than {MAX_NAME_CHARS} characters", code="invalid_value")
    if not name.isprintable():
        raise PlatformAdminError("the name must not contain control characters", code="invalid_value")
    with db.session() as s:
        p = s.get(Platform, platform_id, options=[selectinload(Platform.deployments)])
        if p is None:
            raise PlatformAdminError(
                f"no platform with id {platform_id} (see 'cbsi-connect platforms list')", code="platform_not_found"
            )
        old = p.name
        p.name = name
        audit.record_as(s, actor, "platforms.rename", params={"from": old, "to": name}, platform_id=platform_id)
        s.flush()
        info = _info(p)
    _changed()
    logger.info("platform %s renamed from %r to %r", platform_id, old, name, extra={"action": "platform_renamed"})
    return info


# -- pending registrations ----------------------------------------------------------------------


def count_pending(db: Database) -> int:
    """How many Dynamic Registrations await approval."""
    with db.session() as s:
        query = (
            select(func.count()).select_from(Platform).where(Platform.status == "pending", Platform.source == "dynamic")
        )
        return int(s.scalar(query) or 0)


def purge_stale_pending(db: Database, *, older_than: datetime) -> int:
    """Forget Dynamic Registrations still pending (never approved) since before ``older_than``."""
    with db.session() as s:
        ids = list(
            s.scalars(
                select(Platform.id).where(
                    Platform.status == PlatformStatus.PENDING.value,
                    Platform.source == "dynamic",
                    Platform.created_at < older_than,
                )
            )
        )
        if not ids:
            return 0
        s.execute(delete(Deployment).where(Deployment.platform_id.in_(ids)))
        s.execute(delete(Platform).where(Platform.id.in_(ids)))
    _changed()
    logger.warning(
        "forgot %d dynamic registrations never approved (ids %s)",
        len(ids),
        ", ".join(map(str, ids[:20])),
        extra={"action": "pending_registrations_expired"},
    )
    return len(ids)


# -- platform gate: disabled platforms lose their runtime sessions --------------------------------


class PlatformAccessDisabled(AppError):
    """Your academy's access to these courses is switched off. Contact your academy (your LMS administrator)."""

    code = "platform_disabled"
    message_key = "platform_access_disabled"
    status = 403


_STATUS = select(Platform.status).where(Platform.id == bindparam("b_id"))
_ATTEMPT_PLATFORM = (
    select(LearnerRegistration.platform_id)
    .join(Attempt, Attempt.registration_id == LearnerRegistration.id)
    .where(Attempt.id == bindparam("b_id"))
)
_LAUNCH_PLATFORM = select(LtiLaunch.platform_id).where(LtiLaunch.id == bindparam("b_id"))
_OWNERS_KEPT = 50_000


class PlatformGate:
    """Is a platform still allowed? Checked by every page, runtime call and content file of its learners.

    A platform's status is cached per process for ``ttl_seconds`` (the documented delay after
    ``platforms disable`` on other nodes; a change made in this process applies at once). Which
    platform owns an attempt or a launch never changes, so that is cached without expiry (LRU).

    Args:
        db: storage.
        ttl_seconds: how long a status read stays valid (0: read on every call).
        monotonic: clock for the cache.
    """

    def __init__(self, db: Database, *, ttl_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self.monotonic = monotonic
        self._status: dict[int, tuple[float, str | None]] = {}
        self._owners: OrderedDict[str, int | None] = OrderedDict()
        self._generation = generation()
        self._lock = threading.Lock()

    def status(self, platform_id: int) -> str | None:
        """The platform's status (None when it no longer exists), at most ``ttl`` seconds old."""
        now = self.monotonic()
        with self._lock:
            if self._generation != generation():
                self._status.clear()
                self._generation = generation()
            cached = self._status.get(platform_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.db.engine.connect() as conn:
            found = conn.execute(_STATUS, {"b_id": platform_id}).scalar()
        with self._lock:
            self._status[platform_id] = (now + self.ttl, found)
        return found

    def check(self, platform_id: int | None) -> None:
        """Raise unless the platform is active.

        Raises:
            PlatformAccessDisabled: disabled, pending or removed.
        """
        if platform_id is None:
            return
        if self.status(platform_id) != PlatformStatus.ACTIVE.value:
            raise PlatformAccessDisabled()

    def _owner(self, kind: str, key: str) -> int | None:
        cache_key = f"{kind}:{key}"
        with self._lock:
            if cache_key in self._owners:
                self._owners.move_to_end(cache_key)
                return self._owners[cache_key]
        statement = _ATTEMPT_PLATFORM if kind == "a" else _LAUNCH_PLATFORM
        with self.db.engine.connect() as conn:
            owner = conn.execute(statement, {"b_id": key[:64]}).scalar()
        if owner is not None:  # an unknown id is not cached: the view answers it (404/401)
            with self._lock:
                self._owners[cache_key] = int(owner)
                while len(self._owners) > _OWNERS_KEPT:
                    self._owners.popitem(last=False)
        return None if owner is None else int(owner)

    def attempt_platform(self, attempt_id: str) -> int | None:
        """The platform of an attempt (None: no such attempt)."""
        return self._owner("a", attempt_id)

    def launch_platform(self, launch_id: str) -> int | None:
        """The platform of a stored launch (None: no such launch)."""
        return self._owner("l", launch_id)

    def check_attempt(self, attempt_id: str) -> None:
        """Raise :class:`PlatformAccessDisabled` when the attempt's platform is not active."""
        self.check(self.attempt_platform(attempt_id))

    def check_launch(self, launch_id: str) -> None:
        """Raise :class:`PlatformAccessDisabled` when the launch's platform is not active."""
        self.check(self.launch_platform(launch_id))

    def check_subject(self, subject: str) -> None:
        """A content token's subject is an attempt id or a launch id: check whichever it is."""
        owner = self.attempt_platform(subject)
        if owner is None:
            owner = self.launch_platform(subject)
        self.check(owner)


def pending_cutoff(now: datetime, ttl_seconds: int) -> datetime:
    """Registrations pending since before this are forgotten."""
    return now - timedelta(seconds=ttl_seconds)

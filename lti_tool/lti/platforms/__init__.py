"""Tenants: platform registrations (issuer + client_id) and their deployment ids.

Plain functions over the database; ``lti_tool.cli_platforms`` wraps them as
``cbsi-connect platforms ...`` commands. A platform is ``pending`` until an operator approves
it, ``active`` while it may launch, ``disabled`` when launches are refused (DESIGN.md §7).
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from lti_tool import audit
from lti_tool.lti.errors import PlatformAdminError
from lti_tool.storage import Database
from lti_tool.storage.models import Deployment, Platform, PlatformStatus

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


def _info(p: Platform, deployments: tuple[str, ...] | None = None) -> PlatformInfo:
    """The registration as callers see it; ``deployments`` when they were read with it (else loaded)."""
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
        deployments=deployments if deployments is not None else tuple(d.deployment_id for d in p.deployments),
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


def _platform(s: Session, platform_id: int) -> Platform:
    """The platform row with its deployments; ``platform_not_found`` when there is none."""
    p = s.get(Platform, platform_id, options=[selectinload(Platform.deployments)])
    if p is None:
        raise PlatformAdminError(
            f"no platform with id {platform_id} (see 'cbsi-connect platforms list')", code="platform_not_found"
        )
    return p


def get_platform(db: Database, platform_id: int) -> PlatformInfo:
    """One platform.

    Raises:
        PlatformAdminError: ``platform_not_found``.
    """
    with db.session() as s:
        p = _platform(s, platform_id)
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
        p = _platform(s, platform_id)
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
        p = _platform(s, platform_id)
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


def ensure_builtin_platform(
    db: Database, *, issuer: str, client_id: str, deployment_id: str, name: str, source: str
) -> PlatformInfo:
    """An active platform the tool itself plays (the development LMS, the operator preview), with
    its one deployment; made at first use, approved again if someone disabled it (idempotent).

    Its login, token and key-set URLs sit under ``issuer``.
    """
    for existing in platforms_for_issuer(db, issuer):
        if existing.client_id == client_id:
            if not existing.is_active:
                approve_platform(db, existing.id)
            return add_deployment(db, existing.id, deployment_id)
    return add_platform(
        db,
        issuer=issuer,
        client_id=client_id,
        name=name,
        auth_login_url=issuer + "/auth",
        auth_token_url=issuer + "/token",
        key_set_url=issuer + "/jwks",
        deployment_ids=(deployment_id,),
        approve=True,
        source=source,
    )


def platforms_for_issuer(db: Database, issuer: str) -> tuple[PlatformInfo, ...]:
    """All registrations of one issuer (any status), with their deployments, in one query."""
    with db.session() as s:
        return _with_deployments(s, Platform.issuer == issuer)


def _with_deployments(s: Session, *where: Any) -> tuple[PlatformInfo, ...]:
    """The registrations matching ``where`` with their deployments, in one query (by id)."""
    rows = s.execute(
        select(Platform, Deployment.deployment_id)
        .outerjoin(Deployment, Deployment.platform_id == Platform.id)
        .where(*where)
        .order_by(Platform.id, Deployment.id)
    ).all()
    found: dict[int, tuple[Platform, list[str]]] = {}
    for platform, deployment in rows:
        entry = found.setdefault(platform.id, (platform, []))
        if deployment is not None:
            entry[1].append(deployment)
    return tuple(_info(p, tuple(deps)) for p, deps in found.values())


def find_platform(db: Database, platform_id: int) -> PlatformInfo | None:
    """One platform with its deployments (one query), or None: the lookup of service calls
    (grade delivery, rosters), which decide themselves what a missing platform means."""
    with db.session() as s:
        found = _with_deployments(s, Platform.id == platform_id)
    return found[0] if found else None


#: ``platforms.source`` of the operator preview's tenant (``lti_tool.preview``): never an academy.
PREVIEW_SOURCE = "preview"


def preview_platform_ids(s: Session) -> frozenset[int]:
    """The ids of preview tenants, in the caller's session: academy lists and reports leave them out."""
    return frozenset(s.scalars(select(Platform.id).where(Platform.source == PREVIEW_SOURCE)))


def platform_names(s: Session) -> dict[int, str]:
    """Every platform's id -> the name people know it by (its issuer when unnamed), in the caller's session."""
    return {pid: name or issuer for pid, name, issuer in s.execute(select(Platform.id, Platform.name, Platform.issuer))}


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
        p = _platform(s, platform_id)
        old = p.name
        p.name = name
        audit.record_as(s, actor, "platforms.rename", params={"from": old, "to": name}, platform_id=platform_id)
        s.flush()
        info = _info(p)
    _changed()
    logger.info("platform %s renamed from %r to %r", platform_id, old, name, extra={"action": "platform_renamed"})
    return info


# -- the platform gate's status read (``lti_tool.lti.gate.PlatformGate``) ----------------------

_STATUS = select(Platform.status).where(Platform.id == bindparam("b_id"))


def platform_status(db: Database, platform_id: int) -> str | None:
    """A platform's status, None when it no longer exists (one prebuilt statement)."""
    with db.engine.connect() as conn:
        found: str | None = conn.execute(_STATUS, {"b_id": platform_id}).scalar()
    return found


# -- last launch: written by the launch path, at most once a minute per platform ----------------

#: A platform's ``last_launch_at`` is written at most once per this interval (the launch path stays cheap).
LAST_LAUNCH_INTERVAL = timedelta(seconds=60)
_TOUCH_PLATFORM = (
    Platform.__table__.update()
    .where(
        Platform.__table__.c.id == bindparam("b_platform"),
        or_(Platform.__table__.c.last_launch_at.is_(None), Platform.__table__.c.last_launch_at < bindparam("b_before")),
    )
    .values(last_launch_at=bindparam("b_when"))
)
# Per engine: platform id -> when this process last wrote its last_launch_at (skips the UPDATE within a minute).
_last_touch: weakref.WeakKeyDictionary[Engine, dict[int, datetime]] = weakref.WeakKeyDictionary()
_touch_lock = threading.Lock()


def last_launch_due(engine: Engine, platform_id: int, now: datetime) -> bool:
    """True when this process has not written ``platform_id``'s last launch within the interval."""
    with _touch_lock:
        last = _last_touch.get(engine, {}).get(platform_id)
    return last is None or not last <= now < last + LAST_LAUNCH_INTERVAL


def touch_last_launch(conn: Connection, platform_id: int, now: datetime) -> None:
    """Set the platform's ``last_launch_at`` in the caller's transaction (unless set within the interval)."""
    conn.execute(_TOUCH_PLATFORM, {"b_platform": platform_id, "b_before": now - LAST_LAUNCH_INTERVAL, "b_when": now})


def last_launch_written(engine: Engine, platform_id: int, now: datetime) -> None:
    """Remember that this process wrote the last launch (after its transaction committed)."""
    with _touch_lock:
        seen = _last_touch.setdefault(engine, {})
        if len(seen) > 10_000:
            seen.clear()
        seen[platform_id] = now


# -- the operator console: the academies with their details --------------------------------------


def platforms_with_details(s: Session) -> list[tuple[PlatformInfo, dict[str, object]]]:
    """Every platform and its ``details`` (registration facts), in the caller's session (two queries)."""
    rows = s.scalars(select(Platform).options(selectinload(Platform.deployments))).all()
    return [(_info(p), dict(p.details or {})) for p in rows]

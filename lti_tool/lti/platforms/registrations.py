"""Registrations waiting for approval and Dynamic Registration's store (the ``platforms`` package's writes
of new registrations): counting and purging pending ones, refusing one, saving or refreshing a registration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from lti_tool import audit
from lti_tool.lti.errors import PlatformAdminError
from lti_tool.lti.platforms import PlatformInfo, _changed, _info, logger
from lti_tool.storage import Database
from lti_tool.storage.models import Deployment, Platform, PlatformStatus

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


def pending_cutoff(now: datetime, ttl_seconds: int) -> datetime:
    """Registrations pending since before this are forgotten."""
    return now - timedelta(seconds=ttl_seconds)


# -- the operator console: refusing a pending registration ----------------------------------------


def refuse_pending(db: Database, platform_id: int, *, actor: audit.Actor | None = None) -> PlatformInfo:
    """Forget a Dynamic Registration that waits for approval (the LMS admin may register again).

    Only a pending registration can be refused: it never launched, so nothing refers to it. An
    active or disabled one is disabled instead, which keeps its learners' records.

    Raises:
        PlatformAdminError: ``platform_not_found``, or ``not_pending`` for a registration in use.
    """
    with db.session() as s:
        p = s.get(Platform, platform_id, options=[selectinload(Platform.deployments)])
        if p is None:
            raise PlatformAdminError(f"no platform with id {platform_id}", code="platform_not_found")
        if p.status != PlatformStatus.PENDING.value:
            raise PlatformAdminError(
                f"platform {platform_id} is {p.status}, not waiting for approval: disable it instead",
                code="not_pending",
            )
        info = _info(p)
        audit.record_as(
            s,
            actor,
            "platforms.refuse",
            params={"issuer": p.issuer, "client_id": p.client_id, "source": p.source},
        )
        s.execute(delete(Deployment).where(Deployment.platform_id == platform_id))
        s.execute(delete(Platform).where(Platform.id == platform_id))
    _changed()
    logger.info("pending registration %s refused", platform_id, extra={"action": "platform_refused"})
    return info


# -- Dynamic Registration: store a new registration, or refresh an existing one ------------------


@dataclass(frozen=True, kw_only=True)
class DynamicRegistrationRecord:
    """What an LMS's registration answer says about it (``lti_tool.lti.registration`` builds it)."""

    issuer: str
    client_id: str
    #: The name of a first registration of this issuer, and of a further one (the client id told apart).
    name: str
    name_when_issuer_known: str
    auth_login_url: str
    auth_token_url: str
    key_set_url: str
    auth_audience: str | None
    deployment_id: str | None
    #: ``details["registration"]`` facts: product, version, scopes granted, messages supported.
    facts: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class StoredRegistration:
    """The platform row a Dynamic Registration created or refreshed."""

    platform_id: int
    issuer: str
    client_id: str
    name: str
    status: str
    updated: bool
    added_deployment: bool
    #: Endpoint columns an update changed (sorted; empty for a new registration).
    changed: tuple[str, ...]


_ENDPOINTS = ("auth_login_url", "auth_token_url", "key_set_url", "auth_audience")


def save_dynamic_registration(
    db: Database, record: DynamicRegistrationRecord, *, status: PlatformStatus, now: datetime
) -> StoredRegistration:
    """Insert the registration (``status``), or refresh the one with the same issuer and client id.

    A refresh replaces the endpoints, adds a new deployment id and merges the registration facts
    (counting updates); it keeps the platform's status and name.
    """
    with db.session() as s:
        row = s.scalars(
            select(Platform).where(Platform.issuer == record.issuer, Platform.client_id == record.client_id)
        ).first()
        if row is not None:
            stored = _refresh_registration(s, row, record, now=now)
        else:
            same_issuer = s.scalar(select(func.count()).select_from(Platform).where(Platform.issuer == record.issuer))
            row = Platform(
                issuer=record.issuer,
                client_id=record.client_id,
                name=record.name_when_issuer_known if same_issuer else record.name,
                **{column: getattr(record, column) for column in _ENDPOINTS},
                status=status.value,
                source="dynamic",
                details={"registration": {"registered_at": now.isoformat(), **record.facts}},
                created_at=now,
                updated_at=now,
            )
            if record.deployment_id:
                row.deployments.append(Deployment(deployment_id=record.deployment_id, created_at=now))
            s.add(row)
            s.flush()
            stored = _stored(row, updated=False, added_deployment=bool(record.deployment_id), changed=())
    _changed()
    return stored


def _refresh_registration(
    s: Session, row: Platform, record: DynamicRegistrationRecord, *, now: datetime
) -> StoredRegistration:
    before = {column: getattr(row, column) for column in _ENDPOINTS}
    for column in _ENDPOINTS:
        setattr(row, column, getattr(record, column))
    known = {d.deployment_id for d in row.deployments}
    added = bool(record.deployment_id) and record.deployment_id not in known
    if record.deployment_id and added:
        row.deployments.append(Deployment(deployment_id=record.deployment_id, created_at=now))
    details = dict(row.details or {})
    previous = details.get("registration") if isinstance(details.get("registration"), Mapping) else {}
    details["registration"] = {
        **dict(previous or {}),
        "registered_at": (previous or {}).get("registered_at") or row.created_at.isoformat(),
        "updated_at": now.isoformat(),
        "updates": int((previous or {}).get("updates") or 0) + 1,
        **record.facts,
    }
    row.details = details
    row.updated_at = now
    s.flush()
    changed = tuple(sorted(k for k, v in before.items() if getattr(row, k) != v))
    return _stored(row, updated=True, added_deployment=added, changed=changed)


def _stored(row: Platform, *, updated: bool, added_deployment: bool, changed: Iterable[str]) -> StoredRegistration:
    return StoredRegistration(
        platform_id=row.id,
        issuer=row.issuer,
        client_id=row.client_id,
        name=row.name,
        status=row.status,
        updated=updated,
        added_deployment=added_deployment,
        changed=tuple(changed),
    )

"""The audit log: who did what, when, from where, and how it ended.

Writing: :func:`record` adds an entry in the CALLER's transaction, so the entry and the action it
describes commit together, or neither does (an erasure that rolls back leaves no "erased" entry; the
caller records the failure in a transaction of its own). Reading: :func:`list_entries` returns one
page, newest first, with a keyset cursor (``before_id``), which is what a console table and an
export both need.

``params`` is JSON and must never hold secrets, nor personal data beyond a learner's opaque LMS id
(``sub``): no names, no e-mail addresses, no tokens, no CMI data.
"""

from __future__ import annotations

import enum
import getpass
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.storage import Database
from lti_tool.storage.models import AuditEntry, utcnow

#: An entry's parameters are small: anything bigger is a caller putting data where facts belong.
MAX_PARAMS_BYTES = 4096
#: Parameter names refused outright: secrets and personal data have no place in the log.
FORBIDDEN_KEYS = frozenset({"password", "secret", "token", "access_token", "id_token", "name", "email", "claims"})


class AuditError(ValueError):
    """An audit entry was refused (bad action code, parameters too large or not allowed)."""

    code = "audit_invalid"


class Outcome(enum.StrEnum):
    """How an audited action ended (mirrored by the ``ck_audit_log_outcome`` CHECK)."""

    OK = "ok"
    REFUSED = "refused"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One audit entry as read back."""

    id: int
    at: datetime
    actor: str
    action: str
    platform_id: int | None
    params: Mapping[str, Any]
    source: str
    outcome: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``at`` in ISO 8601 UTC)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "platform_id": self.platform_id,
            "params": dict(self.params),
            "source": self.source,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: an operator and their address, or ``cli:<os user>`` and ``cli``."""

    name: str
    source: str


def record_as(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    params: Mapping[str, Any] | None = None,
    platform_id: int | None = None,
    outcome: Outcome = Outcome.OK,
) -> None:
    """:func:`record` for ``actor`` in the caller's transaction; nothing when ``actor`` is None.

    Domain functions take an optional actor so that the console and the CLI audit the same
    action with the same code, in the transaction that performs it.
    """
    if actor is not None:
        record(
            session,
            actor=actor.name,
            action=action,
            source=actor.source,
            params=params,
            platform_id=platform_id,
            outcome=outcome,
        )


def cli_actor() -> str:
    """``cli:<os user>`` for an action run from the command line."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = "unknown"
    return f"cli:{user}"


def _check_params(params: Mapping[str, Any]) -> dict[str, Any]:
    bad = sorted(k for k in params if k.lower() in FORBIDDEN_KEYS)
    if bad:
        raise AuditError(f"audit parameters may not hold {', '.join(bad)}")
    try:
        encoded = json.dumps(dict(params), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise AuditError(f"audit parameters must be JSON: {exc}") from exc
    if len(encoded.encode()) > MAX_PARAMS_BYTES:
        raise AuditError(f"audit parameters exceed {MAX_PARAMS_BYTES} bytes")
    return dict(json.loads(encoded))


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    source: str,
    params: Mapping[str, Any] | None = None,
    platform_id: int | None = None,
    outcome: Outcome = Outcome.OK,
    at: datetime | None = None,
) -> None:
    """Add an audit entry to ``session``'s transaction (it commits with the caller's work).

    Args:
        session: the caller's unit of work.
        actor: operator name, or ``cli:<os user>`` (:func:`cli_actor`).
        action: a dotted action code, e.g. ``learners.erase``.
        source: the client address, or ``cli``.
        params: the action's parameters (JSON; no secrets, no personal data beyond an LMS ``sub``).
        platform_id: the academy concerned, for filtering.
        outcome: ok, refused or failed.
        at: when (default now, UTC).

    Raises:
        AuditError: empty actor/action/source, or parameters that are not allowed.
    """
    if not actor or not action or not source:
        raise AuditError("an audit entry needs an actor, an action and a source")
    if len(actor) > 255 or len(action) > 64 or len(source) > 64:
        raise AuditError("audit actor, action or source too long")
    session.add(
        AuditEntry(
            at=at or utcnow(),
            actor=actor,
            action=action,
            platform_id=platform_id,
            params=_check_params(params or {}),
            source=source,
            outcome=Outcome(outcome).value,
        )
    )


def list_entries(
    db: Database,
    *,
    since: datetime | None = None,
    action: str | None = None,
    platform_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Entry]:
    """One page of entries, newest first.

    Args:
        since: only entries at or after this (aware) time.
        action: only this action code, or a prefix ending in ``.`` (``learners.``).
        platform_id: only this academy's entries.
        before_id: keyset cursor: entries older than this id (the last id of the previous page).
        limit: page size (1..1000).
    """
    limit = max(1, min(limit, 1000))
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if action:
        if action.endswith("."):
            query = query.where(AuditEntry.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEntry.action == action)
    if platform_id is not None:
        query = query.where(AuditEntry.platform_id == platform_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    with db.session() as s:
        return [
            Entry(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                platform_id=r.platform_id,
                params=r.params or {},
                source=r.source,
                outcome=r.outcome,
            )
            for r in s.scalars(query)
        ]


def iter_entries(
    db: Database,
    *,
    since: datetime | None = None,
    action: str | None = None,
    platform_id: int | None = None,
    page: int = 500,
) -> Iterator[Entry]:
    """Every matching entry, newest first, page by page (an export of any size in bounded memory)."""
    before: int | None = None
    while True:
        rows = list_entries(db, since=since, action=action, platform_id=platform_id, before_id=before, limit=page)
        yield from rows
        if len(rows) < page:
            return
        before = rows[-1].id

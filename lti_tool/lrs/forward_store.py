"""Storage of LRS forwarding: ``lrs_forwarding`` (settings, state, cursor, lease per academy) and
``lrs_forward_dead`` (statements an academy's LRS refused). Every function works in the caller's
session; :mod:`lti_tool.lrs.forwarding` (settings) and :mod:`lti_tool.lrs.forwarder` (delivery)
call them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from lti_tool.storage.models import LrsForwardDead, LrsForwarding

ON, PAUSED, OFF = "on", "paused", "off"


@dataclass(frozen=True, kw_only=True)
class ForwardRow:
    """One academy's ``lrs_forwarding`` row."""

    platform_id: int
    endpoint: str
    xapi_version: str
    auth_key: str
    auth_secret: str
    state: str
    cursor_seq: int
    attempts: int
    next_attempt_at: datetime
    delivered: int
    last_success_at: datetime | None
    last_status_code: int | None
    last_error: str | None


@dataclass(frozen=True, kw_only=True)
class DeadLetter:
    """A statement the academy's LRS refused (``dead``), or queued again (``retry``)."""

    id: int
    seq: int
    statement_id: str
    status: str
    status_code: int | None
    error: str
    attempts: int
    updated_at: datetime


def _row(r: LrsForwarding) -> ForwardRow:
    return ForwardRow(
        platform_id=r.platform_id, endpoint=r.endpoint, xapi_version=r.xapi_version, auth_key=r.auth_key,
        auth_secret=r.auth_secret, state=r.state, cursor_seq=r.cursor_seq, attempts=r.attempts,
        next_attempt_at=r.next_attempt_at, delivered=r.delivered, last_success_at=r.last_success_at,
        last_status_code=r.last_status_code, last_error=r.last_error,
    )  # fmt: skip


# -- settings ----------------------------------------------------------------------------------


def get(s: Session, platform_id: int) -> ForwardRow | None:
    """The academy's forwarding, or None when it was never configured."""
    found = s.get(LrsForwarding, platform_id)
    return _row(found) if found is not None else None


def save_settings(
    s: Session,
    platform_id: int,
    *,
    endpoint: str,
    version: str,
    key: str,
    secret: str,
    start_after: int,
    rewind: bool,
    now: datetime,
) -> bool:
    """Create or change the academy's settings and turn forwarding on; True when created.

    A new row starts after ``start_after``; an existing one keeps its cursor unless ``rewind``.
    """
    row = s.get(LrsForwarding, platform_id)
    first = row is None
    if row is None:
        row = LrsForwarding(platform_id=platform_id, cursor_seq=start_after, attempts=0, delivered=0, created_at=now)
        s.add(row)
    else:
        if rewind:
            row.cursor_seq = 0
        if (row.endpoint, row.auth_key, row.auth_secret) != (endpoint, key, secret):
            row.last_success_at = None  # "this LRS took our statements" is about the old settings
    row.endpoint, row.xapi_version, row.auth_key, row.auth_secret = endpoint, version, key, secret
    row.state, row.attempts, row.next_attempt_at, row.updated_at = ON, 0, now, now
    row.lease_expires_at = row.leased_by = None
    row.last_status_code = row.last_error = None
    s.flush()
    return first


def set_state(s: Session, platform_id: int, state: str, now: datetime) -> bool:
    """Turn the academy's forwarding on (due now, attempts reset) or off; False when not configured."""
    row = s.get(LrsForwarding, platform_id)
    if row is None:
        return False
    row.state, row.updated_at = state, now
    row.lease_expires_at = row.leased_by = None
    if state == ON:
        row.attempts, row.next_attempt_at = 0, now
    return True


def states(s: Session) -> dict[int, str]:
    """Every configured academy's state."""
    return {pid: state for pid, state in s.execute(select(LrsForwarding.platform_id, LrsForwarding.state))}


def dead_counts(s: Session, platform_id: int) -> dict[str, int]:
    """Dead letters by status (``dead``, ``retry``)."""
    rows = s.execute(
        select(LrsForwardDead.status, func.count())
        .where(LrsForwardDead.platform_id == platform_id)
        .group_by(LrsForwardDead.status)
    )
    return {status: int(n) for status, n in rows}


def dead_letters(s: Session, platform_id: int, limit: int) -> list[DeadLetter]:
    """The academy's dead letters, oldest statement first."""
    rows = s.scalars(
        select(LrsForwardDead)
        .where(LrsForwardDead.platform_id == platform_id)
        .order_by(LrsForwardDead.seq)
        .limit(limit)
    )
    return [
        DeadLetter(
            id=r.id,
            seq=r.seq,
            statement_id=r.statement_id,
            status=r.status,
            status_code=r.status_code,
            error=r.error,
            attempts=r.attempts,
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def requeue_dead(s: Session, platform_id: int, now: datetime) -> int:
    """Queue every ``dead`` letter again; an ``on`` forwarding becomes due now."""
    count = s.execute(
        update(LrsForwardDead)
        .where(LrsForwardDead.platform_id == platform_id, LrsForwardDead.status == "dead")
        .values(status="retry", updated_at=now)
    ).rowcount
    s.execute(
        update(LrsForwarding)
        .where(LrsForwarding.platform_id == platform_id, LrsForwarding.state == ON)
        .values(next_attempt_at=now)
    )
    return int(count or 0)


# -- delivery (the forwarder) ------------------------------------------------------------------


def due(s: Session, now: datetime) -> list[int]:
    """Academies whose forwarding is on and due, most overdue first."""
    return list(
        s.scalars(
            select(LrsForwarding.platform_id)
            .where(LrsForwarding.state == ON, LrsForwarding.next_attempt_at <= now)
            .order_by(LrsForwarding.next_attempt_at)
        )
    )


def claim(s: Session, platform_id: int, worker: str, now: datetime, lease_until: datetime) -> ForwardRow | None:
    """Lease the academy to ``worker`` when it is on, due and free; None otherwise.

    One conditional UPDATE (over ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL): of two
    workers, exactly one changes the row, on every engine. The caller commits at once.
    """
    free = or_(LrsForwarding.lease_expires_at.is_(None), LrsForwarding.lease_expires_at <= now)
    candidate = (
        select(LrsForwarding.platform_id)
        .where(
            LrsForwarding.platform_id == platform_id,
            LrsForwarding.state == ON,
            LrsForwarding.next_attempt_at <= now,
            free,
        )
        .with_for_update(skip_locked=True)
    )
    taken = s.execute(
        update(LrsForwarding)
        .where(LrsForwarding.platform_id.in_(candidate.scalar_subquery()), free)
        .values(lease_expires_at=lease_until, leased_by=worker)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    row = s.get(LrsForwarding, platform_id, populate_existing=True)
    return _row(row) if row is not None else None


def release(s: Session, platform_id: int, worker: str, now: datetime, **values: object) -> None:
    """End ``worker``'s lease, setting ``values`` (state, attempts, next attempt, last error …)."""
    s.execute(
        update(LrsForwarding)
        .where(LrsForwarding.platform_id == platform_id, LrsForwarding.leased_by == worker)
        .values(lease_expires_at=None, leased_by=None, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def advance(
    s: Session, platform_id: int, worker: str, *, old_cursor: int, new_cursor: int, delivered: int, now: datetime
) -> bool:
    """Move the cursor past a settled batch (compare-and-set on ``old_cursor`` and the lease)."""
    values: dict[str, object] = {
        "cursor_seq": new_cursor, "attempts": 0, "updated_at": now, "last_status_code": None, "last_error": None,
        "delivered": LrsForwarding.delivered + delivered,
    }  # fmt: skip
    if delivered:
        values["last_success_at"] = now
    moved = s.execute(
        update(LrsForwarding)
        .where(
            LrsForwarding.platform_id == platform_id,
            LrsForwarding.leased_by == worker,
            LrsForwarding.cursor_seq == old_cursor,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    return moved == 1


def add_dead(
    s: Session, platform_id: int, dead: Sequence[tuple[int, str, int | None, str]], now: datetime
) -> list[tuple[int, str, int | None, str]]:
    """Record refused statements ``(seq, statement id, status, message)``; returns those that were new."""
    if not dead:
        return []
    known = set(
        s.scalars(
            select(LrsForwardDead.seq).where(
                LrsForwardDead.platform_id == platform_id, LrsForwardDead.seq.in_([d[0] for d in dead])
            )
        )
    )
    fresh = [d for d in dead if d[0] not in known]
    for seq, sid, code, message in fresh:
        s.add(
            LrsForwardDead(
                platform_id=platform_id, seq=seq, statement_id=sid, status="dead", status_code=code,
                error=message, attempts=1, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    return fresh


def queued_again(s: Session, platform_id: int, limit: int) -> list[tuple[int, int]]:
    """``(dead letter id, seq)`` of the letters an operator queued again, oldest statement first."""
    rows = s.execute(
        select(LrsForwardDead.id, LrsForwardDead.seq)
        .where(LrsForwardDead.platform_id == platform_id, LrsForwardDead.status == "retry")
        .order_by(LrsForwardDead.seq)
        .limit(limit)
    )
    return [(i, seq) for i, seq in rows]


def forget_dead(s: Session, dead_id: int) -> None:
    """A dead letter was delivered (or its statement erased): remove it."""
    s.execute(delete(LrsForwardDead).where(LrsForwardDead.id == dead_id))


def refused_again(s: Session, dead_id: int, status_code: int | None, message: str, now: datetime) -> None:
    """A dead letter queued again was refused again."""
    s.execute(
        update(LrsForwardDead)
        .where(LrsForwardDead.id == dead_id)
        .values(
            status="dead", status_code=status_code, error=message, updated_at=now, attempts=LrsForwardDead.attempts + 1
        )
    )

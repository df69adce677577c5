"""The cmi5 runtime's SQL: AU sessions and per-attempt AU/block/course records (their one owner)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.storage.models import Cmi5AuRecord, Cmi5AuSession


def node_key(node_id: str) -> str:
    """The key of an AU, block or course id (ids are IRIs of any length)."""
    return hashlib.sha256(node_id.encode()).hexdigest()


def open_sessions(s: Session, attempt_id: str, au_id: str) -> list[Cmi5AuSession]:
    """The AU's sessions in this attempt that never ended, oldest first (locked for update)."""
    c = Cmi5AuSession
    query = (
        select(c)
        .where(c.attempt_id == attempt_id, c.au_key == node_key(au_id), c.status == "open")
        .order_by(c.started_at)
        .with_for_update()
    )
    return list(s.scalars(query))


def session_by_fetch(s: Session, fetch_hash: str) -> Cmi5AuSession | None:
    """The session whose fetch URL has this SHA-256 (locked: the URL is one-time)."""
    return s.scalars(select(Cmi5AuSession).where(Cmi5AuSession.fetch_hash == fetch_hash).with_for_update()).first()


def session_by_credential(s: Session, credential_key: str) -> Cmi5AuSession | None:
    """The session an LRS credential was handed out for (locked: statements update it)."""
    c = Cmi5AuSession
    return s.scalars(select(c).where(c.credential_key == credential_key).with_for_update()).first()


def records(s: Session, attempt_id: str) -> dict[str, Cmi5AuRecord]:
    """Every AU/block/course record of the attempt, by node id."""
    rows = s.scalars(select(Cmi5AuRecord).where(Cmi5AuRecord.attempt_id == attempt_id))
    return {row.node_id: row for row in rows}


def record(s: Session, attempt_id: str, node_id: str, kind: str) -> Cmi5AuRecord:
    """The record of one node, created (flushed) when it has none."""
    row = s.get(Cmi5AuRecord, (attempt_id, node_key(node_id)))
    if row is None:
        row = Cmi5AuRecord(
            attempt_id=attempt_id, node_key=node_key(node_id), node_id=node_id, kind=kind,
            completed=False, passed=False, failed=False, waived=False,
        )  # fmt: skip
        s.add(row)
        s.flush()
    return row


def end_session(row: Cmi5AuSession, status: str, at: datetime) -> None:
    """Mark a session terminated or abandoned."""
    row.status = status
    row.ended_at = at


def new_session(s: Session, **fields: Any) -> Cmi5AuSession:
    """Store a new AU session (``fields``: the columns of ``cmi5_au_sessions``)."""
    row = Cmi5AuSession(**fields)
    s.add(row)
    s.flush()
    return row

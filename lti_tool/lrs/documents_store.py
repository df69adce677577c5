"""LRS documents (State, Activity Profile, Agent Profile): the owner of ``lrs_documents``.

Every function takes a SQLAlchemy session and a tenant; every query filters by the tenant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lti_tool.storage.models import LrsDocument
from scorm.xapi.normalize import agent_key


@dataclass(frozen=True)
class DocKey:
    """Which document set: kind, activity, agent, registration ("" when not part of the key)."""

    kind: str
    activity_id: str = ""
    agent_key: str = ""
    registration: str = ""


def etag_of(content: bytes) -> str:
    """The document's entity tag (SHA-1 of its bytes, as most LRSs use)."""
    return hashlib.sha1(content).hexdigest()  # noqa: S324 - an ETag, not a security hash


def _doc_where(tenant: str, key: DocKey) -> list[Any]:
    d = LrsDocument
    return [
        d.tenant == tenant,
        d.kind == key.kind,
        d.activity_id == key.activity_id,
        d.agent_key == key.agent_key,
        d.registration == key.registration,
    ]


def get_document(session: Session, tenant: str, key: DocKey, doc_id: str) -> LrsDocument | None:
    """One document."""
    return session.scalars(select(LrsDocument).where(*_doc_where(tenant, key), LrsDocument.doc_id == doc_id)).first()


def list_documents(
    session: Session, tenant: str, key: DocKey, since: datetime | None
) -> tuple[list[str], datetime | None]:
    """Ids of the documents of ``key`` (updated after ``since``), and the newest update."""
    conds = _doc_where(tenant, key)
    if since is not None:
        conds.append(LrsDocument.updated > since)
    rows = session.execute(select(LrsDocument.doc_id, LrsDocument.updated).where(*conds).order_by(LrsDocument.id)).all()
    newest = max((r.updated for r in rows), default=None)
    return [r.doc_id for r in rows], newest


def put_document(
    session: Session, tenant: str, key: DocKey, doc_id: str, content: bytes, content_type: str, now: datetime
) -> None:
    """Create or replace a document."""
    row = get_document(session, tenant, key, doc_id)
    if row is None:
        session.add(
            LrsDocument(
                tenant=tenant, kind=key.kind, activity_id=key.activity_id, agent_key=key.agent_key,
                registration=key.registration, doc_id=doc_id, content_type=content_type, content=content,
                etag=etag_of(content), updated=now,
            )
        )  # fmt: skip
    else:
        row.content, row.content_type, row.etag, row.updated = content, content_type, etag_of(content), now
    session.flush()


def delete_documents(session: Session, tenant: str, key: DocKey, doc_id: str | None) -> None:
    """Delete one document, or every document of ``key``."""
    conds = _doc_where(tenant, key)
    if doc_id is not None:
        conds.append(LrsDocument.doc_id == doc_id)
    session.execute(delete(LrsDocument).where(*conds))


def agent_key_or_none(agent: Mapping[str, Any]) -> str | None:
    """Re-exported :func:`scorm.xapi.agent_key` (document keys)."""
    return agent_key(agent)

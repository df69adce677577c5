"""Erasure of one learner on request: every :data:`~lti_tool.privacy.registry.LEARNER_TABLES` entry,
in order, in ONE transaction, audited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from lti_tool import audit
from lti_tool.privacy.registry import (
    ACTION_ERASE,
    LEARNER_TABLES,
    MAX_SUB_LENGTH,
    UNDELIVERED,
    InvalidLearner,
    Learner,
    LearnerTable,
    PrivacyError,
    UnknownLearner,
    _learner,
    _matching,
    _record_outcome,
)
from lti_tool.storage import Database
from lti_tool.storage.models import Base, GradeOutbox


@dataclass(frozen=True, kw_only=True)
class ErasureReport:
    """What an erasure removed (or would remove): row counts per table, never the data."""

    platform_id: int
    sub: str
    counts: Mapping[str, int]
    delivered_scores: int = 0
    undelivered_scores: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        """Rows in all tables."""
        return sum(self.counts.values())


def _score_states(s: Session, learner: Learner) -> tuple[int, int]:
    """(rows whose score reached the LMS, rows not yet delivered) in the learner's outbox rows."""
    rows = s.execute(
        select(GradeOutbox.status, GradeOutbox.grade_delivered, func.count())
        .where(GradeOutbox.platform_key == str(learner.platform_id), GradeOutbox.user_id == learner.sub)
        .group_by(GradeOutbox.status, GradeOutbox.grade_delivered)
    ).all()
    delivered = sum(n for status, graded, n in rows if status not in UNDELIVERED or graded)
    undelivered = sum(n for status, _graded, n in rows if status in UNDELIVERED)
    return delivered, undelivered


def _report(platform_id: int, sub: str, counts: dict[str, int], delivered: int, undelivered: int) -> ErasureReport:
    """The report of an erasure (planned or done), with what the operator must still do in the LMS."""
    return ErasureReport(
        platform_id=platform_id,
        sub=sub,
        counts=counts,
        delivered_scores=delivered,
        undelivered_scores=undelivered,
        notes=_notes(delivered, undelivered),
    )


def _notes(delivered: int, undelivered: int) -> tuple[str, ...]:
    notes = []
    if delivered:
        notes.append(f"{delivered} score(s) already delivered stay in the LMS gradebook: erase them in the LMS")
    if undelivered:
        notes.append(f"{undelivered} score(s) not yet delivered will not be sent (one being sent now may still arrive)")
    return tuple(notes)


def plan_erasure(db: Database, *, platform_id: int, sub: str) -> ErasureReport:
    """What :func:`erase_learner` would remove, counted (nothing is changed).

    Raises:
        UnknownPlatform, InvalidLearner, UnknownLearner.
    """
    with db.session() as s:
        _platform, learner = _learner(s, platform_id, sub)
        if learner is None:  # pragma: no cover - sub is given
            raise InvalidLearner("a learner id is required")
        counts = {entry.table: _matching(s, entry, learner)[0] for entry in LEARNER_TABLES}
        delivered, undelivered = _score_states(s, learner)
    if not sum(counts.values()):
        raise UnknownLearner(f"nothing is held about learner {sub!r} on platform {platform_id}")
    return _report(platform_id, sub, counts, delivered, undelivered)


def erase_learner(
    db: Database,
    *,
    platform_id: int,
    sub: str,
    actor: str,
    source: str,
    tables: Sequence[LearnerTable] | None = None,
) -> ErasureReport:
    """Remove everything held about one learner on one platform, in ONE transaction, audited.

    The audit entry (counts per table, never the data) commits with the deletions. A refusal is
    audited as ``refused``; a failure rolls everything back and is audited as ``failed``.

    Args:
        tables: the registry to walk (tests inject a failing entry); default :data:`LEARNER_TABLES`.

    Raises:
        UnknownPlatform, InvalidLearner, UnknownLearner: nothing was changed.
    """
    entries = LEARNER_TABLES if tables is None else tuple(tables)
    params: dict[str, Any] = {"platform_id": platform_id, "learner": sub[:MAX_SUB_LENGTH]}
    try:
        with db.session() as s:
            _platform, learner = _learner(s, platform_id, sub)
            if learner is None:  # pragma: no cover - sub is given
                raise InvalidLearner("a learner id is required")
            delivered, undelivered = _score_states(s, learner)
            counts: dict[str, int] = {}
            for entry in entries:
                table = Base.metadata.tables[entry.table]
                if entry.refine is None:
                    done = s.execute(delete(table).where(entry.where(learner)))
                    counts[entry.table] = int(done.rowcount or 0)  # type: ignore[attr-defined]
                    continue
                n, keys = _matching(s, entry, learner)
                _delete_keys(s, table, keys or [])
                counts[entry.table] = n
            if not sum(counts.values()):
                raise UnknownLearner(f"nothing is held about learner {sub!r} on platform {platform_id}")
            audit.record(
                s,
                actor=actor,
                action=ACTION_ERASE,
                source=source,
                platform_id=platform_id,
                params={**params, "removed": counts},
            )
    except PrivacyError:
        _record_outcome(db, ACTION_ERASE, actor, source, platform_id, params, audit.Outcome.REFUSED)
        raise
    except Exception:
        _record_outcome(db, ACTION_ERASE, actor, source, platform_id, params, audit.Outcome.FAILED)
        raise
    return _report(platform_id, sub, counts, delivered, undelivered)


def _delete_keys(s: Session, table: Any, keys: Sequence[tuple[Any, ...]]) -> None:
    """Delete rows by primary key, 500 at a time."""
    pk = list(table.primary_key.columns)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = (and_(*(c == v for c, v in zip(pk, key, strict=True))) for key in chunk)
        s.execute(delete(table).where(or_(*rows)))

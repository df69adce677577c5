"""Data lifecycle: export an academy's learner records, erase one learner on request; both audited.

Every table that holds data about a learner is ONE entry of :data:`LEARNER_TABLES`. Erasure walks
that list in order (children before parents) inside one transaction; a feature that adds a table
with learner data adds one :class:`LearnerTable` entry here (the built-in LRS: its statements and
state tables). ``tests/privacy`` fails when a table with a learner column is neither in the
registry nor in :data:`NOT_LEARNER_DATA` with the reason.

A learner is identified by (platform, ``sub``): the same ``sub`` on two platforms is two people.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from lti_tool import audit
from lti_tool.grades import LINE_ITEM_TAG
from lti_tool.lrs.identity import learner_agent_key, learner_tenant
from lti_tool.storage import Database
from lti_tool.storage.models import (
    Attempt,
    Base,
    Cmi5AuRecord,
    Cmi5AuSession,
    Course,
    CourseVersion,
    GradeOutbox,
    LaunchState,
    LearnerRegistration,
    LearnerSharedState,
    LrsCredential,
    LrsDocument,
    LrsStatement,
    LrsStatementActivity,
    LrsStatementAgent,
    LtiLaunch,
    Platform,
    RosterCache,
    ScoState,
)

#: Registrations per page of an export: memory holds one page with its attempts and SCO states.
EXPORT_PAGE = 100
MAX_SUB_LENGTH = 255
ACTION_EXPORT = "learners.export"
ACTION_ERASE = "learners.erase"
UNDELIVERED = ("pending", "in_flight", "dead")


class PrivacyError(Exception):
    """A data lifecycle request was refused."""

    code = "privacy_error"


class UnknownPlatform(PrivacyError):
    """No platform has this id."""

    code = "unknown_platform"


class UnknownLearner(PrivacyError):
    """Nothing is held about this learner on this platform."""

    code = "unknown_learner"


class InvalidLearner(PrivacyError):
    """The learner id is empty or longer than any stored ``sub``."""

    code = "invalid_learner"


@dataclass(frozen=True, kw_only=True)
class Learner:
    """One learner of one platform (the platform's issuer/client id are needed by login rows)."""

    platform_id: int
    issuer: str
    client_id: str
    sub: str


# -- the registry ------------------------------------------------------------------------------


def _registration_ids(learner: Learner) -> Any:
    return select(LearnerRegistration.id).where(
        LearnerRegistration.platform_id == learner.platform_id, LearnerRegistration.learner_sub == learner.sub
    )


def _lrs_owned(model: type[LrsDocument] | type[LrsCredential], learner: Learner) -> ColumnElement[bool]:
    """Rows of an LRS table that belong to the learner (their platform's tenant, their agent)."""
    return and_(
        model.tenant == learner_tenant(learner.platform_id),
        model.agent_key == learner_agent_key(learner.issuer, learner.sub),
    )


def _lrs_statement_seqs(learner: Learner) -> Any:
    """The learner's own xAPI statements (actor or object) in their platform's LRS tenant."""
    return (
        select(LrsStatementAgent.seq)
        .join(LrsStatement, LrsStatement.seq == LrsStatementAgent.seq)
        .where(
            LrsStatement.tenant == learner_tenant(learner.platform_id),
            LrsStatementAgent.agent_key == learner_agent_key(learner.issuer, learner.sub),
            LrsStatementAgent.direct.is_(True),
        )
        .scalar_subquery()
    )


def _attempt_ids(learner: Learner) -> Any:
    return select(Attempt.id).where(Attempt.registration_id.in_(_registration_ids(learner)))


def _names_learner(row: Mapping[str, Any], learner: Learner) -> bool:
    members = row.get("members") or []
    return any(isinstance(m, Mapping) and str(m.get("user_id")) == learner.sub for m in members)


@dataclass(frozen=True, kw_only=True)
class LearnerTable:
    """A table holding learner data, and how to find one learner's rows in it.

    Attributes:
        table: the table name (``Base.metadata.tables`` key).
        where: the SQL condition selecting the learner's rows (on that platform only).
        refine: for rows the SQL can only narrow (JSON documents): a row predicate run in Python
            over the rows ``where`` selected; only those are deleted (by primary key).
        note: what the table holds, shown in the erasure report when useful.
    """

    table: str
    where: Callable[[Learner], ColumnElement[bool]]
    refine: Callable[[Mapping[str, Any], Learner], bool] | None = None
    note: str = ""


#: Every table holding learner data, children before parents (erasure deletes in this order).
LEARNER_TABLES: tuple[LearnerTable, ...] = (
    LearnerTable(
        table="cmi5_au_sessions",
        where=lambda k: Cmi5AuSession.attempt_id.in_(_attempt_ids(k)),
        note="the learner's cmi5 AU sessions",
    ),
    LearnerTable(
        table="cmi5_au_records",
        where=lambda k: Cmi5AuRecord.attempt_id.in_(_attempt_ids(k)),
        note="what the learner achieved in each cmi5 AU, block and course",
    ),
    LearnerTable(table="sco_states", where=lambda k: ScoState.attempt_id.in_(_attempt_ids(k))),
    LearnerTable(table="attempts", where=lambda k: Attempt.registration_id.in_(_registration_ids(k))),
    LearnerTable(
        table="learner_shared_state",
        where=lambda k: and_(
            LearnerSharedState.platform_id == k.platform_id, LearnerSharedState.learner_sub == k.sub
        ),
        note="SCORM 2004 global objectives and shared data (adl.data) kept across the learner's attempts",
    ),
    LearnerTable(
        table="grade_outbox",
        where=lambda k: and_(GradeOutbox.platform_key == str(k.platform_id), GradeOutbox.user_id == k.sub),
        note="scores already delivered stay in the LMS gradebook: erase them there",
    ),
    LearnerTable(
        table="learner_registrations",
        where=lambda k: and_(
            LearnerRegistration.platform_id == k.platform_id, LearnerRegistration.learner_sub == k.sub
        ),
    ),
    LearnerTable(
        table="roster_cache",
        where=lambda k: RosterCache.platform_id == k.platform_id,
        refine=_names_learner,
        note="cached LMS rosters naming the learner (pulled again from the LMS when needed)",
    ),
    LearnerTable(
        table="lrs_statement_activities",
        where=lambda k: LrsStatementActivity.seq.in_(_lrs_statement_seqs(k)),
        note="the activities index of the learner's xAPI statements",
    ),
    LearnerTable(
        table="lrs_statements",
        where=lambda k: LrsStatement.seq.in_(_lrs_statement_seqs(k)),
        note="xAPI statements whose actor or object is the learner",
    ),
    LearnerTable(
        table="lrs_statement_agents",
        where=lambda k: LrsStatementAgent.agent_key == learner_agent_key(k.issuer, k.sub),
        note="mentions of the learner in others' xAPI statements (index rows)",
    ),
    LearnerTable(
        table="lrs_documents",
        where=lambda k: _lrs_owned(LrsDocument, k),
        note="xAPI state and agent profile documents (bookmarks, cmi5 preferences)",
    ),
    LearnerTable(
        table="lrs_credentials",
        where=lambda k: _lrs_owned(LrsCredential, k),
        note="the learner's per-launch LRS credentials",
    ),
    LearnerTable(
        table="lti_launches", where=lambda k: and_(LtiLaunch.platform_id == k.platform_id, LtiLaunch.sub == k.sub)
    ),
    LearnerTable(
        table="launch_states",
        where=lambda k: and_(
            LaunchState.issuer == k.issuer,
            or_(LaunchState.client_id == k.client_id, LaunchState.client_id.is_(None)),
            LaunchState.login_hint == k.sub,
        ),
        note="logins in progress whose login_hint is the learner's id (they expire within minutes anyway)",
    ),
)

#: Tables with a learner-like column that are NOT the tool's learner records, and why.
NOT_LEARNER_DATA: Mapping[str, str] = {
    "devplatform_scores": "the development LMS's own gradebook (the LMS side, demo only), not the tool's records",
    "audit_log": "the record of lifecycle actions itself: holds only the opaque LMS id, kept as accountability",
}


def registry_tables() -> tuple[str, ...]:
    """Names of the tables in :data:`LEARNER_TABLES`, in erasure order."""
    return tuple(entry.table for entry in LEARNER_TABLES)


# -- lookups -----------------------------------------------------------------------------------


def _learner(s: Session, platform_id: int, sub: str | None) -> tuple[Platform, Learner | None]:
    platform = s.get(Platform, platform_id)
    if platform is None:
        raise UnknownPlatform(f"no platform {platform_id}: see 'cbsi-connect platforms list'")
    if sub is None:
        return platform, None
    if not sub or len(sub) > MAX_SUB_LENGTH:
        raise InvalidLearner(f"a learner id is 1 to {MAX_SUB_LENGTH} characters (the LMS's 'sub')")
    return platform, Learner(platform_id=platform.id, issuer=platform.issuer, client_id=platform.client_id, sub=sub)


def _matching(s: Session, entry: LearnerTable, learner: Learner) -> tuple[int, list[tuple[Any, ...]] | None]:
    """(row count, primary keys when ``refine`` picks them) of the learner's rows in one table."""
    table = Base.metadata.tables[entry.table]
    condition = entry.where(learner)
    if entry.refine is None:
        return int(s.execute(select(func.count()).select_from(table).where(condition)).scalar_one()), None
    pk = list(table.primary_key.columns)
    keys: list[tuple[Any, ...]] = []
    result = s.execute(select(table).where(condition).execution_options(yield_per=100))
    try:  # a server-side cursor on PostgreSQL: closed even when ``refine`` raises
        for row in result.mappings():
            if entry.refine(row, learner):
                keys.append(tuple(row[c.name] for c in pk))
    finally:
        result.close()
    return len(keys), keys


# -- erasure -----------------------------------------------------------------------------------


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
    return ErasureReport(
        platform_id=platform_id,
        sub=sub,
        counts=counts,
        delivered_scores=delivered,
        undelivered_scores=undelivered,
        notes=_notes(delivered, undelivered),
    )


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
    return ErasureReport(
        platform_id=platform_id,
        sub=sub,
        counts=counts,
        delivered_scores=delivered,
        undelivered_scores=undelivered,
        notes=_notes(delivered, undelivered),
    )


def _delete_keys(s: Session, table: Any, keys: Sequence[tuple[Any, ...]]) -> None:
    """Delete rows by primary key, 500 at a time."""
    pk = list(table.primary_key.columns)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = (and_(*(c == v for c, v in zip(pk, key, strict=True))) for key in chunk)
        s.execute(delete(table).where(or_(*rows)))


def _record_outcome(
    db: Database,
    action: str,
    actor: str,
    source: str,
    platform_id: int,
    params: Mapping[str, Any],
    outcome: audit.Outcome,
) -> None:
    """Audit a refused or failed request in a transaction of its own (the action's rolled back)."""
    known = platform_id if _platform_exists(db, platform_id) else None
    with db.session() as s:
        audit.record(s, actor=actor, action=action, source=source, platform_id=known, params=params, outcome=outcome)


def _platform_exists(db: Database, platform_id: int) -> bool:
    with db.session() as s:
        return s.get(Platform, platform_id) is not None


# -- export ------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _grade(row: GradeOutbox) -> dict[str, Any]:
    return {
        "line_item": row.line_item_url or row.line_item_key,
        "label": row.label,
        "status": row.status,
        "score_given": row.score_given,
        "score_maximum": row.score_maximum,
        "activity_progress": row.activity_progress,
        "grading_progress": row.grading_progress,
        "outcome_at": _iso(row.outcome_at),
        "delivery_attempts": row.attempts,
        "delivered_at": _iso(row.delivered_at),
        "grade_delivered": row.grade_delivered,
        "last_status_code": row.last_status_code,
    }


def _attempt(row: Attempt, version: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "course_version": version,
        "status": row.status,
        "current_item": row.current_item,
        "outcome": row.outcome or {},
        "outcome_at": _iso(row.outcome_at),
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "completed_at": _iso(row.completed_at),
        "sequencing": row.sequencing or {},
        "sco_states": [],
    }


def _sco(row: ScoState) -> dict[str, Any]:
    return {
        "item_id": row.item_id,
        "cmi_version": row.cmi_version,
        "state": row.state or {},
        "outcome": row.outcome or {},
        "sessions": row.sessions,
        "updated_at": _iso(row.updated_at),
    }


def iter_records(db: Database, *, platform_id: int, sub: str | None = None) -> Iterator[dict[str, Any]]:
    """One record per learner registration of the platform (or of one learner), in id order.

    Streams: registrations are read by keyset pages of :data:`EXPORT_PAGE` (``id > last``), SCO
    states with ``yield_per``; memory holds one page of registrations with their attempts and SCO
    states, whatever the size of the platform.

    Raises:
        UnknownPlatform, InvalidLearner.
    """
    with db.session() as s:
        platform, learner = _learner(s, platform_id, sub)
        head = {"id": platform.id, "issuer": platform.issuer, "client_id": platform.client_id, "name": platform.name}
        after = 0
        while True:
            query = (
                select(LearnerRegistration, Course.key, Course.title)
                .join(Course, Course.id == LearnerRegistration.course_id)
                .where(LearnerRegistration.platform_id == platform_id, LearnerRegistration.id > after)
                .order_by(LearnerRegistration.id)
                .limit(EXPORT_PAGE)
            )
            if learner is not None:
                query = query.where(LearnerRegistration.learner_sub == learner.sub)
            page = s.execute(query).all()
            if not page:
                return
            after = page[-1][0].id
            yield from _page_records(s, head, page)
            s.expunge_all()  # the identity map must not grow with the export


def _page_records(s: Session, head: Mapping[str, Any], page: Sequence[Any]) -> Iterator[dict[str, Any]]:
    reg_ids = [row[0].id for row in page]
    attempts: dict[int, list[dict[str, Any]]] = {rid: [] for rid in reg_ids}
    by_attempt: dict[str, dict[str, Any]] = {}
    for attempt, version in s.execute(
        select(Attempt, CourseVersion.version)
        .join(CourseVersion, CourseVersion.id == Attempt.course_version_id)
        .where(Attempt.registration_id.in_(reg_ids))
        .order_by(Attempt.registration_id, Attempt.number)
    ):
        record = _attempt(attempt, version)
        attempts[attempt.registration_id].append(record)
        by_attempt[attempt.id] = record
    if by_attempt:
        states = (
            select(ScoState)
            .where(ScoState.attempt_id.in_(list(by_attempt)))
            .order_by(ScoState.attempt_id, ScoState.item_id)
        )
        scos = s.scalars(states.execution_options(yield_per=100))
        try:
            for sco in scos:
                by_attempt[sco.attempt_id]["sco_states"].append(_sco(sco))
        finally:
            scos.close()
    grades: dict[tuple[str, str], list[dict[str, Any]]] = {}
    subs = sorted({row[0].learner_sub for row in page})
    links = {f"{row[0].deployment_id}/{row[0].resource_link_id}" for row in page}
    line_items = sorted(links | {f"{key}#{LINE_ITEM_TAG}" for key in links})
    outbox = (  # all three columns of uq_grade_outbox_key: an index lookup, not a scan of the academy
        select(GradeOutbox)
        .where(
            GradeOutbox.platform_key == str(head["id"]),
            GradeOutbox.line_item_key.in_(line_items),
            GradeOutbox.user_id.in_(subs),
        )
        .order_by(GradeOutbox.id)
    )
    for g in s.scalars(outbox):
        link_key = g.line_item_key.removesuffix(f"#{LINE_ITEM_TAG}")
        grades.setdefault((g.user_id, link_key), []).append(_grade(g))
    for reg, course_key, course_title in page:
        yield {
            "platform": dict(head),
            "deployment_id": reg.deployment_id,
            "context": {"id": reg.context_id, "title": reg.context_title},
            "resource_link": {"id": reg.resource_link_id, "title": reg.resource_link_title},
            "course": {"key": course_key, "title": course_title},
            "learner": {"sub": reg.learner_sub, "name": reg.name, "email": reg.email, "is_learner": reg.is_learner},
            "registered_at": _iso(reg.created_at),
            "updated_at": _iso(reg.updated_at),
            "attempts": attempts[reg.id],
            "grades": grades.get((reg.learner_sub, f"{reg.deployment_id}/{reg.resource_link_id}"), []),
        }
    by_attempt.clear()


@dataclass(frozen=True, kw_only=True)
class ExportReport:
    """How many registrations an export wrote, and where."""

    platform_id: int
    sub: str | None
    registrations: int
    path: Path | None


def write_records(db: Database, out: IO[str], *, platform_id: int, sub: str | None = None) -> int:
    """Write the JSON Lines export to ``out``; returns the number of lines."""
    n = 0
    for record in iter_records(db, platform_id=platform_id, sub=sub):
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        n += 1
    return n


def export_learners(
    db: Database,
    *,
    platform_id: int,
    sub: str | None = None,
    out_path: Path | None = None,
    stdout: IO[str] | None = None,
    actor: str,
    source: str,
) -> ExportReport:
    """Export one platform's learner records (or one learner's: a subject access request), audited.

    With ``out_path`` the file is new, mode 0600, written under a temporary name and renamed when
    complete (an interrupted export leaves no half file under the asked name).

    Raises:
        UnknownPlatform, InvalidLearner, UnknownLearner (one learner with no registration),
        FileExistsError: ``out_path`` exists.
    """
    params: dict[str, Any] = {"platform_id": platform_id, "learner": sub[:MAX_SUB_LENGTH] if sub else None}
    params["destination"] = "file" if out_path is not None else "stdout"
    try:
        if out_path is not None and out_path.exists():
            raise FileExistsError(f"{out_path} exists: choose a new file name")
        with db.session() as s:
            _platform, learner = _learner(s, platform_id, sub)
            if learner is not None and not _has_registration(s, learner):
                raise UnknownLearner(f"no registration of learner {sub!r} on platform {platform_id}")
        if out_path is None:
            if stdout is None:  # pragma: no cover - the CLI always passes one
                raise ValueError("an output is required")
            count = write_records(db, stdout, platform_id=platform_id, sub=sub)
        else:
            count = _write_file(db, out_path, platform_id=platform_id, sub=sub)
        with db.session() as s:
            audit.record(
                s,
                actor=actor,
                action=ACTION_EXPORT,
                source=source,
                platform_id=platform_id,
                params={**params, "registrations": count},
            )
    except (PrivacyError, FileExistsError):
        _record_outcome(db, ACTION_EXPORT, actor, source, platform_id, params, audit.Outcome.REFUSED)
        raise
    except Exception:
        _record_outcome(db, ACTION_EXPORT, actor, source, platform_id, params, audit.Outcome.FAILED)
        raise
    return ExportReport(platform_id=platform_id, sub=sub, registrations=count, path=out_path)


def _has_registration(s: Session, learner: Learner) -> bool:
    return s.execute(_registration_ids(learner).limit(1)).first() is not None


def _write_file(db: Database, path: Path, *, platform_id: int, sub: str | None) -> int:
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            count = write_records(db, fh, platform_id=platform_id, sub=sub)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count

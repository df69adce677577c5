"""Export of an academy's learner records (or one learner's) as JSON Lines, streamed and audited."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import audit
from lti_tool.grades import LINE_ITEM_TAG
from lti_tool.privacy.registry import (
    ACTION_EXPORT,
    MAX_SUB_LENGTH,
    Learner,
    PrivacyError,
    UnknownLearner,
    _learner,
    _record_outcome,
    _registration_ids,
)
from lti_tool.storage import Database
from lti_tool.storage.models import Attempt, Course, CourseVersion, GradeOutbox, LearnerRegistration, ScoState

#: Registrations per page of an export: memory holds one page with its attempts and SCO states.
EXPORT_PAGE = 100


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

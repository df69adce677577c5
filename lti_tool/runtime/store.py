"""The runtime's SQL: registrations, attempts and SCO states (the attempt aggregate).

Every query the runtime runs that is more than a primary-key ``Session.get`` lives here, so the
attempt, commit and navigation modules speak in rows, not statements.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.orm import Session

from lti_tool.runtime.errors import AttemptClosed, AttemptNotFound
from lti_tool.storage.models import Attempt, AttemptStatus, CourseVersion, LearnerRegistration, ScoState

_REGISTRATION = select(LearnerRegistration).where(
    LearnerRegistration.platform_id == bindparam("platform_id"),
    LearnerRegistration.deployment_id == bindparam("deployment_id"),
    LearnerRegistration.resource_link_id == bindparam("resource_link_id"),
    LearnerRegistration.learner_sub == bindparam("learner_sub"),
)
_NEWEST_VERSION = (
    select(CourseVersion)
    .where(CourseVersion.course_id == bindparam("course_id"))
    .order_by(CourseVersion.version.desc())
    .limit(1)
)
_LAST_ATTEMPT = (
    select(Attempt)
    .where(Attempt.registration_id == bindparam("registration_id"))
    .order_by(Attempt.number.desc())
    .limit(1)
)
_COMMIT_READ = (
    select(
        ScoState.state,
        ScoState.seq,
        ScoState.cmi_version,
        ScoState.session_open,
        ScoState.last_commit_id,
        ScoState.outcome,
        Attempt.status,
        Attempt.outcome.label("attempt_outcome"),
    )
    .join(Attempt, Attempt.id == ScoState.attempt_id)
    .where(ScoState.attempt_id == bindparam("attempt_id"), ScoState.item_id == bindparam("item_id"))
)


def assign(row: Any, values: Mapping[str, Any]) -> None:
    """Set the attributes whose value differs: equal values would mark the row dirty for nothing.

    The UPDATE is the same either way (none for equal values); a clean row just costs its
    transaction's flushes nothing.
    """
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)


def active_attempt(s: Session, attempt_id: str) -> tuple[Attempt, CourseVersion]:
    """An attempt that may still be played, with its pinned course version.

    Raises:
        AttemptNotFound: no such attempt.
        AttemptClosed: completed or abandoned.
    """
    attempt = s.get(Attempt, attempt_id)
    if attempt is None:
        raise AttemptNotFound()
    if attempt.status != AttemptStatus.ACTIVE:
        raise AttemptClosed()
    version = s.get(CourseVersion, attempt.course_version_id)
    if version is None:  # pragma: no cover - FK
        raise AttemptNotFound()
    return attempt, version


def registration(
    s: Session, *, platform_id: int, deployment_id: str, resource_link_id: str, learner_sub: str
) -> LearnerRegistration | None:
    """The learner's registration on one resource link, if any."""
    params = {
        "platform_id": platform_id,
        "deployment_id": deployment_id,
        "resource_link_id": resource_link_id,
        "learner_sub": learner_sub,
    }
    return s.scalars(_REGISTRATION, params).first()


def newest_version(s: Session, course_id: int) -> CourseVersion | None:
    """The course's newest imported version (the one a new attempt plays)."""
    return s.scalars(_NEWEST_VERSION, {"course_id": course_id}).first()


def last_attempt(s: Session, registration_id: int) -> Attempt | None:
    """The registration's attempt with the highest number."""
    return s.scalars(_LAST_ATTEMPT, {"registration_id": registration_id}).first()


_SCO_STATES = ScoState.__table__
_COMMIT_WRITE = (
    update(_SCO_STATES)
    .where(
        _SCO_STATES.c.attempt_id == bindparam("w_attempt_id"),
        _SCO_STATES.c.item_id == bindparam("w_item_id"),
        _SCO_STATES.c.seq == bindparam("read_seq"),
    )
    .values(
        state=bindparam("state", type_=_SCO_STATES.c.state.type),
        seq=bindparam("seq"),
        outcome=bindparam("outcome", type_=_SCO_STATES.c.outcome.type),
        session_open=bindparam("session_open"),
        last_commit_id=bindparam("last_commit_id"),
        updated_at=bindparam("updated_at", type_=_SCO_STATES.c.updated_at.type),
    )
)
COMMIT_COLUMNS = frozenset(("state", "seq", "outcome", "session_open", "last_commit_id", "updated_at"))


def commit_row(s: Session, attempt_id: str, item_id: str) -> Row[Any] | None:
    """One SCO's state joined with its attempt's status and outcome (the commit's only read).

    A Core statement on the session's connection (same transaction): the ORM's per-statement
    work (compile state, identity map) buys nothing for a row of plain columns on the hot path.
    """
    return s.connection().execute(_COMMIT_READ, {"attempt_id": attempt_id, "item_id": item_id}).first()


def write_commit(s: Session, attempt_id: str, item_id: str, read_seq: int, values: Mapping[str, Any]) -> bool:
    """Store a SCO's new state if its ``seq`` is still ``read_seq``; False when another commit won.

    ``values`` holds exactly :data:`COMMIT_COLUMNS`. One prebuilt Core UPDATE on the session's
    connection (the seq guard is its WHERE clause); no ORM object is loaded or synchronised.
    """
    params = {**values, "w_attempt_id": attempt_id, "w_item_id": item_id, "read_seq": read_seq}
    done = s.connection().execute(_COMMIT_WRITE, params)
    return bool(done.rowcount == 1)


def item_outcomes(s: Session, attempt_id: str) -> dict[str, dict[str, Any]]:
    """The stored outcome of each started item of an attempt, by item id."""
    rows = s.execute(select(ScoState.item_id, ScoState.outcome).where(ScoState.attempt_id == attempt_id)).all()
    return {item_id: outcome for item_id, outcome in rows}

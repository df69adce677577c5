"""Learner progress tables (``learner_registrations``, ``attempts``, ``sco_states``): their store in
the shared core.

The runtime writes them; the class report, grade delivery, the platform gate, privacy and the CLI
read them. Only this module builds queries on them (docs/ARCHITECTURE.md, "Storage boundary"; the
runtime's own queries move here as the runtime is reworked).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Row, bindparam, case, func, select
from sqlalchemy.orm import Session

from lti_tool.storage.db import Database
from lti_tool.storage.models import Attempt, AttemptStatus, LearnerRegistration, ScoState, utcnow

if TYPE_CHECKING:
    from lti_tool.audit import Actor


class ActivityLearner(NamedTuple):
    """One learner registration of an activity, its newest attempt (None: never started) and how
    many attempts it has."""

    registration: LearnerRegistration
    newest_attempt: Attempt | None
    attempts: int


def _with_newest_attempt(*where: Any) -> Any:
    """Registrations matching ``where``, each with its newest attempt (or None) and attempt count."""
    newest = (
        select(Attempt.registration_id, func.max(Attempt.number).label("number"), func.count().label("n"))
        .group_by(Attempt.registration_id)
        .subquery()
    )
    return (
        select(LearnerRegistration, Attempt, newest.c.n)
        .join(newest, newest.c.registration_id == LearnerRegistration.id, isouter=True)
        .join(
            Attempt,
            (Attempt.registration_id == LearnerRegistration.id) & (Attempt.number == newest.c.number),
            isouter=True,
        )
        .where(*where)
    )


def activity_learners(
    db: Database, *, platform_id: int, deployment_id: str, resource_link_id: str
) -> list[ActivityLearner]:
    """Every learner (not instructor) registration of one activity of one tenant, in one query."""
    query = _with_newest_attempt(
        LearnerRegistration.platform_id == platform_id,
        LearnerRegistration.deployment_id == deployment_id,
        LearnerRegistration.resource_link_id == resource_link_id,
        LearnerRegistration.is_learner.is_(True),
    )
    with db.session() as s:
        rows = s.execute(query).all()
    return [ActivityLearner(reg, attempt, int(count or 0)) for reg, attempt, count in rows]


def course_registrations(s: Session, course_id: int) -> Sequence[LearnerRegistration]:
    """Every registration (any platform, any activity) on one catalogue course, in the caller's session."""
    return s.scalars(select(LearnerRegistration).where(LearnerRegistration.course_id == course_id)).all()


_ATTEMPT_PLATFORM = (
    select(LearnerRegistration.platform_id)
    .join(Attempt, Attempt.registration_id == LearnerRegistration.id)
    .where(Attempt.id == bindparam("b_id"))
)


def attempt_platform_id(db: Database, attempt_id: str) -> int | None:
    """The platform of an attempt (None: no such attempt); the platform gate's lookup (one prebuilt statement)."""
    with db.engine.connect() as conn:
        owner = conn.execute(_ATTEMPT_PLATFORM, {"b_id": attempt_id}).scalar()
    return None if owner is None else int(owner)


# -- read models of the operator console and the class/learner pages -----------------------------
# Grouped queries only (one per figure, whatever the number of learners); the aggregation that
# turns the rows into a report stays with the report (``lti.academies``, ``regional``,
# ``catalogue_usage``, ``class_insights``, ``learner_home``).


class PlatformUsage(NamedTuple):
    """One platform's use: distinct learners (learner role), distinct activities, attempts."""

    learners: int
    activities: int
    attempts: int


def usage_by_platform(s: Session) -> dict[int, PlatformUsage]:
    """Every platform's use, in three grouped queries in the caller's session (no row: never used)."""
    learners = dict(
        s.execute(
            select(LearnerRegistration.platform_id, func.count(func.distinct(LearnerRegistration.learner_sub)))
            .where(LearnerRegistration.is_learner.is_(True))
            .group_by(LearnerRegistration.platform_id)
        ).all()
    )
    links = (
        select(LearnerRegistration.platform_id, LearnerRegistration.deployment_id, LearnerRegistration.resource_link_id)
        .distinct()
        .subquery()
    )
    activities = dict(s.execute(select(links.c.platform_id, func.count()).group_by(links.c.platform_id)).all())
    attempts = dict(
        s.execute(
            select(LearnerRegistration.platform_id, func.count(Attempt.id))
            .join(Attempt, Attempt.registration_id == LearnerRegistration.id)
            .group_by(LearnerRegistration.platform_id)
        ).all()
    )
    return {
        pid: PlatformUsage(int(learners.get(pid, 0)), int(activities.get(pid, 0)), int(attempts.get(pid, 0)))
        for pid in {*learners, *activities, *attempts}
    }


def enrolment_attempts(db: Database, platform_id: int | None) -> Iterator[Row[Any]]:
    """Every learner-role registration (of one platform, or all) joined to its attempts, ordered by
    registration, streamed (``registration_id, platform_id, course_id, learner_sub, outcome,
    completed_at, outcome_at``; the attempt columns are None for a registration without attempts)."""
    query = (
        select(
            LearnerRegistration.id,
            LearnerRegistration.platform_id,
            LearnerRegistration.course_id,
            LearnerRegistration.learner_sub,
            Attempt.outcome,
            Attempt.completed_at,
            Attempt.outcome_at,
        )
        .join(Attempt, Attempt.registration_id == LearnerRegistration.id, isouter=True)
        .where(LearnerRegistration.is_learner.is_(True))
        .order_by(LearnerRegistration.id)
    )
    if platform_id is not None:
        query = query.where(LearnerRegistration.platform_id == platform_id)
    with db.session() as s:
        yield from s.execute(query).yield_per(2000)


def course_version_usage(s: Session, course_id: int) -> list[Row[Any]]:
    """Per (course version, platform) of one course: distinct activities, attempts, active attempts
    (``course_version_id, platform_id, activities, attempts, active``), one grouped query."""
    return list(
        s.execute(
            select(
                Attempt.course_version_id,
                LearnerRegistration.platform_id,
                func.count(func.distinct(LearnerRegistration.resource_link_id)),
                func.count(Attempt.id),
                func.sum(case((Attempt.status == "active", 1), else_=0)),
            )
            .join(LearnerRegistration, LearnerRegistration.id == Attempt.registration_id)
            .where(LearnerRegistration.course_id == course_id)
            .group_by(Attempt.course_version_id, LearnerRegistration.platform_id)
        ).all()
    )


def course_activity_count(s: Session, course_id: int) -> int:
    """How many activities (platform, deployment, resource link) use one course."""
    links = (
        select(LearnerRegistration.platform_id, LearnerRegistration.deployment_id, LearnerRegistration.resource_link_id)
        .where(LearnerRegistration.course_id == course_id)
        .distinct()
        .subquery()
    )
    return int(s.scalar(select(func.count()).select_from(links)) or 0)


def newest_attempt_sco_states(
    db: Database, *, platform_id: int, deployment_id: str, resource_link_id: str
) -> list[tuple[str, Any]]:
    """``(item id, state document)`` of every SCO state of each learner's newest attempt of one activity."""
    newest = (
        select(Attempt.registration_id, func.max(Attempt.number).label("number"))
        .join(LearnerRegistration, LearnerRegistration.id == Attempt.registration_id)
        .where(
            LearnerRegistration.platform_id == platform_id,
            LearnerRegistration.deployment_id == deployment_id,
            LearnerRegistration.resource_link_id == resource_link_id,
            LearnerRegistration.is_learner.is_(True),
        )
        .group_by(Attempt.registration_id)
        .subquery()
    )
    query = (
        select(ScoState.item_id, ScoState.state)
        .join(Attempt, Attempt.id == ScoState.attempt_id)
        .join(
            newest,
            (newest.c.registration_id == Attempt.registration_id) & (newest.c.number == Attempt.number),
        )
    )
    with db.session() as s:
        return [(item_id, state) for item_id, state in s.execute(query).all()]


def context_learner_activities(
    s: Session, *, platform_id: int, deployment_id: str, context_id: str, learner_sub: str
) -> list[ActivityLearner]:
    """One learner's registrations in one LMS course (context) of one tenant, each with its newest
    attempt and attempt count, in one query in the caller's session."""
    query = _with_newest_attempt(
        LearnerRegistration.platform_id == platform_id,
        LearnerRegistration.deployment_id == deployment_id,
        LearnerRegistration.context_id == context_id,
        LearnerRegistration.learner_sub == learner_sub,
    )
    return [ActivityLearner(reg, attempt, int(count or 0)) for reg, attempt, count in s.execute(query).all()]


def attempt_is_active(db: Database, attempt_id: str) -> bool:
    """Whether attempt ``attempt_id`` exists and is still running (the player can reopen it)."""
    with db.session() as s:
        status = s.scalar(select(Attempt.status).where(Attempt.id == attempt_id))
    return status == AttemptStatus.ACTIVE.value


def abandon_newest_attempt(
    db: Database,
    *,
    platform_id: int,
    deployment_id: str,
    resource_link_id: str,
    learner_sub: str,
    actor: Actor | None,
) -> bool | None:
    """End a learner's newest attempt on one activity of one tenant, kept in history as ``abandoned``.

    The learner's next launch then starts a new attempt (the next number): an instructor's
    "reset". Audited as ``attempts.reset`` in the same transaction.

    Returns:
        True when an attempt was ended; False when the newest attempt was abandoned already
        (nothing to do); None when the learner has no attempt on this activity.
    """
    from lti_tool.audit import record_as  # the audit log imports the storage package

    with db.session() as s:
        attempt = s.scalars(
            select(Attempt)
            .join(LearnerRegistration, LearnerRegistration.id == Attempt.registration_id)
            .where(
                LearnerRegistration.platform_id == platform_id,
                LearnerRegistration.deployment_id == deployment_id,
                LearnerRegistration.resource_link_id == resource_link_id,
                LearnerRegistration.learner_sub == learner_sub,
            )
            .order_by(Attempt.number.desc())
            .limit(1)
        ).first()
        if attempt is None:
            return None
        if attempt.status == AttemptStatus.ABANDONED.value:
            return False
        previous = attempt.status
        attempt.status = AttemptStatus.ABANDONED.value
        attempt.completed_at = attempt.completed_at or utcnow()
        record_as(
            s,
            actor,
            "attempts.reset",
            params={"deployment_id": deployment_id, "resource_link_id": resource_link_id, "sub": learner_sub,
                    "attempt": attempt.number, "was": previous},
            platform_id=platform_id,
        )  # fmt: skip
        return True

def attempt_by_id(s: Session, attempt_id: str) -> Attempt | None:
    """One attempt, any status (the cmi5 LRS hook: an AU session's attempt)."""
    return s.get(Attempt, attempt_id)


def registration_by_id(s: Session, registration_id: int) -> LearnerRegistration | None:
    """One learner registration (erased: None)."""
    return s.get(LearnerRegistration, registration_id)

"""Learner progress tables (``learner_registrations``, ``attempts``, ``sco_states``): their store in
the shared core.

The runtime writes them; the class report, grade delivery, the platform gate, privacy and the CLI
read them. Only this module builds queries on them (docs/ARCHITECTURE.md, "Storage boundary"; the
runtime's own queries move here as the runtime is reworked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.storage.db import Database
from lti_tool.storage.models import Attempt, AttemptStatus, LearnerRegistration, utcnow

if TYPE_CHECKING:
    from lti_tool.audit import Actor


class ActivityLearner(NamedTuple):
    """One learner registration of an activity, its newest attempt (None: never started) and how
    many attempts it has."""

    registration: LearnerRegistration
    newest_attempt: Attempt | None
    attempts: int


def activity_learners(
    db: Database, *, platform_id: int, deployment_id: str, resource_link_id: str
) -> list[ActivityLearner]:
    """Every learner (not instructor) registration of one activity of one tenant, in one query."""
    with db.session() as s:
        newest = (
            select(Attempt.registration_id, func.max(Attempt.number).label("number"), func.count().label("n"))
            .group_by(Attempt.registration_id)
            .subquery()
        )
        rows = s.execute(
            select(LearnerRegistration, Attempt, newest.c.n)
            .join(newest, newest.c.registration_id == LearnerRegistration.id, isouter=True)
            .join(
                Attempt,
                (Attempt.registration_id == LearnerRegistration.id) & (Attempt.number == newest.c.number),
                isouter=True,
            )
            .where(
                LearnerRegistration.platform_id == platform_id,
                LearnerRegistration.deployment_id == deployment_id,
                LearnerRegistration.resource_link_id == resource_link_id,
                LearnerRegistration.is_learner.is_(True),
            )
        ).all()
    return [ActivityLearner(reg, attempt, int(count or 0)) for reg, attempt, count in rows]


def course_registrations(s: Session, course_id: int) -> Sequence[LearnerRegistration]:
    """Every registration (any platform, any activity) on one catalogue course, in the caller's session."""
    return s.scalars(select(LearnerRegistration).where(LearnerRegistration.course_id == course_id)).all()


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

"""Learner progress tables (``learner_registrations``, ``attempts``, ``sco_states``): their store in
the shared core.

The runtime writes them; the class report, grade delivery, the platform gate, privacy and the CLI
read them. Only this module builds queries on them (docs/ARCHITECTURE.md, "Storage boundary"; the
runtime's own queries move here as the runtime is reworked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.storage.db import Database
from lti_tool.storage.models import Attempt, LearnerRegistration


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


def attempt_by_id(s: Session, attempt_id: str) -> Attempt | None:
    """One attempt, any status (the cmi5 LRS hook: an AU session's attempt)."""
    return s.get(Attempt, attempt_id)


def registration_by_id(s: Session, registration_id: int) -> LearnerRegistration | None:
    """One learner registration (erased: None)."""
    return s.get(LearnerRegistration, registration_id)

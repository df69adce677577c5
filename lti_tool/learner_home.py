"""The learner's home: their courses in one LMS course (context), with how far they got.

Shown when a launch names no activity of its own, and after the learner finishes one. Scoped to
the launch's tenant (platform, deployment), LMS course (context) and learner (``sub``): nothing
of another learner, course or academy is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lti_tool.reports import _state as learner_state
from lti_tool.storage import Database
from lti_tool.storage import courses as course_store
from lti_tool.storage import learners as learner_store


@dataclass(frozen=True, kw_only=True)
class HomeCourse:
    """One activity of the learner in this LMS course."""

    registration_id: int
    resource_link_id: str
    title: str
    state: str  # not_started | in_progress | completed | passed | failed
    score_percent: float | None
    progress_percent: int | None
    attempts: int
    last_activity: datetime | None
    attempt_id: str | None


def learner_courses(
    db: Database, *, platform_id: int, deployment_id: str, context_id: str | None, learner_sub: str
) -> list[HomeCourse]:
    """The learner's activities in the LMS course, unfinished first, then by most recent use."""
    if not context_id:
        return []
    with db.session() as s:
        rows = learner_store.context_learner_activities(
            s, platform_id=platform_id, deployment_id=deployment_id, context_id=context_id, learner_sub=learner_sub
        )
        titles = course_store.course_titles(s, {row.registration.course_id for row in rows})
    courses = []
    for reg, attempt, count in rows:
        outcome = attempt.outcome if attempt is not None else {}
        scaled = outcome.get("score_scaled")
        progress = outcome.get("progress_measure")
        courses.append(
            HomeCourse(
                registration_id=reg.id,
                resource_link_id=reg.resource_link_id,
                title=reg.resource_link_title or titles.get(reg.course_id, ""),
                state=learner_state(outcome) if attempt is not None else "not_started",
                score_percent=round(scaled * 100, 1) if isinstance(scaled, int | float) else None,
                progress_percent=round(progress * 100) if isinstance(progress, int | float) else None,
                attempts=int(count or 0),
                last_activity=attempt.updated_at if attempt is not None else None,
                attempt_id=attempt.id if attempt is not None else None,
            )
        )
    finished = ("completed", "passed", "failed")
    courses.sort(key=lambda c: (c.state in finished, -(c.last_activity.timestamp() if c.last_activity else 0)))
    return courses

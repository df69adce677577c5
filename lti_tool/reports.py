"""Class progress for instructors: who has not started, who is stuck, who passed, what reached the gradebook.

One query over the activity's registrations and their newest attempts, merged with the LMS
roster when the LMS offers it, so learners who never opened the activity are listed too.
Everything is scoped to one tenant (platform, deployment) and one resource link.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lti_tool.services import Services
from lti_tool.storage import learners

LEARNER_ROLE_MARKERS = ("Learner", "Student")


@dataclass(frozen=True, kw_only=True)
class LearnerRow:
    """One learner's standing on one activity."""

    user_id: str
    name: str
    email: str | None
    state: str  # not_started | in_progress | completed | passed | failed
    score_percent: float | None = None
    attempts: int = 0
    time_spent_seconds: float = 0.0
    last_activity: datetime | None = None
    in_roster: bool = True
    grade: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ClassReport:
    """The class view's table and its headline counts."""

    rows: tuple[LearnerRow, ...]
    counts: dict[str, int]
    average_score_percent: float | None
    roster_note: str | None = None


STATES = ("not_started", "in_progress", "completed", "passed", "failed")
"""A learner's states, in the class view's order (their words are in ``templates/lti/class.html``)."""


def _state(outcome: dict[str, Any]) -> str:
    if not outcome:
        return "in_progress"
    if outcome.get("success") == "passed":
        return "passed"
    if outcome.get("success") == "failed":
        return "failed"
    if outcome.get("completion") == "completed":
        return "completed"
    return "in_progress"


def _is_learner(roles: Sequence[str]) -> bool:
    return any(role.rsplit("#", 1)[-1] in LEARNER_ROLE_MARKERS for role in roles)


def class_report(
    services: Services,
    *,
    platform_id: int,
    deployment_id: str,
    resource_link_id: str,
    roster: Sequence[Any] | None = None,
    roster_note: str | None = None,
    grade_state: Callable[[list[str]], dict[str, dict[str, Any]]] | None = None,
) -> ClassReport:
    """Progress of every learner of one activity.

    Args:
        services: app services.
        platform_id, deployment_id, resource_link_id: the tenant and the activity.
        roster: NRPS members (``user_id``, ``name``, ``email``, ``roles``, ``is_active``), if any.
        roster_note: why there is no roster (shown to the instructor).
        grade_state: user ids → grade delivery facts (from the grade outbox), if available.
    """
    by_user: dict[str, LearnerRow] = {}
    for reg, attempt, count in learners.activity_learners(
        services.db, platform_id=platform_id, deployment_id=deployment_id, resource_link_id=resource_link_id
    ):
        outcome = attempt.outcome if attempt is not None else {}
        scaled = outcome.get("score_scaled")
        by_user[reg.learner_sub] = LearnerRow(
            user_id=reg.learner_sub,
            name=reg.name or reg.email or reg.learner_sub,
            email=reg.email,
            state=_state(outcome) if attempt is not None else "not_started",
            score_percent=round(scaled * 100, 1) if isinstance(scaled, int | float) else None,
            attempts=count,
            time_spent_seconds=float(outcome.get("total_time_seconds", 0.0) or 0.0),
            last_activity=attempt.updated_at if attempt is not None else None,
            in_roster=roster is None,
        )
    if roster is not None:
        for member in roster:
            if not getattr(member, "is_active", True) or not _is_learner(getattr(member, "roles", ())):
                continue
            existing = by_user.get(member.user_id)
            if existing is not None:
                by_user[member.user_id] = LearnerRow(**{**existing.__dict__, "in_roster": True})
            else:
                by_user[member.user_id] = LearnerRow(
                    user_id=member.user_id,
                    name=member.name or member.email or member.user_id,
                    email=member.email,
                    state="not_started",
                )
    if grade_state is not None and by_user:
        grades = grade_state(list(by_user))
        by_user = {uid: LearnerRow(**{**row.__dict__, "grade": grades.get(uid, {})}) for uid, row in by_user.items()}
    ordered = sorted(by_user.values(), key=lambda r: (STATES.index(r.state), r.name.lower()))
    counts = {state: sum(1 for r in ordered if r.state == state) for state in STATES}
    scores = [r.score_percent for r in ordered if r.score_percent is not None]
    return ClassReport(
        rows=tuple(ordered),
        counts=counts,
        average_score_percent=round(sum(scores) / len(scores), 1) if scores else None,
        roster_note=roster_note,
    )

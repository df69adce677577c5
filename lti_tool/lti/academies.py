"""The operator console's view of the academies: usage per registration, refusing a pending one.

Reads and changes the ``platforms`` aggregate next to :mod:`lti_tool.lti.platforms` (which holds
the launch path's lookups and the CLI's edits); usage is counted from learner registrations and
attempts in three grouped queries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from lti_tool import audit
from lti_tool.lti.errors import PlatformAdminError
from lti_tool.lti.platforms import PlatformInfo, _changed, _info
from lti_tool.storage import Database
from lti_tool.storage.models import Attempt, Deployment, LearnerRegistration, Platform, PlatformStatus

logger = logging.getLogger(__name__)


def refuse_pending(db: Database, platform_id: int, *, actor: audit.Actor | None = None) -> PlatformInfo:
    """Forget a Dynamic Registration that waits for approval (the LMS admin may register again).

    Only a pending registration can be refused: it never launched, so nothing refers to it. An
    active or disabled one is disabled instead, which keeps its learners' records.

    Raises:
        PlatformAdminError: ``platform_not_found``, or ``not_pending`` for a registration in use.
    """
    with db.session() as s:
        p = s.get(Platform, platform_id, options=[selectinload(Platform.deployments)])
        if p is None:
            raise PlatformAdminError(f"no platform with id {platform_id}", code="platform_not_found")
        if p.status != PlatformStatus.PENDING.value:
            raise PlatformAdminError(
                f"platform {platform_id} is {p.status}, not waiting for approval: disable it instead",
                code="not_pending",
            )
        info = _info(p)
        audit.record_as(
            s,
            actor,
            "platforms.refuse",
            params={"issuer": p.issuer, "client_id": p.client_id, "source": p.source},
        )
        s.execute(delete(Deployment).where(Deployment.platform_id == platform_id))
        s.execute(delete(Platform).where(Platform.id == platform_id))
    _changed()
    logger.info("pending registration %s refused", platform_id, extra={"action": "platform_refused"})
    return info


@dataclass(frozen=True, kw_only=True)
class AcademyRow:
    """One registration as the operator console lists it."""

    info: PlatformInfo
    details: dict[str, object]
    learners: int
    activities: int
    attempts: int


def overview(db: Database) -> list[AcademyRow]:
    """Every registration with its usage: pending first (they wait for someone), then by name.

    Learners are distinct LMS users with a learner role; activities are distinct resource links.
    Three grouped queries, whatever the number of platforms.
    """
    with db.session() as s:
        rows = s.scalars(select(Platform).options(selectinload(Platform.deployments))).all()
        learners = dict(
            s.execute(
                select(LearnerRegistration.platform_id, func.count(func.distinct(LearnerRegistration.learner_sub)))
                .where(LearnerRegistration.is_learner.is_(True))
                .group_by(LearnerRegistration.platform_id)
            ).all()
        )
        links = (
            select(
                LearnerRegistration.platform_id,
                LearnerRegistration.deployment_id,
                LearnerRegistration.resource_link_id,
            )
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
        result = [
            AcademyRow(
                info=_info(p),
                details=dict(p.details or {}),
                learners=int(learners.get(p.id, 0)),
                activities=int(activities.get(p.id, 0)),
                attempts=int(attempts.get(p.id, 0)),
            )
            for p in rows
        ]
    order = {PlatformStatus.PENDING.value: 0, PlatformStatus.ACTIVE.value: 1}
    return sorted(result, key=lambda r: (order.get(r.info.status, 2), (r.info.name or r.info.issuer).lower()))

"""The operator console's view of the academies: every registration with its usage.

A read model over two owners, in one session: the registrations from :mod:`lti_tool.lti.platforms`
(which also refuses a pending one: ``platforms.registrations.refuse_pending``), their usage from
:mod:`lti_tool.storage.learners` (three grouped queries, whatever the number of platforms).
"""

from __future__ import annotations

from dataclasses import dataclass

from lti_tool.lti import platforms as platform_ops
from lti_tool.lti.platforms import PlatformInfo
from lti_tool.storage import Database
from lti_tool.storage import learners as learner_store
from lti_tool.storage.models import PlatformStatus


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
        previews = platform_ops.preview_platform_ids(s)  # the operator preview's tenant is no academy
        registrations = [r for r in platform_ops.platforms_with_details(s) if r[0].id not in previews]
        usage = learner_store.usage_by_platform(s)
    unused = learner_store.PlatformUsage(0, 0, 0)
    result = [
        AcademyRow(
            info=info,
            details=details,
            learners=usage.get(info.id, unused).learners,
            activities=usage.get(info.id, unused).activities,
            attempts=usage.get(info.id, unused).attempts,
        )
        for info, details in registrations
    ]
    order = {PlatformStatus.PENDING.value: 0, PlatformStatus.ACTIVE.value: 1}
    return sorted(result, key=lambda r: (order.get(r.info.status, 2), (r.info.name or r.info.issuer).lower()))

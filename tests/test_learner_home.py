"""The learner home lists the learner's own activities in one LMS course, nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime

from lti_tool.learner_home import learner_courses
from lti_tool.services import Services
from lti_tool.storage.models import LearnerRegistration
from tests.test_regional import PASSED, add_course, enrol

BUSY = {"completion": "incomplete", "success": "unknown", "progress_measure": 0.4}


def set_context(services: Services, context: str, title: str | None = None) -> None:
    with services.db.session() as s:
        for reg in s.query(LearnerRegistration).filter(LearnerRegistration.context_id.is_(None)):
            reg.context_id = context
            reg.resource_link_title = title


def test_own_activities_in_this_lms_course_unfinished_first(services: Services, platform_id: int) -> None:
    ethics = add_course(services, "Ethics")
    customs = add_course(services, "Customs", display="Customs Basics")
    enrol(services, platform_id, ethics, "ana", (PASSED, datetime(2026, 3, 1, tzinfo=UTC)))
    enrol(services, platform_id, customs, "ana", (BUSY, None))
    set_context(services, "course-101")
    enrol(services, platform_id, ethics, "ben", (BUSY, None))  # another learner
    set_context(services, "course-101")
    other_course = add_course(services, "Firearms")
    enrol(services, platform_id, other_course, "ana", (BUSY, None))  # ana in another LMS course
    set_context(services, "course-202")

    home = learner_courses(
        services.db, platform_id=platform_id, deployment_id="d", context_id="course-101", learner_sub="ana"
    )
    assert [(c.title, c.state) for c in home] == [("Customs Basics", "in_progress"), ("Ethics", "passed")]
    assert home[0].progress_percent == 40 and home[0].attempts == 1 and home[0].attempt_id
    assert home[1].score_percent == 90.0
    assert (
        learner_courses(
            services.db, platform_id=platform_id, deployment_id="other", context_id="course-101", learner_sub="ana"
        )
        == []
    )
    assert (
        learner_courses(services.db, platform_id=platform_id, deployment_id="d", context_id=None, learner_sub="ana")
        == []
    )


def test_link_title_wins_and_never_opened_is_not_started(services: Services, platform_id: int) -> None:
    course = add_course(services, "Package title")
    enrol(services, platform_id, course, "cy")
    set_context(services, "course-9", title="Week 1: Use of force")
    [only] = learner_courses(
        services.db, platform_id=platform_id, deployment_id="d", context_id="course-9", learner_sub="cy"
    )
    assert (only.title, only.state, only.attempts, only.attempt_id) == ("Week 1: Use of force", "not_started", 0, None)

"""Class progress report: states, scores, roster merge, tenant scoping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import factories

from lti_tool.lti.context import Launch
from lti_tool.reports import class_report
from lti_tool.runtime import service
from lti_tool.services import Services

GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@dataclass
class Member:
    user_id: str
    name: str | None
    email: str | None = None
    roles: tuple[str, ...] = (LEARNER,)
    is_active: bool = True


def play(services: Services, launch: Launch, changes: dict[str, str] | None) -> None:
    opened, _ = factories.start_attempt(services, launch)
    if changes:
        service.commit(services, opened.attempt_id, opened.current_item or "", {"seq": 1, "changes": changes})


def test_report_states_scores_and_roster(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], platform_id: int
) -> None:
    course = import_course(GOLF2004)
    key = course.course_key
    play(services, make_launch(key, sub="ana", name="Ana"), {"cmi.score.scaled": "0.9", "cmi.success_status": "passed"})
    play(services, make_launch(key, sub="bob", name="Bob"), {"cmi.score.scaled": "0.4", "cmi.success_status": "failed"})
    play(services, make_launch(key, sub="cy", name="Cy"), {"cmi.location": "3"})
    play(services, make_launch(key, sub="teach", name="Teacher", roles=(INSTRUCTOR,)), None)
    play(services, make_launch(key, sub="other-link", link="rl-9"), None)  # another activity: not counted
    roster = [
        Member("ana", "Ana"),
        Member("bob", "Bob"),
        Member("cy", "Cy"),
        Member("dee", "Dee"),  # never opened the activity
        Member("gone", "Gone", is_active=False),
        Member("teach", "Teacher", roles=(INSTRUCTOR,)),
    ]
    report = class_report(
        services, platform_id=platform_id, deployment_id="dep-1", resource_link_id="rl-1", roster=roster
    )
    states = {r.user_id: r.state for r in report.rows}
    assert states == {"ana": "passed", "bob": "failed", "cy": "in_progress", "dee": "not_started"}
    assert report.counts == {"not_started": 1, "in_progress": 1, "completed": 0, "passed": 1, "failed": 1}
    assert report.average_score_percent == 65.0
    assert report.rows[0].user_id == "dee"  # who has not started comes first
    ana = next(r for r in report.rows if r.user_id == "ana")
    assert ana.score_percent == 90.0 and ana.attempts == 1 and ana.last_activity is not None


def test_report_without_roster_lists_who_launched(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], platform_id: int
) -> None:
    course = import_course(GOLF2004)
    play(services, make_launch(course.course_key, sub="ana", name="Ana"), None)
    report = class_report(
        services, platform_id=platform_id, deployment_id="dep-1", resource_link_id="rl-1", roster_note="no roster"
    )
    assert [(r.user_id, r.state) for r in report.rows] == [("ana", "in_progress")]
    assert report.roster_note == "no roster"
    other_tenant = class_report(services, platform_id=platform_id, deployment_id="dep-2", resource_link_id="rl-1")
    assert other_tenant.rows == ()


def test_grade_state_is_shown(
    services: Services, import_course: Callable, make_launch: Callable[..., Launch], platform_id: int
) -> None:
    course = import_course(GOLF2004)
    play(services, make_launch(course.course_key, sub="ana", name="Ana"), None)
    report = class_report(
        services,
        platform_id=platform_id,
        deployment_id="dep-1",
        resource_link_id="rl-1",
        grade_state=lambda users: {u: {"text": f"delivered for {u}"} for u in users},
    )
    assert report.rows[0].grade == {"text": "delivered for ana"}

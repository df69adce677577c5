"""The read models get their rows from the tables' owners in grouped queries: the number of SQL
statements does not grow with the number of platforms, courses, learners or attempts (no N+1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from lti_tool import catalogue_usage, class_insights, learner_home, regional
from lti_tool.lti import academies
from lti_tool.services import Services
from lti_tool.storage.models import LearnerRegistration
from tests.test_regional import PASSED, add_course, add_platform, enrol


@contextmanager
def counted(services: Services) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(services.db.engine, "before_cursor_execute", record)


def grow(services: Services, platform: int, course: tuple[int, int], prefix: str, n: int) -> None:
    for i in range(n):
        enrol(services, platform, course, f"{prefix}{i}", (PASSED, datetime(2026, 3, 1, tzinfo=UTC)))
    with services.db.session() as s:
        for reg in s.query(LearnerRegistration).filter(LearnerRegistration.context_id.is_(None)):
            reg.context_id = "ctx"


def statements_for(services: Services, report: Callable[[], object]) -> int:
    with counted(services) as statements:
        report()
    return len(statements)


def test_read_models_run_a_fixed_number_of_statements(services: Services) -> None:
    first = add_platform(services, "First Academy")
    course = add_course(services, "Ethics")
    grow(services, first, course, "a", 1)
    reports: dict[str, Callable[[], object]] = {
        "academies": lambda: academies.overview(services.db),
        "regional": lambda: regional.regional_report(services.db),
        "usage": lambda: catalogue_usage.course_usage(services.db, course[0]),
        "questions": lambda: class_insights.question_results(
            services.db, platform_id=first, deployment_id="d", resource_link_id=f"link-{course[0]}"
        ),
        "home": lambda: learner_home.learner_courses(
            services.db, platform_id=first, deployment_id="d", context_id="ctx", learner_sub="a0"
        ),
    }
    small = {name: statements_for(services, report) for name, report in reports.items()}
    for n in range(4):
        other = add_platform(services, f"Academy {n}")
        grow(services, other, add_course(services, f"Course {n}"), f"p{n}-", 5)
    grow(services, first, course, "b", 8)
    for n in range(3):  # the same learner in more activities of the same LMS course
        grow(services, first, add_course(services, f"Module {n}"), "a", 1)
    large = {name: statements_for(services, report) for name, report in reports.items()}
    assert large == small
    assert (
        len(
            learner_home.learner_courses(
                services.db, platform_id=first, deployment_id="d", context_id="ctx", learner_sub="a0"
            )
        )
        == 4
    )

"""The regional report's figures, checked against rows written straight into the database."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from lti_tool.regional import CSV_HEADER, csv_rows, regional_report
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, Course, CourseVersion, LearnerRegistration, Platform

_ids = itertools.count(1)
JAN = datetime(2026, 1, 15, tzinfo=UTC)
FEB = datetime(2026, 2, 3, tzinfo=UTC)
MAR = datetime(2026, 3, 30, tzinfo=UTC)


def add_platform(services: Services, name: str) -> int:
    with services.db.session() as s:
        p = Platform(
            issuer=f"https://{name.lower().replace(' ', '-')}.example",
            client_id="c",
            name=name,
            auth_login_url="https://x.example/a",
            auth_token_url="https://x.example/t",
            key_set_url="https://x.example/k",
            status="active",
            details={},
        )
        s.add(p)
        s.flush()
        return p.id


def add_course(services: Services, title: str, display: str | None = None) -> tuple[int, int]:
    n = next(_ids)
    with services.db.session() as s:
        c = Course(key=f"course-{n}", title=title, display_title=display, standard="scorm12")
        s.add(c)
        s.flush()
        v = CourseVersion(
            course_id=c.id,
            version=1,
            sha256=f"{n:064x}",
            standard="scorm12",
            title=title,
            launchable_count=1,
            size_bytes=1,
            content_dir=f"dir-{n}",
            structure={},
        )
        s.add(v)
        s.flush()
        return c.id, v.id


def enrol(
    services: Services,
    platform: int,
    course: tuple[int, int],
    learner: str,
    *outcomes: tuple[dict, datetime | None],
    is_learner: bool = True,
) -> None:
    with services.db.session() as s:
        reg = LearnerRegistration(
            platform_id=platform,
            deployment_id="d",
            resource_link_id=f"link-{course[0]}",
            learner_sub=learner,
            is_learner=is_learner,
            course_id=course[0],
        )
        s.add(reg)
        s.flush()
        for number, (outcome, completed_at) in enumerate(outcomes, start=1):
            s.add(
                Attempt(
                    id=f"a{next(_ids)}",
                    registration_id=reg.id,
                    number=number,
                    course_version_id=course[1],
                    outcome=outcome,
                    completed_at=completed_at,
                    outcome_at=completed_at,
                    status="completed" if completed_at else "active",
                )
            )


PASSED = {"completion": "completed", "success": "passed", "score_scaled": 0.9}
FAILED = {"completion": "completed", "success": "failed", "score_scaled": 0.4}
DONE = {"completion": "completed", "success": "unknown"}
BUSY = {"completion": "incomplete", "success": "unknown"}


@pytest.fixture
def region(services: Services) -> dict[str, object]:
    jamaica = add_platform(services, "Jamaica Police Academy")
    haiti = add_platform(services, "Académie de Police d'Haïti")
    ethics = add_course(services, "Ethics", display="Police Ethics")
    customs = add_course(services, "Customs Basics")
    add_course(services, "Never Used")
    enrol(services, jamaica, ethics, "ana", (PASSED, JAN))
    enrol(services, jamaica, ethics, "ben", (FAILED, JAN), (PASSED, FEB))  # retook and passed
    enrol(services, jamaica, ethics, "cy", (FAILED, FEB))
    enrol(services, jamaica, customs, "ana", (DONE, MAR))  # ana again, a second course
    enrol(services, jamaica, customs, "dee", (BUSY, None))
    enrol(services, jamaica, customs, "eve")  # enrolled, never started
    enrol(services, jamaica, customs, "teacher", (PASSED, JAN), is_learner=False)  # not counted
    enrol(services, haiti, ethics, "ana", (PASSED, MAR))  # another LMS identity
    return {"jamaica": jamaica, "haiti": haiti, "ethics": ethics[0], "customs": customs[0]}


def test_headline_figures(services: Services, region: dict) -> None:
    report = regional_report(services.db)
    assert report.officers_trained == 4  # jamaica: ana, ben, cy (completed, failed); haiti: ana
    totals = report.totals
    assert (totals.enrolments, totals.started, totals.completed, totals.passed, totals.failed) == (7, 6, 5, 3, 1)
    assert report.courses_delivered == 2
    assert len(totals.learners) == 6  # jamaica ana ben cy dee eve, haiti ana


def test_per_academy_and_course(services: Services, region: dict) -> None:
    report = regional_report(services.db)
    jamaica = report.academies[region["jamaica"]]
    assert (jamaica.enrolments, jamaica.completed, jamaica.passed, jamaica.failed) == (6, 4, 2, 1)
    assert jamaica.pass_rate == pytest.approx(2 / 3)
    assert report.academy_names[region["haiti"]] == "Académie de Police d'Haïti"
    ethics = report.courses[region["ethics"]]
    assert (ethics.enrolments, ethics.completed, ethics.passed, ethics.failed) == (4, 4, 3, 1)
    assert report.course_titles[region["ethics"]] == "Police Ethics"  # the display title
    customs = report.by_academy_course[(region["jamaica"], region["customs"])]
    assert (customs.enrolments, customs.started, customs.completed) == (3, 2, 1)
    assert customs.pass_rate is None  # nobody has a result yet


def test_months_count_first_completion(services: Services, region: dict) -> None:
    months = {p.month: (p.completed, p.passed) for p in regional_report(services.db).months}
    # ben failed in January and passed in February: his completion counts in January (first completed
    # attempt), his pass in February (first passed attempt)
    assert months == {"2026-01": (2, 1), "2026-02": (1, 1), "2026-03": (2, 1)}


def test_window_and_one_academy(services: Services, region: dict) -> None:
    report = regional_report(services.db, since=FEB, until=datetime(2026, 4, 1, tzinfo=UTC))
    assert report.totals.completed == 3  # cy (Feb), ana customs (Mar), ana haiti (Mar)
    assert report.totals.enrolments == 7  # enrolments are not dated
    only = regional_report(services.db, platform_id=region["haiti"])
    assert list(only.academies) == [region["haiti"]]
    assert only.officers_trained == 1


def test_csv_rows_agree_with_the_report(services: Services, region: dict) -> None:
    rows = list(csv_rows(regional_report(services.db)))
    assert rows[0] == CSV_HEADER
    assert rows[-1][:2] == ("*", "*") and rows[-1][2] == "7"
    per_academy = [r for r in rows if r[1] == "*" and r[0] != "*"]
    assert [r[0] for r in per_academy] == ["Académie de Police d'Haïti", "Jamaica Police Academy"]
    pairs = [r for r in rows[1:] if r[1] != "*"]
    assert sum(int(r[2]) for r in pairs) == 7
    assert ("Jamaica Police Academy", "Police Ethics", "3", "3", "3", "3", "2", "1", "1.0000", "0.6667") in rows


def test_empty_database(services: Services) -> None:
    report = regional_report(services.db)
    assert report.officers_trained == 0 and report.courses_delivered == 0 and report.months == ()
    assert list(csv_rows(report))[-1] == ("*", "*", "0", "0", "0", "0", "0", "0", "", "")

"""The instructor class view: the table, per-question results, charts, the actions and their scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import factories
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from lti_tool.lti.context import Launch
from lti_tool.runtime import service
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, AuditEntry, GradeOutbox

HOSTILE = '<script>alert("x")</script>'
JSON = {"Accept": "application/json"}


def token_for(services: Services, launch: Launch) -> str:
    """A launch token for ``launch`` as a real launch leaves it (the launch known to the service)."""
    services.lti._recent[launch.id] = (datetime.now(UTC) + timedelta(hours=1), launch)
    return services.lti.launch_token(launch.id)


@pytest.fixture
def course_key(services: Services, fixtures_dir: Path) -> str:
    return factories.import_course(services, fixtures_dir / factories.GOLF12).course_key


def learner_finishes(
    services: Services,
    course: str,
    platform_id: int,
    *,
    sub: str,
    name: str,
    score: str,
    link: str = "rl-1",
    answers: tuple[tuple[str, str], ...] = (),
    **fields: Any,
) -> None:
    """A learner's launch and one commit of a passed SCORM 1.2 SCO with ``answers`` (id, result)."""
    launch = factories.launch(course, platform_id=platform_id, sub=sub, name=name, link=link,
                              launch_id=f"l-{sub}-{link}", **fields)  # fmt: skip
    opened, session = factories.start_attempt(services, launch)
    changes = {"cmi.core.score.raw": score, "cmi.core.score.max": "100", "cmi.core.score.min": "0",
               "cmi.core.lesson_status": "passed" if float(score) >= 50 else "failed"}  # fmt: skip
    for i, (qid, result) in enumerate(answers):
        changes[f"cmi.interactions.{i}.id"] = qid
        changes[f"cmi.interactions.{i}.result"] = result
    service.commit(services, opened.attempt_id, session.item_id, {"seq": 1, "changes": changes, "terminate": True})


def instructor(
    platform_id: int, course: str, *, link: str = "rl-1", launch_id: str = "teach-1", **fields: Any
) -> Launch:
    return factories.launch(course, platform_id=platform_id, sub="teacher-1", roles=(factories.INSTRUCTOR,),
                            link=link, launch_id=launch_id, name="Tess Teacher", **fields)  # fmt: skip


@pytest.fixture
def open_class(client: FlaskClient, services: Services) -> Callable[[Launch], tuple[str, str]]:
    def page(launch: Launch) -> tuple[str, str]:
        token = token_for(services, launch)
        response = client.get(f"/class/{launch.id}?lt={token}")
        assert response.status_code == 200, response.data[:500]
        return response.get_data(as_text=True), token

    return page


def test_class_view_shows_learners_questions_and_charts(
    services: Services, platform_id: int, course_key: str, open_class: Callable[[Launch], tuple[str, str]]
) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name="Ana", score="90",
                     answers=(("q-hard", "wrong"), ("q-easy", "correct")))  # fmt: skip
    learner_finishes(services, course_key, platform_id, sub="s2", name="Ben", score="30",
                     answers=(("q-hard", "wrong"), ("q-easy", "correct")))  # fmt: skip
    html, _ = open_class(instructor(platform_id, course_key))
    assert "Ana" in html and "Ben" in html
    assert "90%" in html and "30%" in html
    assert 'role="img"' in html and "Completion funnel" in html and "Score distribution" in html
    questions = html[html.index('id="question-table"') :]
    assert questions.index("q-hard") < questions.index("q-easy")  # the most missed first
    assert "100%" in questions  # q-hard missed by both
    funnel = html[html.index('id="funnel-table"') : html.index('id="score-table"')]
    assert "<td>2</td>" in funnel  # enrolled and started and completed: 2
    scores = html[html.index('id="score-table"') :]
    assert "90–100</th><td>1</td>" in scores and "30–39</th><td>1</td>" in scores
    assert "Waiting to be sent" in html or "pending" in html.lower()  # the outbox row of each learner


def test_learners_of_another_course_or_academy_are_not_shown(
    services: Services, platform_id: int, course_key: str, open_class: Callable[[Launch], tuple[str, str]]
) -> None:
    other_academy = factories.add_platform(services.db, issuer="https://other.example", name="Other")
    learner_finishes(services, course_key, platform_id, sub="s1", name="Ana in A", score="90")
    learner_finishes(services, course_key, platform_id, sub="s2", name="Ben in B", score="40", link="rl-2")
    learner_finishes(services, course_key, other_academy, sub="s3", name="Cleo elsewhere", score="70",
                     issuer="https://other.example")  # fmt: skip
    html, _ = open_class(instructor(platform_id, course_key))
    assert "Ana in A" in html
    assert "Ben in B" not in html and "Cleo elsewhere" not in html


def test_csv_export_has_the_table_rows(
    client: FlaskClient, services: Services, platform_id: int, course_key: str
) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name='=HYPERLINK("x")', score="80")
    learner_finishes(services, course_key, platform_id, sub="s9", name="Other link", score="80", link="rl-2")
    launch = instructor(platform_id, course_key)
    response = client.get(f"/class/{launch.id}/export.csv?lt={token_for(services, launch)}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["Learner", "Email", "LMS user id", "Status"]
    assert len(rows) == 2  # the other activity's learner is not exported
    assert rows[1][0] == '\'=HYPERLINK("x")'  # formula-safe
    assert rows[1][2:5] == ["s1", "Passed", "80"]


def test_csv_export_needs_the_launch_token(client: FlaskClient, platform_id: int, course_key: str) -> None:
    assert client.get("/class/teach-1/export.csv").status_code == 401


def _settle(services: Services) -> None:
    with services.db.session() as s:
        s.execute(update(GradeOutbox).values(status="delivered", delivered_at=datetime.now(UTC)))


def test_resend_requeues_only_this_activitys_grades(
    client: FlaskClient, services: Services, platform_id: int, course_key: str
) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name="Ana", score="90")
    learner_finishes(services, course_key, platform_id, sub="s2", name="Ben", score="40", link="rl-2")
    other_academy = factories.add_platform(services.db, issuer="https://other.example", name="Other")
    learner_finishes(services, course_key, other_academy, sub="s3", name="Cleo", score="70",
                     issuer="https://other.example")  # fmt: skip  # same deployment and link ids, another academy
    _settle(services)
    launch = instructor(platform_id, course_key)
    token = token_for(services, launch)
    response = client.post(f"/class/{launch.id}/resend", data={"lt": token})
    assert response.status_code == 303
    assert "done=resent" in response.headers["Location"] and "count=1" in response.headers["Location"]
    with services.db.session() as s:
        statuses = {row.user_id: row.status for row in s.scalars(select(GradeOutbox))}
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "grades.resend")).one()
        assert entry.actor == "instructor:teacher-1"
    assert statuses == {"s1": "pending", "s2": "delivered", "s3": "delivered"}  # course B's, academy two's untouched
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 grade was queued to be sent again." in page


@pytest.mark.parametrize("data", [{}, {"lt": "forged.1.x"}])
def test_actions_refuse_a_missing_or_wrong_token(
    client: FlaskClient, services: Services, platform_id: int, course_key: str, data: dict[str, str]
) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name="Ana", score="90")
    _settle(services)
    launch = instructor(platform_id, course_key)
    token = token_for(services, launch)
    client.set_cookie("lti_launch", token)  # a cookie alone never authorises an action
    for path in ("resend", "reset"):
        response = client.post(f"/class/{launch.id}/{path}", data={**data, "learner": "s1"})
        assert response.status_code == 401, path
    with services.db.session() as s:
        assert {row.status for row in s.scalars(select(GradeOutbox))} == {"delivered"}
        assert {a.status for a in s.scalars(select(Attempt))} != {"abandoned"}


def test_a_learner_cannot_use_the_class_view(
    client: FlaskClient, services: Services, platform_id: int, course_key: str
) -> None:
    launch = factories.launch(course_key, platform_id=platform_id, launch_id="learn-1")
    token = token_for(services, launch)
    for response in (
        client.get(f"/class/{launch.id}?lt={token}", headers=JSON),
        client.post(f"/class/{launch.id}/resend", data={"lt": token}, headers=JSON),
        client.post(f"/class/{launch.id}/reset", data={"lt": token, "learner": "learner-1"}, headers=JSON),
        client.get(f"/class/{launch.id}/export.csv?lt={token}", headers=JSON),
    ):
        assert response.status_code == 401 and response.get_json()["error"] == "forbidden_role"


def test_reset_abandons_the_newest_attempt_and_the_next_launch_starts_a_new_one(
    client: FlaskClient, services: Services, platform_id: int, course_key: str
) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name="Ana", score="90")
    launch = instructor(platform_id, course_key)
    token = token_for(services, launch)
    response = client.post(f"/class/{launch.id}/reset", data={"lt": token, "learner": "s1"})
    assert response.status_code == 303 and "done=reset" in response.headers["Location"]
    with services.db.session() as s:
        assert [(a.number, a.status) for a in s.scalars(select(Attempt))] == [(1, "abandoned")]
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "attempts.reset")).one()
        assert entry.actor == "instructor:teacher-1" and entry.params["sub"] == "s1"
    again = client.post(f"/class/{launch.id}/reset", data={"lt": token, "learner": "s1"})
    assert "done=nothing_to_reset" in again.headers["Location"]
    opened = service.open_attempt(services, factories.launch(course_key, platform_id=platform_id, sub="s1"))
    assert opened.number == 2
    with services.db.session() as s:
        assert sorted((a.number, a.status) for a in s.scalars(select(Attempt))) == [(1, "abandoned"), (2, "active")]


def test_reset_cannot_reach_a_learner_of_another_course_or_academy(
    client: FlaskClient, services: Services, platform_id: int, course_key: str
) -> None:
    other_academy = factories.add_platform(services.db, issuer="https://other.example", name="Other")
    learner_finishes(services, course_key, platform_id, sub="s2", name="Ben in B", score="40", link="rl-2")
    learner_finishes(services, course_key, other_academy, sub="s3", name="Cleo", score="70",
                     issuer="https://other.example")  # fmt: skip
    launch = instructor(platform_id, course_key)  # course A: rl-1 of academy one
    token = token_for(services, launch)
    for sub in ("s2", "s3", ""):
        response = client.post(f"/class/{launch.id}/reset", data={"lt": token, "learner": sub})
        assert response.status_code in (400, 404), sub
    with services.db.session() as s:
        statuses = [a.status for a in s.scalars(select(Attempt))]
    assert len(statuses) == 2 and "abandoned" not in statuses


def test_learner_and_package_text_is_escaped(
    services: Services, platform_id: int, course_key: str, open_class: Callable[[Launch], tuple[str, str]]
) -> None:
    learner_finishes(services, course_key, platform_id, sub="s1", name=HOSTILE, score="90",
                     answers=((f"q{HOSTILE}", "wrong"),))  # fmt: skip
    html, _ = open_class(instructor(platform_id, course_key, resource_link_title=HOSTILE, context_title=HOSTILE))
    assert HOSTILE not in html
    assert "&lt;script&gt;" in html


def test_notice_words_are_fixed(client: FlaskClient, services: Services, platform_id: int, course_key: str) -> None:
    launch = instructor(platform_id, course_key)
    token = token_for(services, launch)
    html = client.get(f"/class/{launch.id}?lt={token}&done={HOSTILE}&count=9").get_data(as_text=True)
    assert 'id="notice"' not in html and HOSTILE not in html


def test_app_is_a_flask_app(app: Flask) -> None:
    assert "lti.class_reset" in app.view_functions and "lti.learner_home_page" in app.view_functions

"""cmi5 and TinCan courses in a real browser through an LTI launch from the development LMS:
CATAPULT's framed single-AU course is passed through its own quiz and the course satisfied, with
the statement sequence checked in the LRS and the score queued for the gradebook."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from e2e_helpers import launch_learner
from e2e_stack import Stack, wait_until
from sqlalchemy import select

from lti_tool.lrs import create_operator_credential
from lti_tool.lrs.identity import learner_tenant
from lti_tool.lti.platforms import list_platforms
from lti_tool.storage.models import GradeOutbox

pytestmark = pytest.mark.browser

CMI5 = "https://w3id.org/xapi/cmi5/context/categories/cmi5"


def _statements(stack: Stack, registration: str) -> list[dict[str, Any]]:
    platform_id = list_platforms(stack.services.db)[0].id
    operator = create_operator_credential(stack.services.db, "e2e", tenant=learner_tenant(platform_id))
    resp = requests.get(
        stack.base + "/xapi/statements",
        params={"registration": registration, "ascending": "true", "limit": "200"},
        headers={"Authorization": operator.basic_auth, "X-Experience-API-Version": "2.0.0"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return list(resp.json()["statements"])


def _cmi5_verbs(statements: list[dict[str, Any]]) -> list[str]:
    def defined(st: dict[str, Any]) -> bool:
        category = ((st.get("context") or {}).get("contextActivities") or {}).get("category") or []
        return any(c.get("id") == CMI5 for c in category)

    return [st["verb"]["id"].rsplit("/", 1)[-1] for st in statements if defined(st)]


def test_catapult_single_au_quiz_passed_satisfies_the_course_and_queues_the_score(stack: Stack, context: Any) -> None:
    course = stack.course("cmi5/catapult_single_au_basic_framed.zip")
    link = stack.add_link(course.course_key, "cmi5 single AU")
    page = context.new_page()
    errors: list[str] = []
    page.on("dialog", lambda dialog: (errors.append(dialog.message), dialog.dismiss()))
    attempt_id = launch_learner(page, stack, link)
    registration = str(uuid.UUID(hex=attempt_id))
    frame = page.frame_locator("#cbsi-content")
    quiz = frame.locator("#navmenuitems li", has_text="Quiz")
    quiz.wait_for()
    wait_until(lambda: "initialized" in _cmi5_verbs(_statements(stack, registration)), what="initialized")
    quiz.click()
    frame.locator("button", has_text="(Select correct answers)").click()
    frame.locator("button", has_text="Submit Answers").click()
    frame.locator("#score-passed").wait_for(state="visible")
    wait_until(lambda: "completed" in _cmi5_verbs(_statements(stack, registration)), what="completed")
    frame.locator("#score-panel .exit-button").click()
    wait_until(lambda: "terminated" in _cmi5_verbs(_statements(stack, registration)), what="terminated")
    assert errors == []
    verbs = _cmi5_verbs(_statements(stack, registration))
    assert verbs == ["launched", "initialized", "passed", "satisfied", "completed", "terminated"], verbs
    with stack.services.db.session() as s:
        queued = [row.score_given for row in s.scalars(select(GradeOutbox).where(GradeOutbox.user_id != ""))]
    attempt = stack.attempt(attempt_id)
    assert attempt.outcome["completion"] == "completed" and attempt.outcome["success"] == "passed"
    assert attempt.outcome["score_scaled"] == pytest.approx(1.0)
    assert 100.0 in queued, f"no full score queued for the gradebook: {queued}"

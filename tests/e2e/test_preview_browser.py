"""Operator preview in a real browser: a one-time preview link of the real golf SCORM 2004 package
and of CATAPULT's framed single-AU cmi5 course opens without any LMS, plays, records under the
preview tenant, and nothing reaches the grade outbox; the cmi5 AU's exit lands on its returnURL
("preview ended"); the link does not open twice."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests
from e2e_stack import Stack, wait_until
from golf_sco import GOLF_PAGE_COUNT, Dialogs, golf_frame, golf_goto_page, golf_pass_quiz
from sqlalchemy import func, select

from lti_tool import preview
from lti_tool.lrs import create_operator_credential
from lti_tool.lrs.identity import learner_tenant
from lti_tool.storage.models import GradeOutbox, LearnerRegistration, Platform

pytestmark = pytest.mark.browser

GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
CATAPULT = "cmi5/catapult_single_au_basic_framed.zip"


def _outbox_rows(stack: Stack) -> int:
    with stack.services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(GradeOutbox)) or 0)


def _tenant_source(stack: Stack, attempt_id: str) -> str:
    attempt = stack.attempt(attempt_id)
    with stack.services.db.session() as s:
        reg = s.get(LearnerRegistration, attempt.registration_id)
        assert reg is not None
        platform = s.get(Platform, reg.platform_id)
        assert platform is not None
        return platform.source


def _verbs(stack: Stack, registration: str) -> list[str]:
    tenant = learner_tenant(preview.ensure_platform(stack.services.db).id)
    operator = create_operator_credential(stack.services.db, "e2e preview", tenant=tenant)
    resp = requests.get(
        stack.base + "/xapi/statements",
        params={"registration": registration, "ascending": "true", "limit": "200"},
        headers={"Authorization": operator.basic_auth, "X-Experience-API-Version": "2.0.0"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return [st["verb"]["id"].rsplit("/", 1)[-1] for st in resp.json()["statements"]]


def _open(page: Any, url: str) -> str:
    page.goto(url)  # the page posts the link back to itself, which spends it and renders the player
    page.wait_for_function("() => window.cbsiPlayer !== undefined")
    return str(page.evaluate("cbsiPlayer.config.attemptId"))


def test_golf_scorm2004_preview_plays_and_never_reaches_the_gradebook(stack: Stack, context: Any) -> None:
    course = stack.course(GOLF2004)
    before = _outbox_rows(stack)
    link = preview.issue(stack.services, course.course_key, learner="Browser check")
    assert link.url.startswith(stack.base + "/preview/")
    page = context.new_page()
    dialogs = Dialogs(page)
    attempt_id = _open(page, link.url)
    assert _tenant_source(stack, attempt_id) == "preview"
    assert page.title().startswith("Preview") or "Preview" in page.locator("#cbsi-title").inner_text()
    golf_goto_page(page, GOLF_PAGE_COUNT - 1)
    golf_pass_quiz(page)
    golf_frame(page).click("#butExit")
    page.wait_for_selector("#cbsi-panel:not([hidden])")
    outcome = wait_until(lambda: stack.attempt(attempt_id).outcome or None, what="the preview attempt's outcome")
    assert outcome["completion"] == "completed" and outcome["success"] == "passed", outcome
    assert _outbox_rows(stack) == before  # a passed, completed attempt: still nothing for any gradebook
    assert dialogs.alerts == []
    again = context.new_page()
    answer = again.goto(link.url)
    assert answer is not None and answer.status == 410
    assert "preview_link_used" in again.content()


def test_catapult_cmi5_preview_passes_exits_to_preview_ended_and_queues_nothing(stack: Stack, context: Any) -> None:
    course = stack.course(CATAPULT)
    before = _outbox_rows(stack)
    link = preview.issue(stack.services, course.course_key)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.dismiss())
    attempt_id = _open(page, link.url)
    assert _tenant_source(stack, attempt_id) == "preview"
    frame = page.frame_locator("#cbsi-content")
    quiz = frame.locator("#navmenuitems li", has_text="Quiz")
    quiz.wait_for()
    # the menu shows before the AU finished starting: a click before its "initialized" makes it
    # write a bookmark before reading one (and then ask to resume)
    registration = str(uuid.UUID(hex=attempt_id))
    wait_until(lambda: "initialized" in _verbs(stack, registration), what="the AU's initialized statement")
    quiz.click()
    frame.locator("button", has_text="(Select correct answers)").click()
    frame.locator("button", has_text="Submit Answers").click()
    frame.locator("#score-passed").wait_for(state="visible")
    frame.locator("#score-panel .exit-button").click()

    # the AU redirects its frame to LaunchData's returnURL when it exits (cmi5 §10.2.6)
    def ended_shown() -> bool:
        page.wait_for_timeout(200)  # let Playwright process the frame's navigation
        return any(f.url == stack.base + "/preview/ended" for f in page.frames)

    wait_until(ended_shown, what="the AU's frame to reach the preview ended page")
    ended = next(f for f in page.frames if f.url == stack.base + "/preview/ended")
    assert "Preview ended" in ended.content()
    outcome = wait_until(
        lambda: (
            (stack.attempt(attempt_id).outcome or {}).get("completion") == "completed"
            and stack.attempt(attempt_id).outcome
        ),
        what="the course satisfied",
    )
    assert outcome["success"] == "passed"
    assert "satisfied" in _verbs(stack, registration)  # recorded in the LRS, under the preview tenant
    assert _outbox_rows(stack) == before

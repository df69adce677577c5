"""cmi5 and TinCan courses in a real browser through an LTI launch from the development LMS:
CATAPULT's framed single-AU course is passed through its own quiz and the course satisfied, with
the statement sequence checked in the LRS and the score queued for the gradebook."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

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


def _pass_catapult_quiz_and_exit(stack: Stack, frame: Any, registration: str) -> None:
    """In CATAPULT's single-AU course (``frame``: the AU's frame): start the quiz once the AU is
    initialized, answer it right, and press the score panel's Exit."""
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


def test_catapult_single_au_quiz_passed_satisfies_the_course_and_queues_the_score(stack: Stack, context: Any) -> None:
    course = stack.course("cmi5/catapult_single_au_basic_framed.zip")
    link = stack.add_link(course.course_key, "cmi5 single AU")
    page = context.new_page()
    errors: list[str] = []
    page.on("dialog", lambda dialog: (errors.append(dialog.message), dialog.dismiss()))
    attempt_id = launch_learner(page, stack, link)
    registration = str(uuid.UUID(hex=attempt_id))
    _pass_catapult_quiz_and_exit(stack, page.frame_locator("#cbsi-content"), registration)
    assert errors == []
    # the AU went to LaunchData's returnURL (the tool's exit page), which handed the exit to the
    # player: the whole window is back at the launch's return_url, not a frame inside the player
    page.wait_for_url(stack.platform + "/")
    verbs = _cmi5_verbs(_statements(stack, registration))
    assert verbs == ["launched", "initialized", "passed", "satisfied", "completed", "terminated"], verbs
    with stack.services.db.session() as s:
        queued = [row.score_given for row in s.scalars(select(GradeOutbox).where(GradeOutbox.user_id != ""))]
    attempt = stack.attempt(attempt_id)
    assert attempt.outcome["completion"] == "completed" and attempt.outcome["success"] == "passed"
    assert attempt.outcome["score_scaled"] == pytest.approx(1.0)
    assert 100.0 in queued, f"no full score queued for the gradebook: {queued}"


def test_catapult_au_exit_inside_the_lms_frame_takes_the_whole_window_back_to_the_lms(
    stack: Stack, context: Any
) -> None:
    """Launched inside the LMS's iframe (as Moodle embeds a tool), the AU's exit must not load the
    LMS's page inside the player's frame (a real LMS refuses to be framed there): the LMS's own
    window goes to its return URL, and no frame is left at the LMS's page or the exit page."""
    course = stack.course("cmi5/catapult_single_au_basic_framed.zip")
    link = stack.add_link(course.course_key, "cmi5 single AU in the LMS frame")
    page = context.new_page()
    page.goto(f"{stack.platform}/frame?user=learner&link={link}")
    tool = page.frame_locator("#tool")
    tool.locator("#cbsi-content").wait_for(state="attached")
    player = next(f for f in page.frames if "/play/" in f.url)
    player.wait_for_function("() => window.cbsiPlayer !== undefined && window.cbsiPlayer.currentId !== null")
    registration = str(uuid.UUID(hex=str(player.evaluate("cbsiPlayer.config.attemptId"))))
    _pass_catapult_quiz_and_exit(stack, tool.frame_locator("#cbsi-content"), registration)
    page.wait_for_url(stack.platform + "/")
    assert [f.url for f in page.frames[1:] if "/cmi5/exit" in f.url or f.url.startswith(stack.platform)] == []


GOLF_ACTIVITY = "http://id.tincanapi.com/activity/tincan-prototypes/golf-example"


def test_golf_tincan_records_statements_and_resumes_from_its_bookmark(stack: Stack, browser: Any) -> None:
    course = stack.course("xapi/GolfExample_TCAPI.zip")
    link = stack.add_link(course.course_key, "TinCan golf")
    first = browser.new_context(base_url=stack.base)
    try:
        page = first.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        attempt_id = launch_learner(page, stack, link)
        registration = str(uuid.UUID(hex=attempt_id))
        au = page.frame_locator("#cbsi-content")
        for _ in range(3):
            au.locator("#butNext").click()

        def at_page_3() -> bool:
            content = [f for f in page.frames if f.url.split("?")[0].endswith("/index.html")]
            return bool(content) and content[0].evaluate(
                "typeof bookmarkingData !== 'undefined' && bookmarkingData.getPage() === 3"
            )

        wait_until(at_page_3, what="the golf course to reach page 3")
        verbs = {s["verb"]["id"].rsplit("/", 1)[-1] for s in _statements(stack, registration)}
        assert {"initialized", "attempted"} <= verbs, verbs
        wait_until(
            lambda: any(
                s["object"]["id"] == GOLF_ACTIVITY + "/Playing/OtherScoring" for s in _statements(stack, registration)
            ),
            what="the page 3 statement",
        )
    finally:
        first.close()
    second = browser.new_context(base_url=stack.base)
    try:
        page2 = second.new_page()
        prompts: list[str] = []
        page2.on("dialog", lambda dialog: (prompts.append(dialog.message), dialog.accept()))
        assert launch_learner(page2, stack, link) == attempt_id  # the same attempt, the same registration

        def resumed() -> bool:  # the course frame shows page 3 again (Playing/OtherScoring.html)
            page2.wait_for_timeout(200)  # let Playwright process the frames' navigations
            return any(urlsplit(f.url).path.endswith("/Playing/OtherScoring.html") for f in page2.frames)

        wait_until(resumed, what="the golf course to resume at page 3")
        assert any("resume" in m for m in prompts), prompts
        wait_until(
            lambda: "resumed" in {s["verb"]["id"].rsplit("/", 1)[-1] for s in _statements(stack, registration)},
            what="the resumed statement",
        )
    finally:
        second.close()


def test_catapult_multi_au_course_is_satisfied_only_after_all_its_aus(stack: Stack, context: Any) -> None:
    course = stack.course("cmi5/catapult_multi_au_framed.zip")
    link = stack.add_link(course.course_key, "cmi5 multi AU")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.dismiss())
    attempt_id = launch_learner(page, stack, link)
    registration = str(uuid.UUID(hex=attempt_id))
    buttons = page.locator("#cbsi-toc-list button[data-au]")
    count = buttons.count()
    assert count == 8

    def course_satisfied() -> bool:
        return any(
            st["verb"]["id"].endswith("/satisfied")
            and st["object"].get("definition", {}).get("type") == "https://w3id.org/xapi/cmi5/activitytype/course"
            for st in _statements(stack, registration)
        )

    frame = page.frame_locator("#cbsi-content")
    for index in range(count):
        if index:  # the page launched the first AU itself
            buttons.nth(index).click()
        au = buttons.nth(index).get_attribute("data-au") or ""
        if au.endswith("/quiz"):
            quiz = frame.locator("button", has_text="(Select correct answers)")
            quiz.wait_for()
            quiz.click()
            frame.locator("button", has_text="Submit Answers").click()
        wait_until(
            lambda done=index + 1: _cmi5_verbs(_statements(stack, registration)).count("completed") == done,
            timeout=20,
            what=f"AU {index + 1} completed",
        )
        if index < count - 1:
            assert not course_satisfied(), f"course satisfied after {index + 1} of {count} AUs"
    wait_until(course_satisfied, what="the course satisfied")
    attempt = stack.attempt(attempt_id)
    assert attempt.outcome["completion"] == "completed"

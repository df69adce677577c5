"""Real-browser end-to-end tests through the FULL stack.

Debian's chromium opens the development LMS, clicks "Launch as learner"; the real OIDC login →
LMS auth → form_post → /lti/launch → /play flow runs in the browser; the REAL package (from
``../shared/fixtures/packages``, imported through the catalogue) plays in the player iframe and
talks to the runtime API. Every test then reads the DATABASE: ``sco_states.state`` through
``scorm.cmi`` and ``attempts.outcome``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Stack, wait_until
from e2e_helpers import (
    GOLF_PAGE_COUNT,
    Dialogs,
    golf_content_src,
    golf_frame,
    golf_goto_page,
    golf_pass_quiz,
    golf_started,
    launch_learner,
    player_current,
    player_idle,
    toc_rows,
)

pytestmark = pytest.mark.browser

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"
ADVANCED2004 = "scorm2004/RunTimeAdvancedCalls_SCORM20043rdEdition.zip"
ASSETS12 = "scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip"
FORCED2004 = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
SCREENSHOTS = Path("/tmp")


def only_item(stack: Stack, attempt_id: str) -> str:
    """The id of the single SCO of a single-SCO course (from its stored state row)."""
    rows = wait_until(lambda: stack.sco_states(attempt_id), what="the SCO's state row")
    assert len(rows) == 1, rows
    return next(iter(rows))


def test_scorm12_golf_played_to_the_end(stack: Stack, context):
    course = stack.course(GOLF12)
    link = stack.add_link(course.course_key, "E2E golf 1.2 full")
    page = context.new_page()
    dialogs = Dialogs(page)
    attempt = launch_learner(page, stack, link)
    golf_started(page)
    page.screenshot(path=str(SCREENSHOTS / "cbsi-e2e-player-desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "cbsi-e2e-player-phone.png"))
    page.set_viewport_size({"width": 1280, "height": 800})

    golf_goto_page(page, GOLF_PAGE_COUNT - 1)
    golf_pass_quiz(page)
    golf_frame(page).click("#butExit")
    page.wait_for_selector("#cbsi-panel:not([hidden]) >> text=Your progress has been saved")

    item = only_item(stack, attempt)
    wait_until(lambda: stack.cmi(attempt, item, "cmi.core.lesson_status") == "passed", what="passed stored")
    assert stack.cmi(attempt, item, "cmi.core.score.raw") == "100"
    assert stack.cmi(attempt, item, "cmi.core.score.min") == "0"
    assert stack.cmi(attempt, item, "cmi.core.score.max") == "100"
    assert stack.cmi(attempt, item, "cmi.core.lesson_location") == str(GOLF_PAGE_COUNT - 1)
    row = stack.sco_state(attempt, item)
    assert row is not None and row.session_open is False  # LMSFinish reached the server
    outcome = stack.attempt(attempt).outcome
    assert outcome["success"] == "passed" and outcome["completion"] == "completed", outcome
    assert outcome["score_scaled"] == pytest.approx(1.0), outcome  # the rollup keeps the scaled score
    assert row.outcome["score_raw"] == 100 and row.outcome["success"] == "passed", row.outcome
    assert dialogs.alerts == []


def close_half_way_then_relaunch(stack: Stack, browser, relpath: str, title: str, api: str) -> tuple[str, str, Any]:
    """Play a golf SCO to page 5, store suspend_data, leave the page; relaunch in a fresh profile.

    Returns:
        (attempt id, item id, the relaunched page).
    """
    course = stack.course(relpath)
    link = stack.add_link(course.course_key, title)
    first = browser.new_context(base_url=stack.base)
    try:
        page = first.new_page()
        dialogs = Dialogs(page)
        attempt = launch_learner(page, stack, link)
        golf_goto_page(page, 5)
        # The golf SCO keeps no suspend_data of its own: write some as content would.
        setter = "LMSSetValue" if api == "API" else "SetValue"
        assert page.evaluate(f"{api}.{setter}('cmi.suspend_data', 'page=5;seen=0-5')") == "true"
        item = only_item(stack, attempt)
        # Leave half-way: the top window navigates away; pagehide sends one keepalive commit.
        page.goto(stack.platform + "/")
        assert dialogs.alerts == []
    finally:
        first.close()
    location = "cmi.core.lesson_location" if api == "API" else "cmi.location"
    wait_until(lambda: stack.cmi(attempt, item, location) == "5", what="the final keepalive commit")
    assert stack.cmi(attempt, item, "cmi.suspend_data") == "page=5;seen=0-5"
    row = stack.sco_state(attempt, item)
    assert row is not None and row.session_open is False, "the closing commit terminated the session"

    second = browser.new_context(base_url=stack.base)  # new profile: nothing in localStorage
    page2 = second.new_page()
    dialogs2 = Dialogs(page2)
    assert launch_learner(page2, stack, link) == attempt  # the same attempt resumes
    frame = golf_started(page2)
    wait_until(lambda: frame.evaluate("currentPage === 5"), what="the SCO to resume at page 5")
    assert golf_content_src(page2).endswith("Etiquette/Course.html")
    assert any("resume" in m for t, m in dialogs2.messages if t == "confirm")  # the SCO's resume prompt
    return attempt, item, page2


def test_scorm12_golf_closed_half_way_resumes(stack: Stack, browser):
    attempt, item, page = close_half_way_then_relaunch(stack, browser, GOLF12, "E2E golf 1.2 resume", "API")
    try:
        assert page.evaluate("API.LMSGetValue('cmi.core.entry')") == "resume"
        assert page.evaluate("API.LMSGetValue('cmi.suspend_data')") == "page=5;seen=0-5"
        assert page.evaluate("API.LMSGetValue('cmi.core.lesson_location')") == "5"
        assert stack.cmi(attempt, item, "cmi.core.lesson_status") == "incomplete"
        assert stack.attempt(attempt).outcome.get("completion") != "completed"
        row = stack.sco_state(attempt, item)
        assert row is not None and row.sessions == 2 and row.session_open is True
    finally:
        page.context.close()


def test_scorm2004_golf_played_through(stack: Stack, context):
    course = stack.course(GOLF2004)
    link = stack.add_link(course.course_key, "E2E golf 2004 full")
    page = context.new_page()
    dialogs = Dialogs(page)
    attempt = launch_learner(page, stack, link)
    golf_goto_page(page, GOLF_PAGE_COUNT - 1)
    golf_pass_quiz(page)
    golf_frame(page).click("#butExit")  # reached the end: exit with adl.nav.request=exitAll
    page.wait_for_selector("#cbsi-panel:not([hidden])")

    item = only_item(stack, attempt)
    wait_until(lambda: stack.cmi(attempt, item, "cmi.success_status") == "passed", what="passed stored")
    assert stack.cmi(attempt, item, "cmi.completion_status") == "completed"
    assert float(stack.cmi(attempt, item, "cmi.score.scaled") or "nan") == pytest.approx(1.0)
    assert stack.cmi(attempt, item, "cmi.score.raw") == "100"
    assert stack.cmi(attempt, item, "cmi.location") == str(GOLF_PAGE_COUNT - 1)
    outcome = wait_until(lambda: stack.attempt(attempt).outcome or None, what="attempt outcome")
    assert outcome["completion"] == "completed" and outcome["success"] == "passed", outcome
    assert outcome["score_scaled"] == pytest.approx(1.0), outcome
    assert dialogs.alerts == []


def test_scorm2004_golf_closed_half_way_resumes(stack: Stack, browser):
    attempt, item, page = close_half_way_then_relaunch(stack, browser, GOLF2004, "E2E golf 2004 resume", "API_1484_11")
    try:
        assert page.evaluate("API_1484_11.GetValue('cmi.entry')") == "resume"
        assert page.evaluate("API_1484_11.GetValue('cmi.location')") == "5"
        assert page.evaluate("API_1484_11.GetValue('cmi.suspend_data')") == "page=5;seen=0-5"
        assert stack.cmi(attempt, item, "cmi.completion_status") == "incomplete"
    finally:
        page.context.close()

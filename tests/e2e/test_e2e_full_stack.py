"""Real-browser end-to-end tests through the FULL stack.

Debian's chromium opens the development LMS, clicks "Launch as learner"; the real OIDC login →
LMS auth → form_post → /lti/launch → /play flow runs in the browser; the REAL package (from
``../shared/fixtures/packages``, imported through the catalogue) plays in the player iframe and
talks to the runtime API. Every test then reads the DATABASE: ``sco_states.state`` through
``scorm.cmi`` and ``attempts.outcome``.
"""

from __future__ import annotations

from pathlib import Path

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

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
from e2e_helpers import launch_learner, player_current, player_idle, toc_rows
from e2e_stack import Stack, wait_until
from golf_sco import (
    GOLF_PAGE_COUNT,
    Dialogs,
    golf_current_page,
    golf_frame,
    golf_goto_page,
    golf_pass_quiz,
    golf_started,
    wait_for_frame,
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
    golf_goto_page(page, 2)
    page.screenshot(path=str(SCREENSHOTS / "cbsi-e2e-player-desktop.png"))
    page.wait_for_function("() => typeof frames[0].onresize === 'function'")  # the SCO's own resizer
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    page.screenshot(path=str(SCREENSHOTS / "cbsi-e2e-player-phone.png"))
    header = page.evaluate(
        "() => ['cbsi-exit', 'cbsi-title'].map(id => document.getElementById(id).getBoundingClientRect().right)"
    )
    assert max(header) <= 390, f"the header overflows a 390 px phone: {header}"  # Exit stays on screen
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


def close_half_way_then_relaunch(
    stack: Stack, browser, relpath: str, title: str, api: str, *, close_tab: bool
) -> tuple[str, str, Any]:
    """Play a golf SCO to page 5, store suspend_data, leave (navigate away or close the tab);
    relaunch through the LMS in a fresh profile.

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
        assert stack.cmi(attempt, item, "cmi.suspend_data") != "page=5;seen=0-5"  # not committed yet
        # Leave half-way: beforeunload sends the pending values in a keepalive commit, and the
        # final pagehide a second one that ends the session; both outlive the page. Wait for the
        # second before closing the browser context, which would cancel it (a real browser keeps
        # it; the first commit alone already satisfies the location check).
        if close_tab:
            page.close(run_before_unload=True)
        else:
            page.goto(stack.platform + "/")
        location = "cmi.core.lesson_location" if api == "API" else "cmi.location"

        def closed() -> bool:
            state = stack.sco_state(attempt, item)
            return stack.cmi(attempt, item, location) == "5" and state is not None and not state.session_open

        wait_until(closed, what="the final keepalive commit to end the session")
        assert dialogs.alerts == []
    finally:
        first.close()
    assert stack.cmi(attempt, item, "cmi.suspend_data") == "page=5;seen=0-5"
    row = stack.sco_state(attempt, item)
    assert row is not None and row.session_open is False, "the closing commit terminated the session"
    exit_key = "cmi.core.exit" if api == "API" else "cmi.exit"  # write-only: read the document itself
    assert row.state["values"].get(exit_key) == "suspend", row.state["values"]

    second = browser.new_context(base_url=stack.base)  # new profile: nothing in localStorage
    page2 = second.new_page()
    dialogs2 = Dialogs(page2)
    assert launch_learner(page2, stack, link) == attempt  # the same attempt resumes
    frame = golf_started(page2)
    wait_until(lambda: frame.evaluate("currentPage === 5"), what="the SCO to resume at page 5")
    assert golf_current_page(page2).endswith("Etiquette/Course.html")
    assert any("resume" in m for t, m in dialogs2.messages if t == "confirm")  # the SCO's resume prompt
    return attempt, item, page2


def test_scorm12_golf_closed_half_way_resumes(stack: Stack, browser):
    attempt, item, page = close_half_way_then_relaunch(
        stack, browser, GOLF12, "E2E golf 1.2 resume", "API", close_tab=False
    )
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
    attempt, item, page = close_half_way_then_relaunch(
        stack, browser, GOLF2004, "E2E golf 2004 resume", "API_1484_11", close_tab=True
    )
    try:
        assert page.evaluate("API_1484_11.GetValue('cmi.entry')") == "resume"
        assert page.evaluate("API_1484_11.GetValue('cmi.location')") == "5"
        assert page.evaluate("API_1484_11.GetValue('cmi.suspend_data')") == "page=5;seen=0-5"
        assert stack.cmi(attempt, item, "cmi.completion_status") == "incomplete"
    finally:
        page.context.close()


def test_scorm2004_advanced_interactions_and_objectives(stack: Stack, context):
    course = stack.course(ADVANCED2004)
    link = stack.add_link(course.course_key, "E2E golf 2004 advanced")
    page = context.new_page()
    dialogs = Dialogs(page)
    attempt = launch_learner(page, stack, link)
    golf_goto_page(page, GOLF_PAGE_COUNT - 1)
    golf_pass_quiz(page)
    golf_frame(page).click("#butExit")
    page.wait_for_selector("#cbsi-panel:not([hidden])")

    item = only_item(stack, attempt)
    wait_until(lambda: stack.cmi(attempt, item, "cmi.success_status") == "passed", what="passed stored")
    # The manifest's passing score (satisfiedByMeasure + minNormalizedMeasure 0.8) reached the SCO.
    assert float(stack.cmi(attempt, item, "cmi.scaled_passing_score") or "nan") == pytest.approx(0.8)
    assert float(stack.cmi(attempt, item, "cmi.progress_measure") or "nan") == pytest.approx(1.0)
    cmi = stack.cmi_reader(attempt, item)
    count = int(cmi("cmi.interactions._count") or "0")
    assert count > 0
    interactions = [
        {
            key: cmi(f"cmi.interactions.{n}.{key}")
            for key in ("id", "type", "result", "learner_response", "objectives.0.id", "correct_responses.0.pattern")
        }
        for n in range(count)
    ]
    ids = [i["id"] for i in interactions]
    assert all(ids) and len(set(ids)) == count, ids
    assert {i["type"] for i in interactions} <= {"choice", "true-false", "numeric", "fill-in"}, interactions
    assert {i["result"] for i in interactions} == {"correct"}, interactions  # every answer was right
    assert all(i["learner_response"] and i["correct_responses.0.pattern"] for i in interactions), [
        i for i in interactions if not (i["learner_response"] and i["correct_responses.0.pattern"])
    ]
    by_id = {cmi(f"cmi.objectives.{n}.id"): n for n in range(int(cmi("cmi.objectives._count") or "0"))}
    expected = {"obj_etiquette", "obj_handicapping", "obj_havingfun", "obj_playing"}
    assert expected <= set(by_id), by_id
    assert {i["objectives.0.id"] for i in interactions} <= set(by_id)
    for oid in sorted(expected):
        n = by_id[oid]
        assert float(cmi(f"cmi.objectives.{n}.score.scaled") or "nan") == pytest.approx(1.0), oid
        assert cmi(f"cmi.objectives.{n}.completion_status") == "completed", oid
    assert dialogs.alerts == []


def click_player(page: Any, button: str) -> None:
    """Click the player's own Previous/Next and wait for the navigation to finish."""
    page.click(button)
    player_idle(page)


def test_scorm12_assets_next_previous_and_toc(stack: Stack, context):
    course = stack.course(ASSETS12)
    link = stack.add_link(course.course_key, "E2E golf 1.2 assets")
    page = context.new_page()
    attempt = launch_learner(page, stack, link)
    player_idle(page)
    assert player_current(page) == "playing_playing_item"
    rows = toc_rows(page)
    # The manifest: 4 aggregations (TOC headings) over 18 asset items.
    assert [r["title"] for r in rows if not r["link"]] == [
        "Playing the Game",
        "Etiquette",
        "Handicapping",
        "Having Fun",
    ]
    assert sum(r["link"] for r in rows) == 18
    assert not any(r["completed"] for r in rows if r["id"] != "playing_playing_item")

    click_player(page, "#cbsi-next")
    assert player_current(page) == "playing_par_item"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "cbsi-e2e-assets-phone-toc-open.png"))
    page.click("#cbsi-toc-toggle")
    page.screenshot(path=str(SCREENSHOTS / "cbsi-e2e-assets-phone-toc-closed.png"))
    page.click("#cbsi-toc-toggle")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.screenshot(path=str(SCREENSHOTS / "cbsi-e2e-assets-desktop.png"))
    click_player(page, "#cbsi-next")
    assert player_current(page) == "playing_scoring_item"
    click_player(page, "#cbsi-prev")
    assert player_current(page) == "playing_par_item"
    page.click('#cbsi-toc-list a[data-item-id="etiquette_course_item"]')
    player_idle(page)
    assert player_current(page) == "etiquette_course_item"
    page.wait_for_function("() => document.getElementById('cbsi-content').src.endsWith('Etiquette/Course.html')")

    visited = {"playing_playing_item", "playing_par_item", "playing_scoring_item", "etiquette_course_item"}
    wait_until(lambda: visited <= set(stack.sco_states(attempt)), what="state rows of the visited assets")
    states = stack.sco_states(attempt)
    assert set(states) == visited  # nothing else was opened
    for item_id in visited:
        wait_until(
            lambda i=item_id: (stack.sco_state(attempt, i) or states[i]).outcome.get("completion") == "completed",
            what=f"{item_id} completed",
        )
    shown = {r["id"]: r for r in toc_rows(page) if r["link"]}
    assert {i for i, r in shown.items() if r["completed"]} == visited
    assert shown["etiquette_course_item"]["current"]
    # A relaunch shows the same completion marks from the server.
    page.reload()
    player_idle(page)
    shown = {r["id"]: r for r in toc_rows(page) if r["link"]}
    assert {i for i, r in shown.items() if r["completed"]} == visited


def test_scorm2004_forced_sequential(stack: Stack, context):
    course = stack.course(FORCED2004)
    link = stack.add_link(course.course_key, "E2E forced sequential")
    page = context.new_page()
    dialogs = Dialogs(page)
    attempt = launch_learner(page, stack, link)
    player_idle(page)
    assert player_current(page) == "playing_item"
    rows = {r["title"]: r for r in toc_rows(page)}
    assert rows["Handicapping"]["disabled"] and not rows["Handicapping"]["link"], rows
    assert rows["Etiquette"]["disabled"], rows

    # A forward jump by choice (as a crafted TOC click would send it) is refused by sequencing.
    refused = page.evaluate(
        """async () => {
          const r = await fetch(cbsiPlayer.config.navUrl, {method: 'POST',
            headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + cbsiPlayer.config.token},
            body: JSON.stringify({request: 'choice', target: 'handicapping_item', from: 'playing_item'})});
          return {status: r.status, body: await r.json()};
        }"""
    )
    assert refused["status"] == 400 and refused["body"]["error"].startswith("nav_"), refused
    # The TOC entry is not a link: clicking it sends nothing.
    page.locator("#cbsi-toc-list .is-disabled", has_text="Handicapping").click()
    player_idle(page)
    assert player_current(page) == "playing_item"
    assert stack.sco_state(attempt, "handicapping_item") is None
    assert stack.attempt(attempt).current_item == "playing_item"

    # Flow: finish the first SCO (its last page completes and passes it), then Continue.
    golf_goto_page(page, 4)
    wait_until(lambda: stack.cmi(attempt, "playing_item", "cmi.success_status") == "passed", what="playing_item passed")
    # Continue is enabled all along (SN NB.2.1); the flow refuses it until the pass reaches sequencing.
    page.wait_for_function("() => !(cbsiPlayer.navState || {}).continue_refused")
    click_player(page, "#cbsi-next")
    assert player_current(page) == "etuqiette_item"
    golf_started(page)
    assert stack.cmi(attempt, "playing_item", "cmi.completion_status") == "completed"
    assert stack.sco_state(attempt, "etuqiette_item") is not None
    assert stack.sco_state(attempt, "handicapping_item") is None
    rows = {r["title"]: r for r in toc_rows(page)}
    assert rows["Playing the Game"]["completed"] and not rows["Etiquette"]["disabled"], rows
    assert rows["Handicapping"]["disabled"], rows
    assert dialogs.alerts == []

    # Exit (suspendAll) returns to the LMS; the relaunch resumes the same attempt at Etiquette.
    page.click("#cbsi-exit")
    page.wait_for_url(stack.platform + "/")
    assert launch_learner(page, stack, link) == attempt
    player_idle(page)
    assert player_current(page) == "etuqiette_item"
    rows = {r["title"]: r for r in toc_rows(page)}
    assert rows["Playing the Game"]["completed"] and rows["Handicapping"]["disabled"], rows


def test_demo_course_sample_activity(stack: Stack, context):
    page = context.new_page()
    page.goto(stack.platform + "/")
    page.locator("tr", has_text="Sample activity").get_by_role("link", name="Launch as learner").click()
    page.wait_for_url("**/play/**")
    page.wait_for_function("() => window.cbsiPlayer !== undefined")
    attempt = str(page.evaluate("cbsiPlayer.config.attemptId"))
    course = wait_for_frame(page, "/index.html", "the demo course")
    course.wait_for_selector("text=Chain of custody")
    course.click("#next")
    course.click("#next")
    course.check('input[name="q1"][value="b"]')
    course.check('input[name="q2"][value="b"]')
    course.click("#submit-quiz")
    course.wait_for_selector("#result >> text=Your score: 100%")

    item = only_item(stack, attempt)
    wait_until(lambda: stack.cmi(attempt, item, "cmi.core.lesson_status") == "passed", what="passed stored")
    assert stack.cmi(attempt, item, "cmi.core.score.raw") == "100"
    assert stack.cmi(attempt, item, "cmi.core.lesson_location") == "3"
    outcome = wait_until(lambda: stack.attempt(attempt).outcome or None, what="attempt outcome")
    assert outcome["success"] == "passed" and outcome["score_scaled"] == pytest.approx(1.0), outcome

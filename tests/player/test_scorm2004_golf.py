"""SCORM 2004 3rd ed. RuntimeBasicCalls_SCORM20043rdEdition played in the real player."""

from __future__ import annotations

import pytest
from golf_sco import Dialogs, golf_current_page, golf_frame, golf_goto_page, golf_pass_quiz
from player_helpers import wait_until

pytestmark = pytest.mark.browser

PACKAGE = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"


def golf_items(harness) -> list[dict]:
    pkg = harness.package(PACKAGE)
    items = harness.manifest_items(pkg)
    assert [i["kind"] for i in items] == ["sco"], items
    return items


def test_play_through_commits_completion_success_and_scaled_score(context, harness):
    path, attempt = harness.launch(version="2004", title="Golf Explained 2004", items=golf_items(harness))
    page = context.new_page()
    dialogs = Dialogs(page)
    page.goto(path)
    golf_goto_page(page, 14)
    golf_pass_quiz(page)
    golf_frame(page).click("#butExit")

    att = harness.attempts[attempt]
    rec = att.sco("item_1")
    wait_until(lambda: rec.terminated, what="the terminating commit")
    assert rec.values["cmi.completion_status"] == "completed"
    assert rec.values["cmi.success_status"] == "passed"
    assert rec.values["cmi.score.scaled"] == "1"
    assert rec.values["cmi.score.raw"] == "100"
    assert rec.values["cmi.location"] == "14"
    assert rec.values["cmi.exit"] == ""
    assert rec.values["adl.nav.request"] == "exitAll"
    assert rec.values["cmi.session_time"].startswith("P")
    assert [c["seq"] for c in rec.commits] == list(range(1, len(rec.commits) + 1))
    assert dialogs.alerts == []
    # The SCO's exitAll request reaches the navigation endpoint after the final commit.
    wait_until(lambda: att.nav_calls, what="the exitAll navigation request")
    assert att.nav_calls[-1]["request"] == "exitAll"
    page.wait_for_selector("#cbsi-panel:not([hidden]) >> text=Your progress has been saved")


def test_close_half_way_then_relaunch_resumes(context, harness):
    items = golf_items(harness)
    path, attempt = harness.launch(version="2004", title="Golf Explained 2004", items=items)
    page = context.new_page()
    Dialogs(page)
    page.goto(path)
    golf_goto_page(page, 8)
    assert page.evaluate("API_1484_11.SetValue('cmi.suspend_data', 'p=8')") == "true"
    rec = harness.attempts[attempt].sco("item_1")
    page.goto("/blank.html")
    wait_until(lambda: rec.terminated, what="the final keepalive commit")
    assert rec.values["cmi.location"] == "8"
    assert rec.values["cmi.suspend_data"] == "p=8"
    assert rec.values["cmi.exit"] == "suspend"
    assert rec.values["cmi.completion_status"] == "incomplete"

    path2, _ = harness.launch(version="2004", title="Golf Explained 2004", items=items, attempt_id=attempt)
    page2 = context.new_page()
    Dialogs(page2)
    page2.goto(path2)
    launch = golf_frame(page2)
    wait_until(lambda: launch.evaluate("currentPage === 8"), what="the SCO to resume at page 8")
    assert golf_current_page(page2).endswith("Handicapping/Overview.html")
    assert page2.evaluate("API_1484_11.GetValue('cmi.entry')") == "resume"
    assert page2.evaluate("API_1484_11.GetValue('cmi.completion_status')") == "incomplete"
    assert page2.evaluate("API_1484_11.GetValue('cmi.suspend_data')") == "p=8"

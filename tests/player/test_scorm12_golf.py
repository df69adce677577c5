"""SCORM 1.2 RuntimeBasicCalls_SCORM12 played in the real player, in Debian's chromium."""

from __future__ import annotations

import pytest
from golf_sco import Dialogs, golf_current_page, golf_frame, golf_goto_page, golf_pass_quiz
from player_helpers import wait_until

pytestmark = pytest.mark.browser

PACKAGE = "scorm12/RuntimeBasicCalls_SCORM12.zip"


def golf_items(harness) -> list[dict]:
    pkg = harness.package(PACKAGE)
    items = harness.manifest_items(pkg)
    assert [i["kind"] for i in items] == ["sco"], items
    return items


def test_play_through_commits_status_score_and_time(context, harness):
    path, attempt = harness.launch(version="1.2", title="Golf Explained", items=golf_items(harness), nav=False)
    page = context.new_page()
    dialogs = Dialogs(page)
    page.goto(path)
    golf_goto_page(page, 14)
    golf_pass_quiz(page)
    golf_frame(page).click("#butExit")

    rec = harness.attempts[attempt].sco("item_1")
    wait_until(lambda: rec.terminated, what="the terminating commit", page=page)
    assert rec.values["cmi.core.lesson_status"] == "passed"
    assert rec.values["cmi.core.score.raw"] == "100"
    assert rec.values["cmi.core.score.min"] == "0"
    assert rec.values["cmi.core.score.max"] == "100"
    assert rec.values["cmi.core.lesson_location"] == "14"
    assert rec.values["cmi.core.exit"] == ""
    assert rec.values["cmi.core.session_time"].count(":") == 2
    seqs = [c["seq"] for c in rec.commits]
    assert seqs == sorted(set(seqs)) and seqs[0] == 1
    assert rec.commits[-1]["terminate"] is True
    assert not rec.refused
    assert dialogs.alerts == []
    # Single SCO, LMSFinish with no navigation request: the player shows its exit page.
    page.wait_for_selector("#cbsi-panel:not([hidden]) >> text=Your progress has been saved")


def test_close_half_way_then_relaunch_resumes(context, harness):
    items = golf_items(harness)
    path, attempt = harness.launch(version="1.2", title="Golf Explained", items=items, nav=False)
    page = context.new_page()
    dialogs = Dialogs(page)
    page.goto(path)
    golf_goto_page(page, 5)
    # The content keeps its own state in suspend_data (this golf sample does not, so we do).
    assert page.evaluate("API.LMSSetValue('cmi.suspend_data', 'page=5;seen=0-5')") == "true"
    rec = harness.attempts[attempt].sco("item_1")
    assert rec.commits == []  # the SCO never calls LMSCommit: nothing sent yet
    # Navigate the whole tab away: pagehide/beforeunload -> one keepalive commit survives it.
    page.goto("/blank.html")
    wait_until(lambda: rec.terminated, what="the final keepalive commit")
    assert rec.values["cmi.core.lesson_location"] == "5"
    assert rec.values["cmi.suspend_data"] == "page=5;seen=0-5"
    assert rec.values["cmi.core.exit"] == "suspend"
    assert rec.values["cmi.core.lesson_status"] == "incomplete"
    assert rec.terminated == 1 and len({c["session"] for c in rec.commits}) == 1
    assert dialogs.alerts == []

    # Relaunch with the committed state: entry = resume, the SCO resumes at page 5.
    path2, _ = harness.launch(version="1.2", title="Golf Explained", items=items, nav=False, attempt_id=attempt)
    page2 = context.new_page()
    dialogs2 = Dialogs(page2)
    page2.goto(path2)
    launch = golf_frame(page2)
    wait_until(lambda: launch.evaluate("currentPage === 5"), what="the SCO to resume at page 5")
    assert golf_current_page(page2).endswith("Etiquette/Course.html")
    assert page2.evaluate("API.LMSGetValue('cmi.core.entry')") == "resume"
    assert page2.evaluate("API.LMSGetValue('cmi.suspend_data')") == "page=5;seen=0-5"
    assert any("resume" in m for _, m in dialogs2.messages)  # the SCO's own resume prompt
    assert page2.evaluate("localStorage.length") == 0  # nothing left unsent
    # The new launch is a new session: its terminate is counted apart from the first one.
    launch.click("#butExit")  # the SCO asks "save progress?": the dialog handler accepts
    wait_until(lambda: rec.terminated == 2, what="the second session's terminating commit", page=page2)


def test_close_tab_sends_final_commit(context, harness):
    path, attempt = harness.launch(version="1.2", title="Golf Explained", items=golf_items(harness), nav=False)
    page = context.new_page()
    Dialogs(page)
    page.goto(path)
    golf_goto_page(page, 3)
    rec = harness.attempts[attempt].sco("item_1")
    page.close(run_before_unload=True)
    # Two page-exit commits race (the player's own, then the SCO's LMSFinish in its unload).
    wait_until(lambda: rec.values.get("cmi.core.exit") == "suspend", what="the SCO's final commit on close")
    assert rec.values["cmi.core.lesson_location"] == "3"
    assert rec.terminated == 1

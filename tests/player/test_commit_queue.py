"""The commit queue: offline, server errors, stale seq, reloads, beacons, refused tokens.

The content is a blank page; the test drives the API the way a SCO would (SetValue + Commit).
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from player_helpers import wait_until

pytestmark = pytest.mark.browser

BLANK = [{"id": "sco1", "title": "Blank SCO", "url": "/blank.html", "kind": "sco", "depth": 0, "visible": True}]
STORAGE_KEY = "cbsi-runtime:{attempt}:sco1"


def open_player(context: Any, harness: Any, attempt: str | None = None) -> tuple[Any, str]:
    path, attempt = harness.launch(version="2004", title="Queue", items=BLANK, nav=False, attempt_id=attempt)
    page = context.new_page()
    page.goto(path)
    page.wait_for_function("window.cbsiRuntime && window.cbsiRuntime.runtime")
    return page, attempt


def set_and_commit(page: Any, value: str) -> None:
    assert (
        page.evaluate("(v) => API_1484_11.SetValue('cmi.suspend_data', v) + API_1484_11.Commit('')", value)
        == "truetrue"
    )


def stored_queue(page: Any, attempt: str) -> list[dict]:
    return json.loads(page.evaluate("(k) => localStorage.getItem(k) || '[]'", STORAGE_KEY.format(attempt=attempt)))


def assert_seq_increasing(rec: Any) -> None:
    seqs = [c["seq"] for c in rec.commits]
    assert all(a < b for a, b in itertools.pairwise(seqs)), seqs


def test_offline_commits_are_queued_persisted_and_sent_in_order(context, harness):
    page, attempt = open_player(context, harness)
    assert page.evaluate("API_1484_11.Initialize('')") == "true"
    rec = harness.attempts[attempt].sco("sco1")
    context.set_offline(True)
    for v in ("a1", "a2", "a3"):
        set_and_commit(page, v)
    time.sleep(0.5)
    assert rec.commits == []
    queued = stored_queue(page, attempt)
    assert [b["changes"]["cmi.suspend_data"] for b in queued] == ["a1", "a2", "a3"]
    assert [b["seq"] for b in queued] == [1, 2, 3]
    page.wait_for_selector("#cbsi-status[data-state=offline]", state="attached")

    context.set_offline(False)  # fires "online": retried at once
    wait_until(lambda: len(rec.commits) == 3, what="the three queued commits")
    assert [c["changes"]["cmi.suspend_data"] for c in rec.commits] == ["a1", "a2", "a3"]
    assert [c["seq"] for c in rec.commits] == [1, 2, 3]
    assert rec.values["cmi.suspend_data"] == "a3"
    wait_until(lambda: stored_queue(page, attempt) == [], what="the stored queue to empty")
    assert page.evaluate("cbsiRuntime.flush()") == {"ok": True, "pending": 0}


def test_server_errors_are_retried_with_backoff_and_nothing_is_lost(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize('')")
    rec = harness.attempts[attempt].sco("sco1")
    harness.fail_next = 3
    try:
        set_and_commit(page, "b1")
        set_and_commit(page, "b2")
        wait_until(lambda: len(rec.commits) == 2, timeout=15, what="both commits after three 503s")
    finally:
        harness.fail_next = 0
    assert [c["changes"]["cmi.suspend_data"] for c in rec.commits] == ["b1", "b2"]
    assert_seq_increasing(rec)


def test_stale_seq_is_resynced_from_the_server(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize('')")
    rec = harness.attempts[attempt].sco("sco1")
    rec.seq = 50  # another tab (or an earlier page) committed meanwhile
    set_and_commit(page, "c1")
    wait_until(lambda: rec.commits, what="the resent commit")
    assert rec.refused and rec.refused[0]["seq"] == 1
    assert rec.commits[0]["seq"] == 51
    set_and_commit(page, "c2")
    wait_until(lambda: len(rec.commits) == 2, what="the next commit")
    assert rec.commits[1]["seq"] == 52


def test_reload_while_server_down_loses_nothing(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize('')")
    page.evaluate("API_1484_11.SetValue('cmi.location', 'p7')")
    rec = harness.attempts[attempt].sco("sco1")
    # Server down (503s) rather than browser-offline: chromium may deliver a closed page's
    # keepalive request once back online, which would hide the replay path tested here.
    harness.fail_next = 1000
    try:
        set_and_commit(page, "kept")
        wait_until(lambda: page.evaluate("cbsiRuntime.runtime.queue.failures") >= 1, what="a failed attempt")
        page.close(run_before_unload=True)  # the page-exit keepalive is refused too
        time.sleep(0.3)
    finally:
        harness.fail_next = 0
    assert rec.commits == []

    page2, _ = open_player(context, harness, attempt)
    # The pending commit is replayed, and the new page's state already includes it.
    wait_until(lambda: rec.values.get("cmi.suspend_data") == "kept", what="the replayed commit")
    assert rec.values["cmi.location"] == "p7"
    page2.evaluate("API_1484_11.Initialize('')")
    assert page2.evaluate("API_1484_11.GetValue('cmi.suspend_data')") == "kept"
    wait_until(lambda: stored_queue(page2, attempt) == [], what="the stored queue to empty")
    assert_seq_increasing(rec)


def test_commits_the_server_already_applied_are_not_replayed(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize('')")
    rec = harness.attempts[attempt].sco("sco1")
    set_and_commit(page, "applied")
    wait_until(lambda: rec.commits, what="the commit")
    page.close()  # ends the session: a second, terminating commit
    wait_until(lambda: rec.terminated, what="the session end")
    sent = len(rec.commits)
    # As if the page had died before it saw the last answer: that batch is still stored.
    other = context.new_page()
    other.goto("/blank.html")
    other.evaluate(
        "([k, b]) => localStorage.setItem(k, JSON.stringify([b]))",
        [STORAGE_KEY.format(attempt=attempt), {**rec.commits[-1], "changes": {"cmi.suspend_data": "stale"}}],
    )
    page2, _ = open_player(context, harness, attempt)  # config.lastCommitId = that batch's id
    page2.evaluate("API_1484_11.Initialize('')")
    assert page2.evaluate("API_1484_11.GetValue('cmi.suspend_data')") == "applied"
    assert stored_queue(page2, attempt) == []
    page2.wait_for_timeout(300)
    assert len(rec.commits) == sent


def test_big_page_exit_commit_goes_by_beacon_with_token_in_body(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize('')")
    rec = harness.attempts[attempt].sco("sco1")
    big = "x" * 61000  # body above the keepalive budget, below the beacon's 64 KiB
    assert page.evaluate("(v) => API_1484_11.SetValue('cmi.suspend_data', v)", big) == "true"
    page.goto("/blank.html")
    wait_until(lambda: rec.commits, what="the beacon commit")
    commit = rec.commits[-1]
    assert commit["via_beacon"] is True
    assert commit["content_type"].startswith("text/plain")
    assert commit["changes"]["cmi.suspend_data"] == big


def test_refused_token_keeps_the_queue_for_the_next_launch(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize('')")
    rec = harness.attempts[attempt].sco("sco1")
    page.evaluate("cbsiRuntime.runtime.queue.token = 'expired'")
    set_and_commit(page, "later")
    page.wait_for_selector("#cbsi-status[data-state=auth]", state="attached")
    assert rec.commits == []
    assert [b["changes"]["cmi.suspend_data"] for b in stored_queue(page, attempt)] == ["later"]
    assert page.evaluate("cbsiRuntime.flush()") == {"ok": False, "pending": 1}


def test_lost_answer_is_retried_with_the_same_id_and_applied_once(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize('')")
    rec = harness.attempts[attempt].sco("sco1")
    lost = []

    def lose_first_answer(route: Any) -> None:
        if not lost:
            route.fetch()  # reaches the server, which applies it
            lost.append(True)
            route.abort("connectionreset")  # ...but the browser never sees the answer
        else:
            route.continue_()

    page.route("**/runtime/**/commit", lose_first_answer)
    set_and_commit(page, "once")
    wait_until(lambda: page.evaluate("cbsiRuntime.runtime.queue.pending") == 0, what="the retried commit")
    set_and_commit(page, "twice")
    # Poll through the page: the sync Playwright API runs route handlers only inside its calls.
    wait_until(lambda: page.evaluate("cbsiRuntime.runtime.queue.pending") == 0, what="the next commit")
    assert [c["changes"]["cmi.suspend_data"] for c in rec.commits] == ["once", "twice"]
    assert rec.refused == []
    assert len({c["session"] for c in rec.commits}) == 1
    assert_seq_increasing(rec)


def test_hidden_page_commits_and_keeps_working(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize(''); API_1484_11.SetValue('cmi.location', 'hidden')")
    rec = harness.attempts[attempt].sco("sco1")
    page.evaluate(
        """() => {
          Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
          document.dispatchEvent(new Event('visibilitychange'));
        }"""
    )
    wait_until(lambda: rec.values.get("cmi.location") == "hidden", what="the commit on visibilitychange")
    assert rec.terminated == 0  # hidden is not the end: the SCO is still running
    page.evaluate("delete document.visibilityState")
    set_and_commit(page, "after")
    wait_until(lambda: rec.values.get("cmi.suspend_data") == "after", what="a normal commit afterwards")
    assert_seq_increasing(rec)


def test_leaving_the_page_ends_a_session_the_content_never_terminated(context, harness):
    page, attempt = open_player(context, harness)
    page.evaluate("API_1484_11.Initialize(''); API_1484_11.SetValue('cmi.location', 'left')")
    rec = harness.attempts[attempt].sco("sco1")
    page.goto("/blank.html")
    wait_until(lambda: rec.terminated == 1, what="the session-ending commit")
    assert rec.values["cmi.location"] == "left"
    assert rec.commits[-1]["terminate"] is True


def _set_all(page: Any, values: dict[str, str]) -> str:
    return page.evaluate(
        "(vs) => { for (const [k, v] of Object.entries(vs)) API_1484_11.SetValue(k, v); "
        "return API_1484_11.Commit(''); }",
        values,
    )


def test_values_set_again_unchanged_are_not_posted(context, harness):
    """Content that sets its whole model before every Commit posts only what moved (a delta)."""
    page, attempt = open_player(context, harness)
    assert page.evaluate("API_1484_11.Initialize('')") == "true"
    rec = harness.attempts[attempt].sco("sco1")
    model = {"cmi.location": "p1", "cmi.suspend_data": "s" * 500, "cmi.progress_measure": "0.1"}
    assert _set_all(page, model) == "true"
    wait_until(lambda: len(rec.commits) == 1, what="the first commit")
    assert rec.commits[0]["changes"] == model
    assert _set_all(page, {**model, "cmi.location": "p2"}) == "true"
    wait_until(lambda: len(rec.commits) == 2, what="the second commit")
    assert rec.commits[1]["changes"] == {"cmi.location": "p2"}
    assert _set_all(page, {**model, "cmi.location": "p2"}) == "true"  # nothing moved: nothing to post
    assert page.evaluate("cbsiRuntime.flush()") == {"ok": True, "pending": 0}
    assert len(rec.commits) == 2
    # a value the next launch starts with (the stored state) is not posted either, a new one is
    page.close(run_before_unload=True)
    wait_until(lambda: len(rec.commits) == 3, what="the exit commit")
    page, _ = open_player(context, harness, attempt)
    assert page.evaluate("API_1484_11.Initialize('')") == "true"
    assert _set_all(page, {"cmi.location": "p2", "cmi.suspend_data": "t"}) == "true"
    wait_until(lambda: rec.values.get("cmi.suspend_data") == "t", what="the commit after the reload")
    assert rec.commits[2]["changes"] == {} and rec.commits[2]["terminate"]  # the first page's exit
    assert rec.commits[3]["changes"] == {"cmi.suspend_data": "t"}


def test_a_batch_refused_for_good_is_sent_again_when_set_again(context, harness):
    page, attempt = open_player(context, harness)
    assert page.evaluate("API_1484_11.Initialize('')") == "true"
    rec = harness.attempts[attempt].sco("sco1")
    harness.fail_next, harness.fail_status = 1, 400
    try:
        set_and_commit(page, "refused")
        wait_until(lambda: harness.fail_next == 0, what="the refused commit")
        wait_until(lambda: page.evaluate("cbsiRuntime.flush()")["pending"] == 0, what="the queue to drop it")
        set_and_commit(page, "refused")  # the server never stored it: posted again
    finally:
        harness.fail_status = 503
    wait_until(lambda: len(rec.commits) == 1, what="the commit of the value set again")
    assert rec.commits[0]["changes"] == {"cmi.suspend_data": "refused"}

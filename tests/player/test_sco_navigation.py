"""SCORM 2004 navigation requests from content, and content windows opened by the SCO."""

from __future__ import annotations

from typing import Any

import pytest
from player_helpers import wait_until

pytestmark = pytest.mark.browser


def blank_scos(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"sco{i}",
            "title": f"Lesson {i}",
            "url": f"/blank.html?sco={i}",
            "kind": "sco",
            "depth": 0,
            "visible": True,
        }
        for i in range(1, n + 1)
    ]


def wait_running(page: Any, sco_id: str) -> None:
    page.wait_for_function("(id) => cbsiRuntime.runtime && cbsiRuntime.runtime.config.scoId === id", arg=sco_id)


@pytest.mark.parametrize(
    ("request_value", "expected_request", "expected_target", "lands_on"),
    [
        ("continue", "continue", None, "sco2"),
        ("{target=sco3}choice", "choice", "sco3", "sco3"),
    ],
)
def test_terminate_with_nav_request_commits_first_then_navigates(
    context, harness, request_value, expected_request, expected_target, lands_on
):
    path, attempt = harness.launch(version="2004", title="Nav", items=blank_scos(3))
    page = context.new_page()
    page.goto(path)
    wait_running(page, "sco1")
    result = page.evaluate(
        """(req) => { const a = API_1484_11; a.Initialize('');
        a.SetValue('cmi.completion_status', 'completed'); a.SetValue('adl.nav.request', req);
        return a.Terminate(''); }""",
        request_value,
    )
    assert result == "true"
    wait_running(page, lands_on)
    assert page.get_attribute("#cbsi-content", "src") == f"/blank.html?sco={lands_on[-1]}"
    att = harness.attempts[attempt]
    assert att.nav_calls == [{"request": expected_request, "target": expected_target, "from": "sco1"}]
    mine = [(k, d) for k, a, d in harness.events if a == attempt]
    assert mine.index(("commit", "sco1 terminate=True")) < mine.index(("nav", f"{expected_request} from=sco1"))
    assert att.sco("sco1").values["cmi.completion_status"] == "completed"
    # The new SCO has its own fresh runtime and state machine.
    assert page.evaluate("API_1484_11.GetValue('cmi.completion_status')") == ""
    assert page.evaluate("API_1484_11.GetLastError()") == "122"


def test_player_unloads_a_sco_that_never_terminated(context, harness):
    path, attempt = harness.launch(version="2004", title="Nav", items=blank_scos(2))
    page = context.new_page()
    page.goto(path)
    wait_running(page, "sco1")
    page.evaluate("API_1484_11.Initialize(''); API_1484_11.SetValue('cmi.location', 'x')")
    page.click("#cbsi-next")
    wait_running(page, "sco2")
    rec = harness.attempts[attempt].sco("sco1")
    assert rec.terminated == 1
    assert rec.values["cmi.location"] == "x"


def test_periodic_commit_while_dirty(context, harness):
    items = blank_scos(1)
    path, attempt = harness.launch(version="2004", title="Timer", items=items, nav=False)
    harness.launches[path.rsplit("/", 1)[1]]["runtime"]["commitIntervalMs"] = 300
    page = context.new_page()
    page.goto(path)
    wait_running(page, "sco1")
    page.evaluate("API_1484_11.Initialize(''); API_1484_11.SetValue('cmi.location', 'tick')")
    rec = harness.attempts[attempt].sco("sco1")
    wait_until(lambda: rec.values.get("cmi.location") == "tick", timeout=5, what="the periodic commit")
    assert rec.commits[0]["terminate"] is False


def test_content_in_a_popup_finds_the_api_through_its_opener(context, harness):
    path, _ = harness.launch(version="1.2", title="Popup", items=blank_scos(1), nav=False)
    page = context.new_page()
    page.goto(path)
    wait_running(page, "sco1")
    frame = next(f for f in page.frames if "/blank.html" in f.url)
    with context.expect_page() as popup_info:
        frame.evaluate("window.open('/blank.html?popup=1', 'sco_popup')")
    popup = popup_info.value
    popup.wait_for_load_state()
    # The ADL discovery algorithm: climb parents, then the opener's parents (RTE 1.2 §3.3.6.1).
    found = popup.evaluate(
        """() => {
          function scan(win) {
            let n = 0;
            while (!win.API && win.parent && win.parent !== win && n++ < 7) win = win.parent;
            return win.API || null;
          }
          let api = scan(window);
          if (!api && window.opener) api = scan(window.opener);
          return api ? api.LMSInitialize('') + api.LMSSetValue('cmi.core.lesson_location', 'from-popup') : null;
        }"""
    )
    assert found == "truetrue"
    assert page.evaluate("cbsiRuntime.runtime.model.values.get('cmi.core.lesson_location')") == "from-popup"


def test_exit_while_the_server_is_down_says_so_then_saves(context, harness):
    path, attempt = harness.launch(version="2004", title="Exit", items=blank_scos(1), nav=False)
    page = context.new_page()
    page.goto(path)
    wait_running(page, "sco1")
    page.evaluate("API_1484_11.Initialize(''); API_1484_11.SetValue('cmi.location', 'end')")
    rec = harness.attempts[attempt].sco("sco1")
    harness.fail_next = 1000
    try:
        page.click("#cbsi-exit")
        page.wait_for_selector(".cbsi-warn >> text=could not be sent yet")
        assert page.inner_text("#cbsi-panel h2") == "Your progress is being saved"
        page.screenshot(path="/tmp/cbsi-player-exit-pending.png")
        assert rec.commits == []
    finally:
        harness.fail_next = 0
    page.wait_for_selector(".cbsi-warn >> text=Everything is saved now.")
    assert page.inner_text("#cbsi-panel h2") == "Your progress has been saved"
    assert rec.values["cmi.location"] == "end" and rec.terminated == 1

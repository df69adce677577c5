"""Exit with a hostile ``launch_presentation.return_url``: the page never runs it (issue 12, item 1).

The harness hands the config to the page unfiltered, as a server without the check would:
this is the page's own guard (``safeReturnUrl`` in player.js). The server-side rule is tested
in ``tests/web/test_return_url_rule.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from player_helpers import wait_until

pytestmark = pytest.mark.browser

GOLF = "scorm12/RuntimeBasicCalls_SCORM12.zip"

HOSTILE = [
    "javascript:window.top.__pwned=1",
    "JavaScript:window.top.__pwned=1",
    " javascript:window.top.__pwned=1",
    "java\tscript:window.top.__pwned=1",
    "java\nscript:window.top.__pwned=1",
    "\x01javascript:window.top.__pwned=1",
    "javascript:window.top.__pwned=1//https://lms.example/",
    "data:text/html,<script>window.top.__pwned=1</script>",
    "vbscript:window.top.__pwned=1",
]


def _exit(context: Any, harness: Any, return_url: str | None) -> Any:
    pkg = harness.package(GOLF)
    path, _ = harness.launch(
        version="1.2", title="Golf", items=harness.manifest_items(pkg), nav=False, return_url=return_url
    )
    page = context.new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(path)
    wait_until(lambda: page.evaluate("cbsiRuntime.runtime && cbsiRuntime.runtime.status") == "running", what="init")
    page.click("#cbsi-exit")
    return page


@pytest.mark.parametrize("return_url", HOSTILE)
def test_a_script_return_url_never_runs_on_exit(context: Any, harness: Any, return_url: str) -> None:
    page = _exit(context, harness, return_url)
    page.wait_for_selector("#cbsi-panel:not([hidden]) >> text=Your progress has been saved")
    page.wait_for_timeout(300)  # a navigation to a javascript: URL would have run by now
    assert page.evaluate("window.__pwned") is None
    assert page.url.startswith(harness.base_url + "/player/")
    # no "Return to the course" link carries it either; the learner is told to close the window
    assert page.locator("#cbsi-panel a").count() == 0
    assert "You can close this window" in page.inner_text("#cbsi-panel")


def test_an_https_like_return_url_is_still_followed(context: Any, harness: Any) -> None:
    page = _exit(context, harness, harness.base_url + "/return")
    page.wait_for_url("**/return")
    assert page.evaluate("window.__pwned") is None

"""A real browser (Debian's Chromium via Playwright) runs the platform-storage fallback end to
end: the tool's login page stores the state with ``lti.put_data`` in the development LMS frame,
the state cookie is taken away before the launch, and the launch page recovers with
``lti.get_data``."""

from __future__ import annotations

from typing import Any

import pytest
from test_lti_devplatform_http import Live, live  # noqa: F401 - the live-server fixture


@pytest.mark.browser
def test_platform_storage_recovers_a_launch_without_cookie(live: Live, chromium: Any):  # noqa: F811
    launches: list[str] = []
    context = chromium.new_context()
    try:
        page = context.new_page()

        def drop_cookies(route: Any) -> None:  # the browser "loses" the tool's state cookie (3PC blocked)
            context.clear_cookies()
            route.continue_()

        page.route("**/dev/platform/auth?*", drop_cookies)
        page.on(
            "request",
            lambda r: launches.append(r.post_data or "") if r.url.endswith("/lti/launch") else None,
        )
        page.goto(live.platform + "/")
        page.goto(live.platform + "/frame?user=learner&link=1")
        frame = page.frame(name="lti_tool_frame")
        assert frame is not None
        frame.wait_for_url("**/play/**", timeout=15000)
        assert "cbsi-player-config" in frame.content() and "Evidence Handling Basics" in frame.content()
    finally:
        context.close()
    assert len(launches) == 2  # the cookie-less launch, then the one carrying the storage proof
    assert "lti_storage_proof" not in launches[0] and "lti_storage_proof=" in launches[1]

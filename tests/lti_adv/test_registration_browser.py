"""In a real browser: Moodle opens the registration in an iframe and receives ``org.imsglobal.lti.close``."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from lti_adv_helpers import REG_TOKEN, SimulatedMoodle, running_fake_server
from werkzeug.serving import make_server

from lti_tool import create_app
from lti_tool.services import build_services
from lti_tool.settings import load_settings

pytestmark = pytest.mark.browser



@pytest.fixture
def live_tool(settings_overrides: dict[str, dict[str, Any]]) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    overrides = copy.deepcopy(settings_overrides)
    overrides["server"]["base_url"] = base
    settings = load_settings(environ={}, overrides=overrides)
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    app.testing = True
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=5)
        services.db.dispose()


@pytest.mark.parametrize(("token", "marker"), [(REG_TOKEN, "#pending"), ("forged", ".error")])
def test_registration_page_posts_the_close_message_to_its_parent(
    live_tool: str, token: str, marker: str, chromium: Any
):
    with running_fake_server() as fake:
        moodle = SimulatedMoodle(fake)
        register = (
            live_tool
            + "/lti/register?"
            + urlencode({"openid_configuration": moodle.configuration_url, "registration_token": token})
        )
        admin_page = f"""<!doctype html><title>waiting</title>
<iframe id="tool" src="{register}" width="800" height="600"></iframe>
<script>
window.addEventListener("message", function (event) {{
  if (event.data && event.data.subject) {{ document.title = "got:" + event.data.subject; }}
}});
</script>"""
        fake.route("GET", "/admin/tool.php", lambda rec: (200, {"Content-Type": "text/html"}, admin_page.encode()))
        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(fake.url("/admin/tool.php"))
            frame = page.frame_locator("#tool")
            expected = "cbsi-connect platforms approve" if token == REG_TOKEN else "registration_refused"
            assert expected in frame.locator(marker).inner_text()
            assert page.title() == "waiting"  # the admin reads the next steps first
            frame.locator("#finish").click()
            page.wait_for_function("document.title.startsWith('got:')", timeout=10000)
            assert page.title() == "got:org.imsglobal.lti.close"
        finally:
            context.close()
        assert len(moodle.registrations) == (1 if token == REG_TOKEN else 0)

"""The Exit button's target: only absolute https URLs (http in demo mode or on a plain-http tool) (issue 12, 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lti_tool.web.player import safe_return_url

GOOD = "https://moodle.example.org/mod/lti/return.php?course=2&launch_container=3&instanceid=1&sesskey=Ab1"

REFUSED = [
    "javascript:alert(document.domain)",
    "JAVASCRIPT:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "java\rscript:alert(1)",
    " javascript:alert(1)",
    "\x00javascript:alert(1)",
    "\x1fjavascript:alert(1)",
    "javascript:alert(1)//https://moodle.example.org/",
    "javascript://moodle.example.org/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "ftp://moodle.example.org/",
    "/course/view.php?id=2",
    "course/view.php",
    "//evil.example/",
    "https:evil.example",
    "https:/evil.example",
    "https:///evil.example",
    "https:\\\\evil.example",
    "https://",
    "https://moodle.example.org/a b",
    "https://moodle.example.org/\u0085",
    "https://moodle.example.org/\u2028",
    "https://moodle.example.org/" + "a" * 3000,
    "",
    None,
    42,
    ["https://moodle.example.org/"],
    {"url": "https://moodle.example.org/"},
]


@pytest.mark.parametrize("value", REFUSED)
@pytest.mark.parametrize("allow_http", [False, True])
def test_anything_but_an_absolute_web_url_is_ignored(value: Any, allow_http: bool) -> None:
    assert safe_return_url(value, allow_http=allow_http) is None


def test_https_is_accepted() -> None:
    assert safe_return_url(GOOD, allow_http=False) == GOOD
    assert safe_return_url("HTTPS://Moodle.Example.org:8443/x", allow_http=False) == "HTTPS://Moodle.Example.org:8443/x"


def test_plain_http_only_when_allowed() -> None:
    url = "http://localhost:8080/mod/lti/return.php?course=2"
    assert safe_return_url(url, allow_http=False) is None
    assert safe_return_url(url, allow_http=True) == url


@pytest.fixture
def https_tool(settings_overrides: dict) -> None:
    """The tool served over https, outside demo mode: production (before the app is built)."""
    settings_overrides["server"]["base_url"] = "https://tool.example.org"


@pytest.fixture
def demo_over_https(settings_overrides: dict) -> None:
    settings_overrides["server"].update(base_url="https://tool.example.org", demo=True)


def test_the_launch_page_drops_a_script_return_url(
    https_tool: None, make_launch: Callable, player_config: Callable
) -> None:
    assert player_config(make_launch(return_url="javascript:alert(document.cookie)"))["returnUrl"] is None
    assert player_config(make_launch(return_url="java\tscript:alert(1)"))["returnUrl"] is None
    assert player_config(make_launch(return_url="http://moodle.example.org/return"))["returnUrl"] is None
    assert player_config(make_launch(return_url=["not", "a", "url"]))["returnUrl"] is None
    assert player_config(make_launch(return_url=GOOD))["returnUrl"] == GOOD


def test_http_return_url_in_demo_mode(demo_over_https: None, make_launch: Callable, player_config: Callable) -> None:
    url = "http://localhost:8080/mod/lti/return.php?course=2"
    assert player_config(make_launch(return_url=url))["returnUrl"] == url
    assert player_config(make_launch(return_url="javascript:alert(1)"))["returnUrl"] is None


def test_http_return_url_when_the_tool_itself_is_plain_http(make_launch: Callable, player_config: Callable) -> None:
    """The test stacks (tool and development LMS on http://127.0.0.1, not demo mode)."""
    url = "http://127.0.0.1:8080/dev/platform/"
    assert player_config(make_launch(return_url=url))["returnUrl"] == url
    assert player_config(make_launch(return_url="java\tscript:alert(1)"))["returnUrl"] is None


@pytest.mark.parametrize("presentation", ["javascript:alert(1)", ["https://lms.example/"], 7, {"return_url": None}])
def test_a_malformed_presentation_claim_is_ignored(
    make_launch: Callable, player_config: Callable, presentation: Any
) -> None:
    assert player_config(make_launch(presentation=presentation))["returnUrl"] is None

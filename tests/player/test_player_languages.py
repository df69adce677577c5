"""The player and its exit page in the learner's language (Spanish, French, Dutch), in Chromium.

The browser asks for the language (``Accept-Language`` from the context's locale); the page
embeds the player's words from the catalogues and player.js shows only those.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from babel.messages.pofile import read_po
from player_helpers import wait_until

from lti_tool import messages
from lti_tool.web.i18n import TRANSLATIONS

pytestmark = pytest.mark.browser

GOLF = "scorm12/RuntimeBasicCalls_SCORM12.zip"
TAGS = {"es": "es-DO", "fr": "fr-HT", "nl": "nl-SR"}


def _catalogue(lang: str) -> dict[str, str]:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


@pytest.fixture(params=sorted(TAGS))
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def local_context(browser: Any, harness: Any, lang: str) -> Iterator[Any]:
    ctx = browser.new_context(base_url=harness.base_url, locale=TAGS[lang], viewport={"width": 1280, "height": 800})
    yield ctx
    ctx.close()


def test_the_exit_page_speaks_the_learners_language(local_context: Any, harness: Any, lang: str) -> None:
    words = _catalogue(lang)
    pkg = harness.package(GOLF)
    path, _ = harness.launch(version="1.2", title="Golf", items=harness.manifest_items(pkg), nav=False)
    page = local_context.new_page()
    page.goto(path)
    wait_until(lambda: page.evaluate("cbsiRuntime.runtime && cbsiRuntime.runtime.status") == "running", what="init")
    assert page.inner_text("#cbsi-exit") == words["Exit"]
    assert page.get_attribute("html", "lang") == TAGS[lang].replace("_", "-")
    page.click("#cbsi-exit")
    saved = words[messages.PLAYER["progress_saved"]]
    page.wait_for_selector(f"#cbsi-panel:not([hidden]) >> text={saved}")
    panel = page.inner_text("#cbsi-panel")
    assert words[messages.PLAYER["close_or_return"]] in panel
    for english in messages.PLAYER.values():
        assert english not in panel, f"English on the {lang} exit page: {english!r}"
    assert page.inner_text("#cbsi-status") == words[messages.PLAYER["saved"]]

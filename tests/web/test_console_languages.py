"""The operator console in Spanish, French and Dutch: switched by the reader, no English left."""

from __future__ import annotations

import re
from html import unescape

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from lti_tool import operators
from lti_tool.services import Services
from tests.web.test_console import PASSWORD, add_pending, csrf_of
from tests.web.test_translations import SAME_WORDS, TRANSLATIONS

PAGES = (
    "/admin/",
    "/admin/academies",
    "/admin/packages",
    "/admin/delivery",
    "/admin/report",
    "/admin/keys",
    "/admin/audit",
)


def english_sentences() -> set[str]:
    """The console's English message ids long enough that finding one on a page means a leak."""
    with (TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        ids = {m.id for m in read_po(f) if m.id and isinstance(m.id, str)}
    return {i for i in ids if "%(" not in i and len(i) > 14 and i not in SAME_WORDS}


def text_of(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def log_in(client: FlaskClient, services: Services) -> None:
    operators.set_operator(services, "ops", PASSWORD)
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    assert (
        client.post("/admin/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token}).status_code
        == 302
    )


@pytest.mark.parametrize(("lang", "word"), [("es", "Academias"), ("fr", "Académies"), ("nl", "Catalogus")])
def test_every_console_page_in_the_chosen_language_with_no_english_left(
    client: FlaskClient, services: Services, platform_id: int, lang: str, word: str
) -> None:
    log_in(client, services)
    add_pending(services)
    english = english_sentences()
    first = client.get(f"/admin/?lang={lang}")
    assert f"cbsi_lang={lang}" in first.headers.get("Set-Cookie", "")
    for path in PAGES:
        page = client.get(path)  # the cookie carries the choice from page to page
        assert page.status_code == 200, path
        html = page.get_data(as_text=True)
        assert f'<html lang="{lang}"' in html, path
        text = text_of(html)
        leaks = sorted(s for s in english if s in text)
        assert not leaks, f"{path} in {lang} still shows English: {leaks[:3]}"
    assert word in text_of(client.get("/admin/").get_data(as_text=True))


def test_switching_back_and_ignoring_unknown_languages(client: FlaskClient, services: Services) -> None:
    assert 'lang="es"' in client.get("/admin/login?lang=es").get_data(as_text=True)
    assert "Acceso de operadores" in client.get("/admin/login").get_data(as_text=True)
    assert 'lang="es"' in client.get("/admin/login?lang=de").get_data(as_text=True)  # unknown: the choice stays
    assert "Operator login" in client.get("/admin/login?lang=en").get_data(as_text=True)
    html = client.get("/admin/login?lang=en&next=%2Fadmin%2Freport").get_data(as_text=True)
    assert 'href="/admin/login?next=%2Fadmin%2Freport&amp;lang=nl"' in html  # the switcher keeps the page's query


def test_the_launch_language_is_overridden_by_the_readers_choice(client: FlaskClient) -> None:
    html = client.get("/no-such-page?lang=fr", headers={"Accept-Language": "es", "Accept": "text/html"})
    assert 'lang="fr"' in html.get_data(as_text=True)


def test_the_switcher_never_writes_a_secret_of_the_address_into_the_page(client: FlaskClient) -> None:
    html = client.get("/admin/login?registration_token=s3cret-token&lt=launch-token&q=ethics").get_data(as_text=True)
    assert "s3cret-token" not in html and "launch-token" not in html
    assert 'href="/admin/login?q=ethics&amp;lang=es"' in html
